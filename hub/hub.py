"""The Hub: the engine behind the desktop app and ``porchlight serve``. No Qt.

Threads (all named ``porchlight-*``): one record and one detect thread per camera, the DB writer,
the bus dispatcher, the retention worker and the housekeeper (config changes, status heartbeat,
storage checks). Callers on other threads (the GUI) use the thread-safe methods below or the bus.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

import av
import cv2

from drivers import get_driver
from drivers.base import Credentials
from drivers.onvif import loop as onvif_loop
from hub.core import secrets
from hub.core.bus import (
    CamerasChanged,
    EventBus,
    EventEnded,
    EventStarted,
    SegmentClosed,
    StatusChanged,
    StorageChanged,
)
from hub.core.model import CameraConfig, CameraStatus, Event, Segment
from hub.core.paths import DataDir
from hub.core.settings import Settings
from hub.core.times import now_ms
from hub.db import repo_config, repo_media
from hub.db.engine import open_engine
from hub.db.upgrade import migrate
from hub.db.writer import DbWriter
from hub.pipeline.camera import CameraPipeline
from hub.pipeline.context import PipelineContext
from hub.recorder.segment import ClosedSegment
from hub.recorder.session import StorageUnavailable
from hub.retention.worker import RetentionWorker
from hub.storage.lock import HubLock
from hub.storage.manager import StorageManager, ensure_storage, resolve_root
from hub.storage.recovery import RecoveryReport, recover

logger = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # state changes are written at once; this refreshes the counters
CONFIG_POLL_S = 2.0  # changes made by another `porchlight` command apply within this


@dataclasses.dataclass
class HubOptions:
    """Knobs for tests and benchmarks (defaults are the product's)."""

    open_timeout_s: float = 15.0
    read_timeout_s: float = 2.5
    start_retention: bool = True


class Hub:
    """Owns the index, the storage folder and every camera pipeline of one data dir."""

    def __init__(self, data_dir: Path, db_url: str | None = None, options: HubOptions | None = None) -> None:
        self.data = DataDir(Path(data_dir)).ensure()
        self.db_url = db_url or self.data.default_db_url
        self.options = options or HubOptions()
        self.bus = EventBus()
        self._lock = HubLock(self.data.root)
        self._pipelines: dict[str, CameraPipeline] = {}
        self._configs: dict[str, CameraConfig] = {}
        self._statuses: dict[str, CameraStatus] = {}
        self._event_ids: dict[tuple[str, int], int] = {}
        self._mutex = threading.RLock()
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._config_rev = -1
        self.index_id = ""
        self.settings = Settings()
        self.recovery: RecoveryReport | None = None
        self.engine = None
        self.writer: DbWriter | None = None
        self.storage: StorageManager | None = None
        self.retention: RetentionWorker | None = None
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Take the data-dir lock, open the index, recover, start every enabled camera."""
        self._lock.acquire()  # raises HubLockedError with a clear message
        # Small frames: OpenCV's own threads cost more than they save and oversubscribe the cores.
        cv2.setNumThreads(1)
        try:
            self.engine = open_engine(self.db_url)
            migrate(self.engine, backup_dir=self.data.backups)
            self.settings = repo_config.load_settings(self.engine)
            self.index_id = repo_config.index_id(self.engine)
            root = resolve_root(self.settings, self.data)
            storage_id = ensure_storage(self.engine, root)
            self.storage = StorageManager(root, storage_id)
            self.recovery = recover(self.engine, root, storage_ok=self.storage.ok())
            self.writer = DbWriter(self.engine)
            self.bus.start()
            self.retention = RetentionWorker(
                self.engine, self.writer, self.storage, self.bus, lambda: self.settings, self.cameras
            )
            self._sync_cameras()
            if self.options.start_retention:
                self.retention.start()
            self._housekeeper = threading.Thread(
                target=self._housekeep, name="porchlight-housekeeper", daemon=True
            )
            self._housekeeper.start()
            self._started = True
        except BaseException:
            self._teardown()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every camera (open segments are finalized), flush the index, release the lock."""
        if not self._started:
            return
        self._stop.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout)
        with self._mutex:
            pipelines = list(self._pipelines.values())
            self._pipelines.clear()
        for p in pipelines:
            p.stop()
        for p in pipelines:
            p.join(timeout)
        final = [p.status() for p in pipelines]  # "stopped", with the counters of the whole run
        self.writer.submit(lambda s: [repo_media.upsert_status(s, st) for st in final])
        onvif_loop.shutdown()  # the ONVIF calls' loop thread (started on first use)
        self._teardown()
        self._started = False

    def _teardown(self) -> None:
        if self.retention is not None:
            self.retention.stop()
        if self.writer is not None:
            self.writer.close(30)
        self.bus.stop()
        if self.engine is not None:
            self.engine.dispose()
        self._lock.release()

    # -- queries (thread-safe) -----------------------------------------------------------------
    def cameras(self) -> list[CameraConfig]:
        """Configured cameras (enabled or not), as the hub last loaded them."""
        with self._mutex:
            return list(self._configs.values())

    def statuses(self) -> list[CameraStatus]:
        """Live status of every camera."""
        with self._mutex:
            pipelines = dict(self._pipelines)
            configs = dict(self._configs)
        out = []
        for cam_id in configs:
            p = pipelines.get(cam_id)
            out.append(p.status() if p else CameraStatus(cam_id, "stopped", now_ms(), None, now_ms()))
        return out

    def latest_frame(self, camera_id: str) -> tuple[int, av.VideoFrame] | None:
        """Newest decoded frame of a camera for live tiles (None when none yet)."""
        with self._mutex:
            p = self._pipelines.get(camera_id)
        return p.latest_frame() if p else None

    def reload(self) -> None:
        """Apply configuration changes now (instead of within a second)."""
        self._sync_cameras()

    # -- cameras -------------------------------------------------------------------------------
    def _sync_cameras(self) -> None:
        with self._mutex:  # the housekeeper and reload() may both call this
            self._sync_cameras_locked()

    def _sync_cameras_locked(self) -> None:
        rev = repo_config.config_rev(self.engine)
        if rev == self._config_rev:
            return
        self._config_rev = rev
        settings = repo_config.load_settings(self.engine)
        if settings != self.settings:
            self.settings = settings
            self.storage.set_root(resolve_root(settings, self.data))
        wanted = {c.id: c for c in repo_config.list_cameras(self.engine)}
        old = self._configs
        for cam_id, p in list(self._pipelines.items()):
            cfg = wanted.get(cam_id)
            # A config write may carry a new password (kept in the keyring, not in cfg):
            # a camera that failed to authenticate tries again at once.
            retry_auth = p.status().state == "auth_failed"
            if cfg is None or not cfg.enabled or cfg != old.get(cam_id) or retry_auth:
                self._stop_pipeline(cam_id)
        changed = sorted((set(old) ^ set(wanted)) | {c for c in wanted if wanted[c] != old.get(c)})
        self._configs = wanted
        for cfg in wanted.values():
            if cfg.enabled and cfg.id not in self._pipelines:
                self._start_pipeline(cfg)
        if changed:
            self.bus.publish(CamerasChanged(tuple(changed)))

    def _start_pipeline(self, cfg: CameraConfig) -> None:
        ctx = PipelineContext(
            config=cfg,
            driver=get_driver(cfg.driver),
            storage_root=lambda: self.storage.root,
            check_storage=self._check_storage_for_segment,
            credentials=lambda cam=cfg: self._credentials(cam),
            on_status=self._on_status,
            on_segment=self._on_segment,
            on_event_started=self._on_event_started,
            on_event_ended=self._on_event_ended,
            request_space=self.retention.trigger,
            segment_s=self.settings.segment_seconds,
            open_timeout_s=self.options.open_timeout_s,
            read_timeout_s=self.options.read_timeout_s,
        )
        pipeline = CameraPipeline(ctx)
        self._pipelines[cfg.id] = pipeline
        pipeline.start()

    def _stop_pipeline(self, cam_id: str) -> None:
        p = self._pipelines.pop(cam_id, None)
        if p is None:
            return
        p.stop()
        # Join off the caller's thread: a camera stuck connecting must not block the others.
        threading.Thread(target=p.join, name=f"porchlight-join-{cam_id}", daemon=True).start()

    def _credentials(self, cfg: CameraConfig) -> Credentials | None:
        return secrets.get_camera_credentials(self.index_id, cfg.id) if cfg.has_credentials else None

    def _check_storage_for_segment(self) -> None:
        # No cached answer before creating a file: a disk unmounted a moment ago must not get a
        # file written into its empty mount point.
        try:
            self.storage.check(force=True)
        except StorageUnavailable as exc:
            if exc.state == "full":
                self.retention.trigger()
            raise
        free, _total = self.storage.disk()
        if free < self.settings.min_free_bytes:
            self.retention.trigger()

    # -- callbacks from camera threads -------------------------------------------------------------
    def _on_status(self, st: CameraStatus) -> None:
        with self._mutex:
            self._statuses[st.camera_id] = st
        self.writer.submit(repo_media.upsert_status, st)
        self.bus.publish(StatusChanged(st))

    def _on_segment(self, seg: ClosedSegment, unobserved: bool) -> None:
        cam = seg.relpath.split("/", 1)[0]
        row = Segment(
            None,
            cam,
            seg.relpath,
            seg.start_ms,
            seg.end_ms,
            seg.bytes,
            seg.frames,
            seg.has_audio,
            False,
            unobserved,
        )
        self.writer.submit(repo_media.insert_segment, row)
        self.retention.note_segment(cam, seg.bytes)
        self.bus.publish(SegmentClosed(row))

    def _thumb(self, cam: str, start_ms: int, jpeg: bytes | None) -> str | None:
        if not jpeg:
            return None
        rel = f"thumbs/{cam}/{start_ms}.jpg"
        path = self.data.root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(jpeg)
            tmp.replace(path)
        except OSError:
            logger.warning("could not write thumbnail %s", rel, exc_info=True)
            return None
        return rel

    def _on_event_started(
        self,
        cam: str,
        start_ms: int,
        score: float,
        zones: tuple[str, ...],
        jpeg: bytes | None,
        *,
        kind: str = "motion",
        source: str = "local",
    ) -> None:
        thumb = self._thumb(cam, start_ms, jpeg)
        detected = now_ms()
        ev = Event(None, cam, kind, start_ms, None, score, zones, thumb, source, detected)
        key = (cam, kind, start_ms)

        def op(s):
            self._event_ids[key] = repo_media.insert_event(s, ev, detected)

        self.writer.submit(op)
        self.bus.publish(EventStarted(ev))

    def _on_event_ended(
        self,
        cam: str,
        start_ms: int,
        end_ms: int,
        score: float,
        zones: tuple[str, ...],
        jpeg: bytes | None,
        *,
        kind: str = "motion",
        source: str = "local",
    ) -> None:
        thumb = self._thumb(cam, start_ms, jpeg) if jpeg else None
        key = (cam, kind, start_ms)
        ended = Event(None, cam, kind, start_ms, end_ms, score, zones, thumb, source)

        def op(s):
            event_id = self._event_ids.pop(key, None)
            if event_id is None:  # its insert failed or the hub restarted: insert the whole event
                repo_media.insert_event(s, ended, now_ms())
                return
            changes = {"end_ms": end_ms, "score": score, "zones": zones}
            if thumb is not None:  # keep the start's thumbnail unless a better one came
                changes["thumbnail"] = thumb
            repo_media.update_event(s, event_id, **changes)

        self.writer.submit(op)
        self.bus.publish(EventEnded(ended))

    # -- housekeeping ------------------------------------------------------------------------------
    def _housekeep(self) -> None:
        last_beat = 0.0
        last_storage = None
        while not self._stop.wait(CONFIG_POLL_S):
            try:
                self._sync_cameras()
                with self._mutex:
                    pipelines = list(self._pipelines.values())
                for p in pipelines:
                    p.check_progress()
                state = self.storage.state()
                if state != last_storage:
                    last_storage = state
                    self.bus.publish(StorageChanged(*state))
                if time.monotonic() - last_beat >= HEARTBEAT_S:
                    last_beat = time.monotonic()
                    self._write_statuses()
                    for p in pipelines:
                        p.reap_idle_preview()
            except Exception:  # noqa: BLE001 - keep housekeeping alive; the index may be busy
                logger.exception("housekeeping failed")

    def _write_statuses(self) -> None:
        statuses = self.statuses()
        self.writer.submit(lambda s: [repo_media.upsert_status(s, st) for st in statuses])
