"""Between the hub's own data types (hub.core.model, settings) and the API's (hub.api.types).

The API's types are the wire schema, versioned on their own; the hub's may change freely behind
them. Both sides name their fields alike, so one strict msgspec conversion each way does the work:
a field that no longer matches fails loudly here (and in tests/test_api_types.py), never silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args

import msgspec

from hub import devices
from hub.api import types as api
from hub.api.types import Role
from hub.config.hub_settings import StorageReport
from hub.core import model
from hub.core import settings as hub_settings
from hub.core.secrets import Credentials
from hub.core.times import parse_rfc3339
from hub.devices import StreamInfo
from hub.media.export import ExportReport, ExportStep

S = TypeVar("S", bound=msgspec.Struct)
PROTECT_REASONS: tuple[str, ...] = get_args(model.ProtectReason)
D = TypeVar("D")


def to_api(obj: Any, kind: type[S], **shown: object) -> S:
    """A hub object (a dataclass or a stored row with the same attribute names) as the API type
    ``kind``; ``shown`` gives the fields only the API has, or shows differently (a name beside an
    id, an absolute path)."""
    if not shown:
        return msgspec.convert(obj, kind, from_attributes=True)
    fields = {
        name: getattr(obj, name)
        for name in kind.__struct_fields__
        if name not in shown and hasattr(obj, name)
    }
    return msgspec.convert({**fields, **shown}, kind)


def to_model(value: msgspec.Struct, kind: type[D]) -> D:
    """An API value as the hub's dataclass ``kind``."""
    return msgspec.convert(msgspec.to_builtins(value), kind)


def camera(cfg: model.CameraConfig) -> api.Camera:
    """A stored camera as the API shows it."""
    return to_api(cfg, api.Camera)


def camera_status(st: model.CameraStatus, name: str, watched: tuple[str, ...] = ()) -> api.CameraStatus:
    """A camera's live state, with its name (and the streams someone watches live)."""
    return api.CameraStatus(
        camera_id=st.camera_id,
        name=name,
        state=st.state,
        since_ms=st.since_ms,
        last_error=st.last_error,
        updated_ms=st.updated_ms,
        stats=dict(st.stats),
        watched=watched,  # type: ignore[arg-type]
    )


def settings(s: hub_settings.Settings) -> api.Settings:
    """The hub settings as the API shows them."""
    return to_api(s, api.Settings)


def storage(report: StorageReport) -> api.StorageInfo:
    """The recordings folder's report as the API shows it."""
    return to_api(report, api.StorageInfo)


def new_camera(new: api.NewCamera) -> model.CameraConfig:
    """The camera to store for a request (``events``/``doorbell`` left None are completed from the
    device: see hub.config.cameras.from_device)."""
    fields = msgspec.structs.asdict(new)  # every field: a request leaves its defaults out on the wire
    fields.update(
        id="",
        motion=msgspec.to_builtins(new.motion),
        events=new.events or "local",
        doorbell=bool(new.doorbell),
    )
    return msgspec.convert(fields, model.CameraConfig)


def changes(change: msgspec.Struct) -> dict[str, Any]:
    """The fields of a change request that are set (not UNSET), as plain values."""
    return {
        f.name: getattr(change, f.name)
        for f in msgspec.structs.fields(change)
        if getattr(change, f.name) is not msgspec.UNSET
    }


def camera_changes(cfg: model.CameraConfig, change: api.CameraChange) -> dict[str, Any]:
    """A CameraChange as CameraConfig field changes (a motion change applied onto the camera's)."""
    out = changes(change)
    motion = out.pop("motion", None)
    if motion is not None:
        fields = changes(motion)
        if "zones" in fields:
            fields["zones"] = tuple(to_model(z, model.Zone) for z in fields["zones"])
        out["motion"] = dataclasses.replace(cfg.motion, **fields)
    return out


