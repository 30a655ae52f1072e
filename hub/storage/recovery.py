"""Startup reconciliation of the index with the files (after a crash, a power cut, a restore).

Files without rows are probed: playable ones (a fragmented MP4 torn by a kill plays up to its
last complete fragment) are indexed again; unplayable ones are quarantined, never half-indexed.
Rows without files are removed, but only when the storage folder is really there.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from sqlalchemy.engine import Engine

from hub.core.model import Segment
from hub.db import repo_config, repo_media
from hub.db.tx import run_write
from hub.storage.layout import iter_segment_files, parse_segment_relpath
from hub.storage.scan import index_segment_file, quarantine, reconcile

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class RecoveryReport:
    """What the startup scan did."""

    indexed: list[str] = dataclasses.field(default_factory=list)
    quarantined: list[str] = dataclasses.field(default_factory=list)
    rows_removed: int = 0
    events_closed: int = 0


def recover(engine: Engine, root: Path, *, storage_ok: bool) -> RecoveryReport:
    """Reconcile index and files; close events a crash left open. Run before recording starts."""
    report = RecoveryReport()
    if not storage_ok:
        report.events_closed = run_write(engine, repo_media.close_open_events)
        logger.warning("storage folder unavailable: startup scan skipped, nothing purged from the index")
        return report
    known = {c.id for c in repo_config.list_cameras(engine, include_removed=True)}
    rows = repo_media.all_segments(engine)
    plan = reconcile(rows, set(iter_segment_files(root)))
    new_rows: list[Segment] = []
    for relpath in plan.files_without_rows:
        parsed = parse_segment_relpath(relpath)
        if parsed is None or parsed[0] not in known:
            continue  # not ours to judge (another tool's file, or a camera this index never had)
        # Repair is safe here: recording has not started, so no writer has a file open.
        seg, info = index_segment_file(root, relpath, repair=True)
        if seg is None:
            quarantine(root, relpath, info.error or "not playable")
            report.quarantined.append(relpath)
            continue
        # Detection state is unknown for a recovered file: keep it as if it held an event.
        new_rows.append(dataclasses.replace(seg, unobserved=True))
        report.indexed.append(relpath)
    if new_rows:
        run_write(engine, lambda s: [repo_media.insert_segment(s, seg) for seg in new_rows])
    if plan.rows_without_files:
        ids = list(plan.rows_without_files)
        run_write(engine, repo_media.delete_segments, ids)
        report.rows_removed = len(ids)
    # After the files are indexed again: an event left open by a crash ends with the footage
    # recorded until the crash (close_open_events ends it at the camera's last segment).
    report.events_closed = run_write(engine, repo_media.close_open_events)
    if report.indexed or report.quarantined or report.rows_removed or report.events_closed:
        logger.info(
            "startup scan: %d files indexed, %d quarantined, %d stale rows removed, %d open events closed",
            len(report.indexed),
            len(report.quarantined),
            report.rows_removed,
            report.events_closed,
        )
    return report
