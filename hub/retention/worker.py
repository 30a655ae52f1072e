"""Apply the retention policy periodically, and at once when space runs low.

Runs on thread ``porchlight-retention``. Each pass first releases the holds of agency requests that
ended (:func:`hub.community.holds.sweep`); when the disk is full and deleting every unprotected
recording is not enough, it releases holds, the oldest first, and plans again (each logged in the
audit log, with a warning and a notice). Files are deleted before their index rows: a crash in
between leaves rows without files (removed at the next start), never files without rows (which
the startup scan would index again, resurrecting footage the owner's policy deleted).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from hub.community import holds
from hub.core.bus import EventBus, ProtectionChanged, RetentionRan
from hub.core.model import CameraConfig, Event, Protection, Segment
from hub.core.settings import Settings
from hub.core.times import now_ms
from hub.db import repo_media
from hub.db.tx import run_write
from hub.db.writer import DbWriter
from hub.retention.policy import (
    CameraRetention,
    DiskState,
    RetentionPlan,
    RetentionSettings,
    from_settings,
    plan_retention,
)
from hub.storage.manager import StorageManager

logger = logging.getLogger(__name__)


def _stored_id(seg: Segment) -> int:
    """The index id of a segment read from the index (only a segment not yet stored has none)."""
    if seg.id is None:
        raise ValueError(f"segment {seg.path} was not read from the index")
    return seg.id


CANDIDATE_PAGE = 2000
MAX_HOLD_ROUNDS = 100  # a full disk releases holds and plans again at most this often in one pass


class RetentionWorker:
    """Periodic and on-demand retention."""

    def __init__(
        self,
        engine: Engine,
        writer: DbWriter,
        storage: StorageManager,
        bus: EventBus,
        settings: Callable[[], Settings],
        cameras: Callable[[], list[CameraConfig]],
    ) -> None:
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
        self._watermark: dict[str, int] = {}  # per motion-mode camera: footage before it was judged
        self.recent_write_bytes = 0  # the largest segment per camera, summed: one round of writes
        self._largest: dict[str, int] = {}

    def note_segment(self, camera_id: str, size: int) -> None:
        """Learn how much the cameras write per segment (called as segments close)."""
        if size > self._largest.get(camera_id, 0):
            self._largest[camera_id] = size
            self.recent_write_bytes = sum(self._largest.values())

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():  # never started when the hub runs without periodic retention
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
        """Plan and apply one retention pass; None when the storage folder is not usable (the holds
        of requests that ended are released all the same)."""
        now = now if now is not None else now_ms()
        self._released(holds.release_ended(self.engine, now))  # requests that ended
        state, message = self.storage.state(force=True)
        if state not in ("ok", "full"):  # never purge the index of a folder that is not there
            logger.info("retention skipped: %s", message)
            return None
        settings = self._settings()
        self.writer.flush(30)  # see the segments closed so far
        rsettings, cams = from_settings(settings, self._cameras())
        free, total = self.storage.disk()
        # An emergency frees a margin above the minimum: on a small disk not most of the disk, but
        # always room for the next two segments of every camera (else the next write fails again).
        target = min(rsettings.free_target_bytes, rsettings.min_free_bytes + max(total // 10, 1))
        target = max(target, rsettings.min_free_bytes + 2 * self.recent_write_bytes)
        rsettings = dataclasses.replace(
            rsettings, free_target_bytes=max(target, rsettings.min_free_bytes + 1)
        )
        disk = DiskState(free, total)
        plan, watermarks = self._plan(rsettings, cams, disk, now)
        # A full disk: the unprotected footage was not enough, so holds go, the oldest first, as many
        # as the plan is short of (then it is planned again: another hold may keep some of theirs).
        for _ in range(MAX_HOLD_ROUNDS):
            if not plan.short_bytes:
                break
            gone = run_write(self.engine, holds.release_oldest, need_bytes=plan.short_bytes, now=now)
            if not gone:
                break
            self._released(gone)
            plan, watermarks = self._plan(rsettings, cams, disk, now)
        self.runs += 1
        self.last_plan = plan
        if plan.deletions:
            self._apply(plan)
        self._watermark.update(watermarks)
        return plan

    def _plan(
        self, rs: RetentionSettings, cams: dict[str, CameraRetention], disk: DiskState, now: int
    ) -> tuple[RetentionPlan, dict[str, int]]:
        candidates, events, watermarks = self._candidates(rs, cams, disk, now)
        listed = sum(s.bytes for s in candidates)
        unlisted = max(0, repo_media.storage_bytes(self.engine) - listed)
        return plan_retention(candidates, events, cams, rs, disk, now, unlisted_bytes=unlisted), watermarks

    def _released(self, gone: list[Protection]) -> None:
        for p in gone:
            self.bus.publish(ProtectionChanged(p, released=True))

    def _candidates(
        self, rs: RetentionSettings, cams: dict[str, CameraRetention], disk: DiskState, now: int
    ) -> tuple[list[Segment], list[Event], dict[str, int]]:
        """The segments that any rule might delete, selected in the index (never all of them):
        motion-mode footage not yet judged, footage older than the smallest max age, and the oldest
        unprotected footage when the quota or the free space needs it."""
        found: dict[int, Segment] = {}
        watermarks: dict[str, int] = {}
        for cam_id, cam in cams.items():
            if cam.mode != "motion":
                continue
            lo = self._watermark.get(cam_id, 0)
            hi = now - cam.pre_roll_ms - rs.grace_ms
            if hi <= lo:
                continue
            for seg in repo_media.list_segments(self.engine, camera_id=cam_id, start_ms=lo, end_ms=hi):
                found[_stored_id(seg)] = seg
            watermarks[cam_id] = hi
        ages = [c.max_age_ms for c in cams.values() if c.max_age_ms is not None]
        if rs.max_age_ms is not None:
            ages.append(rs.max_age_ms)
        if ages:
            for seg in repo_media.segments_ending_before(self.engine, now - min(ages), CANDIDATE_PAGE * 10):
                found[_stored_id(seg)] = seg
        need = 0
        if rs.quota_bytes is not None:
            need = repo_media.storage_bytes(self.engine) - rs.quota_bytes
        if disk.free_bytes < rs.min_free_bytes:
            need = max(need, rs.free_target_bytes - disk.free_bytes)
        after = None
        while need > 0:
            page = repo_media.oldest_unprotected(self.engine, CANDIDATE_PAGE, after)
            for seg in page:
                if seg.id not in found:
                    found[_stored_id(seg)] = seg
                need -= seg.bytes
            if len(page) < CANDIDATE_PAGE:
                break
            after = (page[-1].start_ms, _stored_id(page[-1]))
        segments = list(found.values())
        if not segments:
            return [], [], watermarks
        # Every event that could protect a candidate, whichever rule selected it.
        margin = max((c.pre_roll_ms + c.post_roll_ms for c in cams.values()), default=0)
        events = repo_media.events_overlapping(
            self.engine, min(s.start_ms for s in segments) - margin, max(s.end_ms for s in segments) + margin
        )
        # An open event may still end anywhere: judge its camera's footage again once it has ended.
        for e in events:
            if e.end_ms is None and e.camera_id in watermarks:
                cam = cams[e.camera_id]
                watermarks[e.camera_id] = min(watermarks[e.camera_id], e.start_ms - cam.pre_roll_ms)
        return segments, events, watermarks

    def _apply(self, plan: RetentionPlan) -> None:
        root = self.storage.root
        if not self.storage.can_purge(force=True):  # the disk went away between planning and applying
            return
        ids: list[int] = []
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
            if d.segment_id is not None:
                ids.append(d.segment_id)
            dirs.add(path.parent)
        self.writer.submit(repo_media.delete_segments, ids).result(60)
        for directory in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            _prune_empty(directory, root)
        reasons: dict[str, int] = {}
        for d in plan.deletions:
            reasons[d.reason] = reasons.get(d.reason, 0) + 1
        logger.info(
            "retention deleted %d segments (%s), freed %d bytes%s",
            len(ids),
            reasons,
            plan.bytes_freed,
            " [low space]" if plan.emergency else "",
        )
        self.bus.publish(RetentionRan(len(ids), plan.bytes_freed, plan.emergency))


def _prune_empty(directory: Path, root: Path) -> None:
    """Remove empty hour/date/camera folders up to (not including) the storage root."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
