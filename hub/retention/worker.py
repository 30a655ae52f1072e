"""Apply the retention policy periodically, and at once when space runs low.

Runs on thread ``porchlight-retention``. Files are deleted before their index rows: a crash in
between leaves rows without files (removed at the next start), never files without rows (which
the startup scan would index again, resurrecting footage the owner's policy deleted).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from hub.bus import EventBus, RetentionRan
from hub.db import repo_media
from hub.db.writer import DbWriter
from hub.model import CameraConfig
from hub.retention.policy import DiskState, RetentionPlan, from_settings, plan_retention
from hub.settings import Settings
from hub.storage_manager import StorageManager
from hub.timefmt import now_ms

logger = logging.getLogger(__name__)


class RetentionWorker:
    """Periodic and on-demand retention."""

    def __init__(self, engine: Engine, writer: DbWriter, storage: StorageManager, bus: EventBus,
                 settings: Callable[[], Settings], cameras: Callable[[], list[CameraConfig]]) -> None:
        self.engine = engine
        self.writer = writer
        self.storage = storage
        self.bus = bus
        self._settings = settings
        self._cameras = cameras
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="porchlight-retention", daemon=True)
        self.runs = 0
        self.last_plan: RetentionPlan | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def trigger(self) -> None:
        """Run as soon as possible (e.g. free space fell under the threshold)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - keep the worker alive
                logger.exception("retention run failed")
            self._wake.wait(self._settings().retention_interval_s)
            self._wake.clear()

    def run_once(self, now: int | None = None) -> RetentionPlan | None:
        """Plan and apply one retention pass; None when the storage folder is not usable."""
        state, message = self.storage.state(force=True)
        if state != "ok":
            logger.info("retention skipped: %s", message)
            return None
        settings = self._settings()
        self.writer.flush(30)  # see the segments closed so far
        segments = repo_media.all_segments(self.engine)
        events = repo_media.list_events(self.engine)
        rsettings, cams = from_settings(settings, self._cameras())
        free, total = self.storage.disk()
        plan = plan_retention(segments, events, cams, rsettings, DiskState(free, total), now or now_ms())
        self.runs += 1
        self.last_plan = plan
        if plan.deletions:
            self._apply(plan)
        return plan

    def _apply(self, plan: RetentionPlan) -> None:
        root = self.storage.root
        if not self.storage.ok():  # the disk went away between planning and applying
            return
        ids = []
        dirs: set[Path] = set()
        for d in plan.deletions:
            path = root / d.path
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError:
                logger.warning("could not delete %s; keeping its index row", d.path, exc_info=True)
                continue
            ids.append(d.segment_id)
            dirs.add(path.parent)
        self.writer.submit(lambda s: repo_media.delete_segments(s, ids)).result(60)
        for directory in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            _prune_empty(directory, root)
        reasons: dict[str, int] = {}
        for d in plan.deletions:
            reasons[d.reason] = reasons.get(d.reason, 0) + 1
        logger.info("retention deleted %d segments (%s), freed %d bytes%s", len(ids), reasons,
                    plan.bytes_freed, " [low space]" if plan.emergency else "")
        self.bus.publish(RetentionRan(len(ids), plan.bytes_freed, plan.emergency))


def _prune_empty(directory: Path, root: Path) -> None:
    """Remove empty hour/date/camera folders up to (not including) the storage root."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
