"""Where recordings live under the storage root, and what each segment file says about itself.

Layout (UTC, human-browsable, rebuildable): ``<root>/<camera-id>/<YYYY-MM-DD>/<HH>/<MM.SS.mmm>.mp4``.
Relative paths are always '/'-separated (they are stored in the index as they are). Folders whose
name starts with a dot (``.quarantine``) are not recordings.

Each segment file carries its own metadata in the MP4 ``comment`` tag, as JSON::

    {"porchlight": 1, "camera": "<id>", "start_ms": <int>, "stream_offset": <int>, "time_base": "1/90000"}

``stream_offset`` is the pts of the segment's first packet in the stream's time base, relative to the
first packet of the connection, so consecutive segments of one connection can be laid end to end.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".mp4"
SEGMENT_META_TAG = "comment"
META_VERSION = 1
DEFAULT_TIME_BASE = "1/90000"
CAMERA_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)  # use with fullmatch
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the layout has four year digits
_RELPATH_RE = re.compile(
    r"(?P<cam>[A-Za-z0-9][A-Za-z0-9_-]{0,63})/(?P<date>\d{4}-\d{2}-\d{2})/(?P<hour>\d{2})/"
    r"(?P<mm>\d{2})\.(?P<ss>\d{2})\.(?P<ms>\d{3})\.mp4",
    re.ASCII,
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_HOUR_RE = re.compile(r"\d{2}", re.ASCII)
_TIME_BASE_RE = re.compile(r"[1-9]\d{0,9}/[1-9]\d{0,9}", re.ASCII)


def is_valid_camera_id(camera_id: object) -> bool:
    """True when ``camera_id`` can name a folder on every OS (letters, digits, '-' and '_')."""
    return isinstance(camera_id, str) and CAMERA_ID_RE.fullmatch(camera_id) is not None


def segment_relpath(camera_id: str, start_ms: int) -> str:
    """``("door", 1700000000123)`` -> ``"door/2023-11-14/22/13.20.123.mp4"``."""
    if not is_valid_camera_id(camera_id):
        raise ValueError(f"not a valid camera id for a folder name: {camera_id!r}")
    if isinstance(start_ms, bool) or not isinstance(start_ms, int) or not 0 <= start_ms <= _MAX_MS:
        raise ValueError(f"segment start out of range: {start_ms!r}")
    t = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(milliseconds=start_ms)
    return (
        f"{camera_id}/{t.year:04d}-{t.month:02d}-{t.day:02d}/{t.hour:02d}/"
        f"{t.minute:02d}.{t.second:02d}.{start_ms % 1000:03d}{SEGMENT_SUFFIX}"
    )


def parse_segment_relpath(relpath: object) -> tuple[str, int] | None:
    """``"door/2023-11-14/22/13.20.123.mp4"`` -> ``("door", 1700000000123)``; anything else -> None."""
    if not isinstance(relpath, str):
        return None
    m = _RELPATH_RE.fullmatch(relpath)
    if m is None:
        return None
    try:
        day = _dt.date.fromisoformat(m["date"])
        t = _dt.datetime(
            day.year, day.month, day.day, int(m["hour"]), int(m["mm"]), int(m["ss"]), tzinfo=_dt.UTC
        )
    except ValueError:
        return None
    start_ms = (t - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)) // _dt.timedelta(milliseconds=1) + int(m["ms"])
    if not 0 <= start_ms <= _MAX_MS:
        return None
    return m["cam"], start_ms


def _subdirs(path: str, pattern: re.Pattern[str] | None) -> list[str]:
    """Names of real (not symlinked) subfolders matching ``pattern``, sorted; [] if it vanished."""
    try:
        with os.scandir(path) as it:
            names = [
                e.name
                for e in it
                if e.is_dir(follow_symlinks=False)
                and not e.name.startswith(".")
                and (pattern is None or pattern.fullmatch(e.name))
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []  # retention may remove an emptied folder while we walk
    return sorted(names)


def iter_segment_files(root: str | os.PathLike[str]) -> Iterator[str]:
    """Yield the relative path of every segment file under ``root``, per camera in time order.

    Only regular files whose path follows the layout are yielded; dot-folders (``.quarantine``) and
    symlinks are skipped. Raises FileNotFoundError when ``root`` itself is missing.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"storage folder not found: {root}")
    for cam in _subdirs(root, CAMERA_ID_RE):
        cam_dir = os.path.join(root, cam)
        for day in _subdirs(cam_dir, _DATE_RE):
            day_dir = os.path.join(cam_dir, day)
            for hour in _subdirs(day_dir, _HOUR_RE):
                hour_dir = os.path.join(day_dir, hour)
                try:
                    with os.scandir(hour_dir) as it:
                        files = sorted(e.name for e in it if e.is_file(follow_symlinks=False))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for name in files:
                    relpath = f"{cam}/{day}/{hour}/{name}"
                    if parse_segment_relpath(relpath) is not None:
                        yield relpath


def prune_empty_dirs(root: str | os.PathLike[str], relpath: str) -> int:
    """Remove the hour, day and camera folders of ``relpath`` that are now empty; return how many."""
    parts = relpath.split("/")[:-1]
    removed = 0
    while parts:
        folder = Path(root, *parts)
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone, or busy): stop climbing
            break
        removed += 1
        parts.pop()
    return removed


def _format_time_base(time_base: str | Fraction) -> str:
    """``Fraction(1, 90000)``, ``"1/90000"`` or ``"1"`` -> ``"1/90000"`` / ``"1/1"``; ValueError otherwise."""
    try:
        fraction = Fraction(time_base)
    except (ValueError, TypeError, ZeroDivisionError):
        raise ValueError(f"not a time base like 1/90000: {time_base!r}") from None
    text = f"{fraction.numerator}/{fraction.denominator}"
    if fraction <= 0 or not _TIME_BASE_RE.fullmatch(text):
        raise ValueError(f"not a time base like 1/90000: {time_base!r}")
    return text


def encode_segment_meta(
    camera: str, start_ms: int, stream_offset: int, time_base: str | Fraction = DEFAULT_TIME_BASE
) -> str:
    """The JSON text for a segment file's ``comment`` tag (``time_base`` of the video stream)."""
    if not is_valid_camera_id(camera):
        raise ValueError(f"not a valid camera id: {camera!r}")
    for name, value in (("start_ms", start_ms), ("stream_offset", stream_offset)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, not {value!r}")
    return json.dumps(
        {
            "porchlight": META_VERSION,
            "camera": camera,
            "start_ms": start_ms,
            "stream_offset": stream_offset,
            "time_base": _format_time_base(time_base),
        },
        separators=(",", ":"),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_segment_meta(text: str | None) -> dict[str, Any] | None:
    """Parse a ``comment`` tag written by ``encode_segment_meta``; None for anything else.

    Unknown extra keys are kept (a later version may add some); another format version gives None.
    """
    if not text or not isinstance(text, str):
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return None
    if (
        not isinstance(meta, dict)
        or meta.get("porchlight") != META_VERSION
        or not _is_int(meta["porchlight"])
    ):
        return None
    if not (
        is_valid_camera_id(meta.get("camera"))
        and _is_int(meta.get("start_ms"))
        and _is_int(meta.get("stream_offset"))
        and isinstance(meta.get("time_base"), str)
        and _TIME_BASE_RE.fullmatch(meta["time_base"])
    ):
        logger.debug("segment metadata with missing or bad fields: %s", text[:200])
        return None
    return meta