def credentials(creds: api.Credentials | None) -> Credentials | None:
    """Credentials for the keyring (the one place a Secret is revealed)."""
    return None if creds is None else Credentials(creds.username, creds.password.reveal())


def holder(info: Mapping[str, Any] | None) -> api.HubInfo:
    """The hub lock's holder (pid, start time) as the API shows it."""
    if info is None:
        return api.HubInfo(running=False)
    pid = info.get("pid")
    started = info.get("started")
    started_ms = None
    if isinstance(started, str):
        try:
            started_ms = parse_rfc3339(started, field="started")
        except ValueError:  # a lock file written by hand, or torn
            started_ms = None
    return api.HubInfo(running=True, pid=pid if isinstance(pid, int) else None, started_ms=started_ms)


# --- recordings, events, exports -------------------------------------------------------------------


def recording(
    seg: model.Segment, name: str, root: Path, protections: Sequence[model.Protection] = ()
) -> api.Recording:
    """A stored segment, with its camera's name, its file's absolute path and the reasons of the
    ``protections`` (of any camera and window) that cover it."""
    reasons = {
        p.reason
        for p in protections
        if p.camera_id == seg.camera_id and p.start_ms < seg.end_ms and p.end_ms > seg.start_ms
    }
    kept_for = tuple(r for r in PROTECT_REASONS if r in reasons)
    return to_api(
        seg,
        api.Recording,
        camera=name,
        path=str(root / seg.path),
        protected=bool(kept_for),
        kept_for=kept_for,
    )


def protection(p: model.Protection, name: str) -> api.Protection:
    """A stored protection, with its camera's name."""
    return to_api(p, api.Protection, camera=name)


def event(ev: model.Event, name: str, data_root: Path) -> api.Event:
    """A stored event, with its camera's name and its thumbnail's absolute path."""
    thumbnail = str(data_root / ev.thumbnail) if ev.thumbnail else None
    return to_api(ev, api.Event, camera=name, thumbnail=thumbnail)


def export_progress(step: ExportStep) -> api.ExportProgress:
    """An export's progress as the API shows it."""
    return to_api(step, api.ExportProgress)


def export_result(report: ExportReport) -> api.ExportResult:
    """What an export wrote."""
    gaps = tuple(api.Gap(start_ms=a, end_ms=b) for a, b in report.gaps)
    return to_api(report, api.ExportResult, path=str(report.path), gaps=gaps)


# --- devices ---------------------------------------------------------------------------------------


def device(found: devices.DiscoveredDevice) -> api.Device:
    """A discovered device as the API shows it."""
    return to_api(found, api.Device)


def probe(record: devices.ProbeResult, detect: devices.ProbeResult | None) -> api.Probe:
    """What a device offers: its profiles (with their roles), or the streams of its record URL and,
    when asked, of its detect URL."""
    streams: list[tuple[StreamInfo, Role]] = [(s, "record") for s in record.streams]
    streams += [(s, "detect") for s in (detect.streams if detect else ())]
    return api.Probe(
        manufacturer=record.manufacturer,
        model=record.model,
        firmware=record.firmware,
        address=record.address,
        clock_offset_s=record.clock_offset_s,
        events_supported=record.events,
        doorbell=record.doorbell,
        event_topics=tuple(record.event_topics),
        warnings=tuple(record.warnings),
        profiles=tuple(
            api.ProbeProfile(
                token=p.token,
                name=p.name,
                codec=p.encoding,
                width=p.width,
                height=p.height,
                fps=p.fps,
                bitrate_kbps=p.bitrate_kbps,
                url=p.stream_uri,
                snapshot_url=p.snapshot_uri,
                role=record.role_of(p.token),
            )
            for p in record.profiles
        ),
        streams=tuple(
            api.ProbeStream(
                url=s.url,
                codec=s.codec,
                width=s.width,
                height=s.height,
                fps=s.fps,
                audio_codec=s.audio_codec,
                role=role,
            )
            for s, role in streams
        ),
        settings=msgspec.to_builtins(dict(record.settings)),
    )
