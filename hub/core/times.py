"""RFC 3339 times in and out: UTC, ``Z`` suffix, milliseconds."""

from __future__ import annotations

import datetime as _dt
import re
import time

from hub.core.errors import ValidationError

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})$"
)


def now_ms() -> int:
    """Wall clock now, in ms since the epoch."""
    return time.time_ns() // 1_000_000


def format_ms(ms: int | None) -> str | None:
    """``1700000000123`` -> ``"2023-11-14T22:13:20.123Z"``; None stays None."""
    if ms is None:
        return None
    dt = _dt.datetime.fromtimestamp(ms // 1000, _dt.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def parse_rfc3339(text: str, *, field: str = "time") -> int:
    """Parse an RFC 3339 date-time (with ``Z`` or an offset) into ms since the epoch.

    Dates without a time, basic formats and missing offsets are refused with a ValidationError about
    ``field``.
    """
    m = _RFC3339.match(text.strip())
    if not m:
        raise ValidationError(
            f"not an RFC 3339 time (like 2026-11-20T01:30:00Z): {text!r}", field=field, rule="format"
        )
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if tz in ("Z", "z"):
        tzinfo = _dt.UTC
    else:
        sign = 1 if tz[0] == "+" else -1
        tzinfo = _dt.timezone(sign * _dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        dt = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tzinfo)
    except ValueError as exc:
        raise ValidationError(f"not a valid time: {text!r} ({exc})", field=field, rule="format") from None
    ms = int((frac or ".0")[1:].ljust(3, "0")[:3])
    return int(dt.timestamp()) * 1000 + ms
