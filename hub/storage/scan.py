"""Compare the index with the files on disk, index stray files, and set damaged ones aside.

Run these only when ``check_storage`` says "ok": with the disk unmounted every row would look like a
row without a file, and purging them would empty the index.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from hub.core.model import Segment
from hub.core.times import format_ms, now_ms
from hub.storage.layout import parse_segment_relpath
from hub.storage.probe import SegmentFileInfo, probe_segment_file

logger = logging.getLogger(__name__)

QUARANTINE_DIR = ".quarantine"
REASON_SUFFIX = ".reason.txt"


@dataclasses.dataclass(frozen=True)
class ReconcilePlan:
    """What differs between the index and the disk, both lists sorted."""

    files_without_rows: list[str]  # relpaths to probe and index (or quarantine)
    rows_without_files: list[int]  # segment ids whose file is gone

    @property
    def clean(self) -> bool:
        """True when the index and the disk agree."""
        return not self.files_without_rows and not self.rows_without_files


def reconcile(db_segments: Sequence[Segment], files_on_disk: set[str]) -> ReconcilePlan:
    """Pure: files with no segment row, and ids of rows whose file is not on disk."""
    indexed = {s.path for s in db_segments}
    missing = sorted({s.id for s in db_segments if s.id is not None and s.path not in files_on_disk})
    return ReconcilePlan(sorted(files_on_disk - indexed), missing)


def index_segment_file(
    root: str | os.PathLike[str], relpath: str, *, repair: bool = False
) -> tuple[Segment | None, SegmentFileInfo]:
    """Probe one file found on disk; a Segment (id None) for the index when it is playable.

    Camera and start come from the path (the name is authoritative); the end from the frames' duration.
    With ``repair``, a torn but playable file is trimmed to its complete fragments (dropping at most
    about a second) so that every player opens it. Repair only files no writer has open: at startup,
    before recording begins (the segment being written has no row yet either).
    """
    parsed = parse_segment_relpath(relpath)
    if parsed is None:
        return None, SegmentFileInfo(False, error="the file name does not follow the recordings layout")
    camera_id, start_ms = parsed
    full = Path(root, *relpath.split("/"))
    info = probe_segment_file(full)
    if repair and info.playable and info.torn and info.intact_bytes > 0:
        logger.warning(
            "trimming the cut-off end of %s (%s -> %s bytes)", relpath, _size(full), info.intact_bytes
        )
        os.truncate(full, info.intact_bytes)
        info = probe_segment_file(full)
    if not info.playable:
        return None, info
    if info.meta is not None and (info.meta["camera"], info.meta["start_ms"]) != (camera_id, start_ms):
        logger.warning(
            "segment %s says it is %s at %s; trusting its path",
            relpath,
            info.meta["camera"],
            info.meta["start_ms"],
        )
    size = _size(full)
    if size is None:
        return None, dataclasses.replace(info, playable=False, error="the file disappeared")
    segment = Segment(
        id=None,
        camera_id=camera_id,
        path=relpath,
        start_ms=start_ms,
        end_ms=start_ms + info.duration_ms,
        bytes=size,
        frames=info.frames,
        has_audio=info.has_audio,
    )
    return segment, info


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _checked_parts(relpath: str) -> list[str]:
    parts = relpath.split("/")
    if (
        not relpath
        or "\\" in relpath
        or os.path.isabs(relpath)
        or parts[0].startswith(".")
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(f"not a path inside the recordings folder: {relpath!r}")
    return parts


def quarantine(root: str | os.PathLike[str], relpath: str, reason: str) -> str:
    """Move ``<root>/<relpath>`` to ``<root>/.quarantine/<relpath>`` with a ``.reason.txt`` beside it.

    Returns the new path relative to ``root``. An earlier quarantined file of the same name is kept:
    the new one gets a ``~N`` suffix.
    """
    parts = _checked_parts(relpath)
    source = Path(root, *parts)
    dest = Path(root, QUARANTINE_DIR, *parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    while dest.exists() or dest.with_name(dest.name + REASON_SUFFIX).exists():
        n += 1
        dest = dest.with_name(f"{Path(parts[-1]).stem}~{n}{Path(parts[-1]).suffix}")
    shutil.move(source, dest)
    note = dest.with_name(dest.name + REASON_SUFFIX)
    note.write_text(
        f"Set aside by Porchlight at {format_ms(now_ms())}\nOriginal location: {relpath}\nReason: {reason}\n",
        encoding="utf-8",
    )
    moved = "/".join(dest.relative_to(root).parts)
    logger.warning("quarantined %s: %s", relpath, reason)
    return moved
