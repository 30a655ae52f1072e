"""What may be stored as a camera's configuration: the checks every way in shares (the CLI, the app,
the Hub API), each refusal a ValidationError that names the field and the rule.

Fields are named as the data types spell them; a field inside another is dotted, and a list item has
its index: ``motion.sensitivity``, ``motion.zones[2].polygon``. Whether a camera's name is already
taken needs the index, so :mod:`hub.db.repo_config` checks that.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import NoReturn, get_args

from drivers import registry
from drivers.scrub import has_credentials
from hub.core.errors import Rule, ValidationError
from hub.core.model import MODES, AudioPolicy, CameraConfig, EventSource, MotionSettings, Zone

NAME_MAX = 200
DRIVER_MAX = 32
ZONES_MAX = 64  # zones and masks of one camera together
POLYGON_MAX = 256  # vertices of one polygon
_CAMERA_FIELDS = frozenset(f.name for f in dataclasses.fields(CameraConfig))

#: MotionSettings' numbers: field -> (lowest, highest, whether the lowest itself is allowed).
_MOTION_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "sensitivity": (1, 100, True),
    "min_area": (0, 1, False),
    "analysis_fps": (0, 60, False),
    "analysis_width": (16, 3840, True),
    "min_frames": (1, 1000, True),
    "gap_s": (0, 3600, True),
    "max_event_s": (0, 86_400, False),
}


def validate_camera(cfg: CameraConfig) -> None:
    """Raise a ValidationError about the first field of ``cfg`` that may not be stored."""
    if not cfg.name:
        _refuse("name", "required", "a camera needs a name")
    if len(cfg.name) > NAME_MAX:
        _refuse("name", "too_long", f"a camera name has at most {NAME_MAX} characters")
    if not cfg.driver or len(cfg.driver) > DRIVER_MAX:
        rule: Rule = "required" if not cfg.driver else "too_long"
        _refuse("driver", rule, f"a camera needs a driver name (at most {DRIVER_MAX} characters)")
    for field, value, choices in (
        ("driver", cfg.driver, registry.KINDS),
        ("mode", cfg.mode, MODES),
        ("audio", cfg.audio, get_args(AudioPolicy)),
        ("events", cfg.events, get_args(EventSource)),
    ):
        if value not in choices:
            _refuse(field, "one_of", f"{field} must be {_one_of(choices)}")
    if not isinstance(cfg.device, dict):
        _refuse("device", "type", "device must be a dict of driver settings")
    for field in ("pre_roll_s", "post_roll_s"):
        if not getattr(cfg, field) >= 0:
            _refuse(field, "min", "pre-roll and post-roll cannot be negative")
    if cfg.max_age_days is not None and not cfg.max_age_days > 0:
        _refuse("max_age_days", "min", "max_age_days must be positive (or None for the global setting)")
    if not isinstance(cfg.motion, MotionSettings):
        _refuse("motion", "type", "motion must be a MotionSettings")
    validate_motion(cfg.motion)
    for field in ("url", "sub_url"):
        url = getattr(cfg, field)
        if url is not None and has_credentials(url):
            # never echo the URL: it carries a secret
            _refuse(
                field, "no_credentials", f"{field} must not contain credentials (they belong in the keyring)"
            )


def validate_motion(motion: MotionSettings, field: str = "motion") -> None:
    """Raise a ValidationError about the first setting of the motion detector out of its bounds."""
    for name, (lo, hi, lo_allowed) in _MOTION_BOUNDS.items():
        value = getattr(motion, name)
        where = f"{field}.{name}"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            _refuse(where, "type", f"{where} must be a number")
        if value < lo or (value == lo and not lo_allowed):
            _refuse(where, "min", f"{where} must be {'at least' if lo_allowed else 'above'} {lo:g}")
        if value > hi:
            _refuse(where, "max", f"{where} must be at most {hi:g}")
    if len(motion.zones) > ZONES_MAX:
        _refuse(f"{field}.zones", "max", f"a camera has at most {ZONES_MAX} zones and masks")
    for i, zone in enumerate(motion.zones):
        _validate_zone(zone, f"{field}.zones[{i}]")


def _validate_zone(zone: Zone, where: str) -> None:
    if not isinstance(zone, Zone):
        _refuse(where, "type", f"{where} must be a Zone")
    if not zone.name.strip():
        _refuse(f"{where}.name", "required", "a zone needs a name")
    if len(zone.name) > NAME_MAX:
        _refuse(f"{where}.name", "too_long", f"a zone name has at most {NAME_MAX} characters")
    if zone.kind not in ("zone", "mask"):
        _refuse(f"{where}.kind", "one_of", "a zone's kind must be 'zone' or 'mask'")
    points = zone.polygon
    if not 3 <= len(points) <= POLYGON_MAX:
        rule: Rule = "min" if len(points) < 3 else "max"
        _refuse(f"{where}.polygon", rule, f"a polygon has 3 to {POLYGON_MAX} points")
    for point in points:
        if not (len(point) == 2 and all(_unit(v) for v in point)):
            _refuse(f"{where}.polygon", "format", "a polygon's points are [x, y] pairs between 0 and 1")


def with_field_changes(cfg: CameraConfig, changes: dict[str, object]) -> CameraConfig:
    """``cfg`` with ``changes`` (named as CameraConfig's fields) applied; unknown fields and a changed
    id are refused."""
    unknown = sorted(set(changes) - _CAMERA_FIELDS)
    if unknown:
        _refuse(unknown[0], "unknown", f"unknown camera field(s): {', '.join(unknown)}")
    if "id" in changes and changes["id"] != cfg.id:
        _refuse("id", "immutable", "a camera's id never changes")
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def check_one_of(value: str, choices: Sequence[str], *, field: str, noun: str, nouns: str) -> None:
    """A ValidationError (rule ``one_of``) naming ``field`` and the choices, unless ``value`` is one."""
    if value not in choices:
        _refuse(field, "one_of", f"unknown {noun} {value!r} ({nouns}: {', '.join(choices)})")


def check_window(start_ms: int | None, end_ms: int | None) -> None:
    """A ValidationError (``end_ms``, rule ``min``) for a time window that does not end after it
    starts; either end may be open (None)."""
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        _refuse("end_ms", "min", "the window must end after it starts")


def _refuse(field: str, rule: Rule, message: str) -> NoReturn:
    raise ValidationError(message, field=field, rule=rule)


def _unit(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _one_of(choices: Iterable[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
