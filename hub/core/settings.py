"""Typed hub settings. Titles, descriptions and bounds here also drive the settings dialog.

Stored in the ``setting`` table (one JSON value per key) so that a ``porchlight storage set`` run
from another process reaches a running hub. Unknown keys are errors, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from hub.core.errors import ValidationError

GiB = 1024**3


def _meta(
    title: str,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str = "",
) -> dict[str, Any]:
    return {"title": title, "description": description, "min": minimum, "max": maximum, "unit": unit}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Hub-wide settings."""

    storage_path: str | None = dataclasses.field(
        default=None,
        metadata=_meta(
            "Storage folder", "Where recordings are written. Default: 'recordings' in the data folder."
        ),
    )
    quota_bytes: int | None = dataclasses.field(
        default=None,
        metadata=_meta(
            "Disk quota",
            "Recordings never use more than this; the oldest unprotected go first. "
            "Empty: no quota (free-space protection still applies).",
            minimum=64 * 1024**2,
            unit="bytes",
        ),
    )
    max_age_days: float | None = dataclasses.field(
        default=30.0,
        metadata=_meta(
            "Keep recordings for",
            "Recordings older than this are deleted unless protected. A camera may override it.",
            minimum=0.01,
            maximum=3650,
            unit="days",
        ),
    )
    min_free_bytes: int = dataclasses.field(
        default=2 * GiB,
        metadata=_meta(
            "Keep free on disk",
            "When free space falls under this, the oldest unprotected recordings "
            "are deleted at once so that recording never stops.",
            minimum=1024**2,
            unit="bytes",
        ),
    )
    motion_grace_s: float = dataclasses.field(
        default=60.0,
        metadata=_meta(
            "Motion-mode grace time",
            "In motion mode, footage without motion is deleted after this "
            "long (it must wait in case an event needs it as pre-roll).",
            minimum=5,
            maximum=3600,
            unit="s",
        ),
    )
    retention_interval_s: float = dataclasses.field(
        default=60.0,
        metadata=_meta(
            "Retention check interval", "How often retention runs.", minimum=1, maximum=3600, unit="s"
        ),
    )
    segment_seconds: float = dataclasses.field(
        default=10.0,
        metadata=_meta(
            "Segment length",
            "Recordings are cut into files of about this length, at keyframes.",
            minimum=2,
            maximum=300,
            unit="s",
        ),
    )

    home_lat: float | None = dataclasses.field(
        default=None,
        metadata=_meta(
            "Home latitude",
            "Where the cameras are, to match agency requests' areas. Kept on this machine: never sent, "
            "never looked up, not logged. Empty: requests' areas are not checked.",
            minimum=-90,
            maximum=90,
            unit="°",
        ),
    )
    home_lon: float | None = dataclasses.field(
        default=None,
        metadata=_meta(
            "Home longitude",
            "Set with the latitude (both or neither).",
            minimum=-180,
            maximum=180,
            unit="°",
        ),
    )

    hold_requests: bool = dataclasses.field(
        default=True,
        metadata=_meta(
            "Hold footage for requests",
            "While an agency request is under review, keep the footage it matches from retention, until "
            "you decide or it expires. Only for verified requests in force whose area is not known to "
            "be elsewhere and that your rules do not hide.",
        ),
    )
    hold_cap_percent: float = dataclasses.field(
        default=20.0,
        metadata=_meta(
            "Held footage, at most",
            "Footage held for requests never takes more than this share of the disk quota (of the "
            "disk, with no quota). When the disk fills, holds are released first, the oldest first.",
            minimum=1,
            maximum=50,
            unit="%",
        ),
    )

    def validate(self) -> Settings:
        """Raise a ValidationError about the first field whose value is out of bounds (or not a
        number: NaN compares with nothing); return self.

        Its message names the setting by its title, as the settings dialog shows it."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if value is None or isinstance(value, str):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationError(
                    f"{f.metadata['title']} must be a finite number, not {value}", field=f.name, rule="format"
                )
            if lo is not None and value < lo:
                raise ValidationError(
                    f"{f.metadata['title']} must be at least {lo} {f.metadata['unit']}".strip(),
                    field=f.name,
                    rule="min",
                )
            if hi is not None and value > hi:
                raise ValidationError(
                    f"{f.metadata['title']} must be at most {hi} {f.metadata['unit']}".strip(),
                    field=f.name,
                    rule="max",
                )
        if (self.home_lat is None) != (self.home_lon is None):
            raise ValidationError(
                "the home location is a latitude and a longitude: set both, or clear both",
                field="home_lon" if self.home_lon is None else "home_lat",
                rule="required",
            )
        return self

    def to_rows(self) -> dict[str, str]:
        """Key -> JSON text, for the setting table."""
        return {f.name: json.dumps(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_rows(cls, rows: dict[str, str]) -> Settings:
        """Build from setting rows; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(rows) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) in the index: {', '.join(unknown)}")
        return cls(**{k: json.loads(v) for k, v in rows.items()}).validate()


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str, *, field: str = "size") -> int:
    """``"500M"``, ``"20GiB"``, ``"1.5T"``, ``"1048576"`` -> bytes (binary multiples); text that is not a
    size raises a ValidationError about ``field``."""
    m = _SIZE.match(text)
    if not m:
        raise ValidationError(f"not a size (like 500M or 20G): {text!r}", field=field, rule="format")
    number, unit = float(m.group(1)), m.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


def format_size(n: int | None) -> str:
    """Bytes -> a short human string (``1.5 GiB``)."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
