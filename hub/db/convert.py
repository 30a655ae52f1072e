"""Rows <-> the plain dataclasses of hub/core/model.py, including the JSON columns.

ORM rows never leave a session: repo functions convert them here before returning. JSON written by
this module is canonical (sorted keys) and decoding is strict: an unknown key is an error (it would
mean a newer Porchlight wrote the row), a missing key takes the dataclass default.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from hub.core.model import CameraConfig, CameraStatus, Event, MotionSettings, Protection, Segment, Zone
from hub.db.schema import CameraRow, CameraStatusRow, EventRow, ProtectionRow

logger = logging.getLogger(__name__)

_MOTION_FIELDS = {f.name for f in dataclasses.fields(MotionSettings)}
_ZONE_FIELDS = {f.name for f in dataclasses.fields(Zone)}


def motion_to_json(motion: MotionSettings) -> str:
    """MotionSettings (zones included) -> canonical JSON text."""
    return json.dumps(dataclasses.asdict(motion), sort_keys=True)


def motion_from_json(text: str | None) -> MotionSettings:
    """JSON text -> MotionSettings with tuples for zones and polygons; unknown keys raise ValueError."""
    data = json.loads(text or "{}")
    if not isinstance(data, dict):
        raise ValueError("motion settings must be a JSON object")
    unknown = sorted(set(data) - _MOTION_FIELDS)
    if unknown:
        raise ValueError(f"unknown motion setting(s): {', '.join(unknown)}")
    zones = tuple(_zone_from_dict(z) for z in data.pop("zones", []))
    return MotionSettings(**data, zones=zones)


def _zone_from_dict(data: dict[str, Any]) -> Zone:
    unknown = sorted(set(data) - _ZONE_FIELDS)
    if unknown:
        raise ValueError(f"unknown zone field(s): {', '.join(unknown)}")
    polygon = tuple((float(x), float(y)) for x, y in data["polygon"])
    return Zone(name=str(data["name"]), polygon=polygon, kind=data.get("kind", "zone"))


def zones_to_json(zones: tuple[str, ...] | list[str]) -> str:
    """Zone names -> JSON list."""
    return json.dumps(list(zones))


def zones_from_json(text: str | None) -> tuple[str, ...]:
    """JSON list -> tuple of zone names."""
    return tuple(str(z) for z in json.loads(text or "[]"))


def seconds_to_ms(seconds: float) -> int:
    """Seconds (float) -> whole milliseconds, rounded."""
    return int(round(seconds * 1000))


def camera_values(cfg: CameraConfig) -> dict[str, Any]:
    """The camera row's columns for ``cfg`` (without id and the timestamps)."""
    return {
        "name": cfg.name,
        "driver": cfg.driver,
        "url": cfg.url,
        "sub_url": cfg.sub_url,
        "mode": cfg.mode,
        "pre_roll_ms": seconds_to_ms(cfg.pre_roll_s),
        "post_roll_ms": seconds_to_ms(cfg.post_roll_s),
        "enabled": bool(cfg.enabled),
        "audio": cfg.audio,
        "detect": bool(cfg.detect),
        "max_age_days": cfg.max_age_days,
        "motion_json": motion_to_json(cfg.motion),
        "has_credentials": bool(cfg.has_credentials),
        "events": cfg.events,
        "doorbell": bool(cfg.doorbell),
        "device_json": json.dumps(cfg.device, sort_keys=True),
    }


def camera_from_row(row: CameraRow) -> CameraConfig:
    """Camera row -> CameraConfig."""
    return CameraConfig(
        id=row.id,
        name=row.name,
        driver=row.driver,
        url=row.url,
        sub_url=row.sub_url,
        mode=row.mode,  # type: ignore[arg-type]
        pre_roll_s=row.pre_roll_ms / 1000.0,
        post_roll_s=row.post_roll_ms / 1000.0,
        enabled=bool(row.enabled),
        audio=row.audio,  # type: ignore[arg-type]
        detect=bool(row.detect),
        max_age_days=row.max_age_days,
        motion=motion_from_json(row.motion_json),
        has_credentials=bool(row.has_credentials),
        events=row.events,  # type: ignore[arg-type]
        doorbell=bool(row.doorbell),
        device=json.loads(row.device_json or "{}"),
    )


def segment_values(seg: Segment) -> dict[str, Any]:
    """The segment row's columns for ``seg`` (without id)."""
    return {
        "camera_id": seg.camera_id,
        "path": seg.path,
        "start_ms": int(seg.start_ms),
        "end_ms": int(seg.end_ms),
        "bytes": int(seg.bytes),
        "frames": int(seg.frames),
        "has_audio": bool(seg.has_audio),
        "unobserved": bool(seg.unobserved),
    }


def event_from_row(row: EventRow) -> Event:
    """Event row -> Event."""
    return Event(
        id=row.id,
        camera_id=row.camera_id,
        kind=row.kind,  # type: ignore[arg-type]
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        score=float(row.score),
        zones=zones_from_json(row.zones_json),
        thumbnail=row.thumbnail,
        source=row.source,
        detected_ms=row.detected_ms,
    )


def protection_from_row(row: ProtectionRow) -> Protection:
    """Protection row -> Protection."""
    return Protection(
        id=row.id,
        camera_id=row.camera_id,
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        reason=row.reason,  # type: ignore[arg-type]
        note=row.note,
        created_ms=row.created_ms,
        request_seq=row.request_seq,
    )


def status_from_row(row: CameraStatusRow) -> CameraStatus:
    """Status row -> CameraStatus (stats decoded to a dict)."""
    return CameraStatus(
        camera_id=row.camera_id,
        state=row.state,  # type: ignore[arg-type]
        since_ms=row.since_ms,
        last_error=row.last_error,
        updated_ms=row.updated_ms,
        stats=json.loads(row.stats_json or "{}"),
    )
