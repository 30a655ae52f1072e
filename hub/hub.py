"""The Hub: the engine behind the desktop app and ``porchlight serve``. No Qt.

The Hub builds the parts of one data dir, applies the configuration in the index to them and stops
them; each part has its own module:

- :class:`~hub.pipeline.supervisor.Supervisor`: one pipeline (a record and a detect thread) per
  enabled camera, restarted when its configuration changes;
- :class:`~hub.pipeline.sink.IndexSink`: what the pipelines report goes into the index and onto the bus;
- :class:`~hub.storage.thumbnails.Thumbnails`, :class:`~hub.storage.manager.StorageManager`, the
  :class:`~hub.retention.worker.RetentionWorker` and the :class:`~hub.db.writer.DbWriter`;
- :class:`~hub.housekeeper.Housekeeper`: polls for config changes, watches the cameras and the disk.

Threads (all named ``porchlight-*``): one record and one detect thread per camera, the DB writer,
the bus dispatcher, the retention worker, the housekeeper and the manual events' timer. Callers on
other threads (the GUI) use the thread-safe methods below or the bus.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import TypeVar

import av
import cv2
from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError

from drivers import registry
from drivers.base import Credentials
from hub.community import checkpoints
from hub.core import logs, secrets
from hub.core.bus import CamerasChanged, EventBus
from hub.core.errors import StorageError, StorageUnavailable, UnavailableError
from hub.core.model import CameraConfig, CameraStatus
from hub.core.paths import DataDir
from hub.core.settings import Settings
from hub.core.times import now_ms
from hub.db import repo_config
from hub.db.engine import open_engine
from hub.db.upgrade import migrate
from hub.db.writer import DbWriter
from hub.events.manual import ManualEvents
from hub.housekeeper import Housekeeper
from hub.live.viewers import Viewers
from hub.pipeline.context import PipelineContext
from hub.pipeline.detect_worker import jpeg_of
from hub.pipeline.sink import IndexSink
from hub.pipeline.supervisor import Supervisor
from hub.retention.worker import RetentionWorker
from hub.storage.lock import HubLock
from hub.storage.manager import StorageManager, ensure_storage, resolve_root
from hub.storage.recovery import RecoveryReport, recover
from hub.storage.thumbnails import Thumbnails

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _built(part: T | None) -> T:
    if part is None:
        raise UnavailableError("the hub is not running")
    return part


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
        self.viewers = Viewers(self._views_changed)  # live-view leases of the Hub API's clients
        self._lock = HubLock(self.data.root)
        self._supervisor = Supervisor(self._pipeline_context, on_status=self._report_status)
        self._sync_lock = threading.Lock()  # the housekeeper and reload() may both sync
        self._config_rev = -1
        self._housekeeper: Housekeeper | None = None
        self._sink: IndexSink | None = None
        self.index_id = ""
        self.started_ms: int | None = None  # when start() finished
        self.settings = Settings()
        self.recovery: RecoveryReport | None = None
        # Built by start() in this order; kept after stop() (the index stays readable).
        self._engine: Engine | None = None
        self._writer: DbWriter | None = None
        self._storage: StorageManager | None = None
        self._retention: RetentionWorker | None = None
        self._manual: ManualEvents | None = None
        self._started = False

    # -- parts (built by start(); UnavailableError before it) ---------------------------------------
    @property
    def engine(self) -> Engine:
        """The index."""
        return _built(self._engine)

    @property
    def writer(self) -> DbWriter:
        """The index's write thread (segments, events, statuses)."""
        return _built(self._writer)

    @property
    def storage(self) -> StorageManager:
        """The storage folder and its health."""
        return _built(self._storage)

    @property
    def retention(self) -> RetentionWorker:
        """Deletes what the retention policy lets go."""
        return _built(self._retention)

    @property
    def manual(self) -> ManualEvents:
        """The owner's manual events (started and ended through the Hub API)."""
        return _built(self._manual)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Take the data-dir lock, open the index, recover, start every enabled camera."""
        self._lock.acquire()  # raises HubLockedError with a clear message
        self.viewers = Viewers(self._views_changed)  # (a hub started again starts with none)
        registry.hold()  # the drivers' shared threads live until the last user releases them
        logs.route_ffmpeg_logs_if_set_up()
        # Small frames: OpenCV's own threads cost more than they save and oversubscribe the cores.
        cv2.setNumThreads(1)
        try:
            self._engine = engine = open_engine(self.db_url)
            try:
                migrate(engine, backup_dir=self.data.backups)
            except DatabaseError as exc:  # a damaged file, a server that refuses: say which index
                where = engine.url.render_as_string(hide_password=True)
                raise StorageError(f"cannot open the index {where}: {exc.orig or exc}") from exc
            self.settings = repo_config.load_settings(engine)
            self.index_id = repo_config.index_id(engine)
            root = resolve_root(self.settings, self.data)
            storage_id = ensure_storage(engine, root)
            self._storage = storage = StorageManager(root, storage_id)
            checkpoints.prepare(engine, root)  # the audit key read now; the log's head mirrored there
            self.recovery = recover(engine, root, storage_ok=storage.ok())
            self._writer = writer = DbWriter(engine)
            self.bus.start()
            self._retention = retention = RetentionWorker(
                engine, writer, storage, self.bus, lambda: self.settings, self.cameras
            )
            self._sink = sink = IndexSink(
                writer, self.bus, Thumbnails(self.data.root), retention.note_segment
            )
            self._sync_config()
            if self.options.start_retention:
                retention.start()
            self._housekeeper = Housekeeper(
                sync_config=self._sync_config,
                supervisor=self._supervisor,
                storage=storage,
                bus=self.bus,
                sink=sink,
            )
            self._housekeeper.start()
            self._manual = ManualEvents(sink.event_started, sink.event_ended, picture=self._thumbnail)
            self._manual.start_thread()
            self._started = True
            self.started_ms = now_ms()
        except BaseException:
            self._teardown()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every camera (open segments are finalized), flush the index, release the lock."""
        if not self._started:
            return
        if self._housekeeper is not None:
            self._housekeeper.stop(timeout)
        if self._manual is not None:
            self._manual.stop()  # open manual events end now, while the index is open
        final = self._supervisor.stop_all(timeout)
        self.viewers.close()  # no camera decodes any more: the live views' slots go
        _built(self._sink).statuses(final)
        self._teardown()
        self._started = False

    def _teardown(self) -> None:
        registry.release()  # threads the drivers share across cameras, when no one else uses them
        if self._retention is not None:
            self._retention.stop()
        if self._writer is not None:
            self._writer.close(30)
        self.bus.stop()
        if self._engine is not None:
            self._engine.dispose()
        self._lock.release()

    # -- queries (thread-safe) -----------------------------------------------------------------
    def cameras(self) -> list[CameraConfig]:
        """Configured cameras (enabled or not), as the hub last loaded them."""
        return self._supervisor.cameras()

    def statuses(self) -> list[CameraStatus]:
        """Live status of every camera."""
        return self._supervisor.statuses()

    def latest_frame(self, camera_id: str) -> tuple[int, av.VideoFrame] | None:
        """Newest decoded frame of a camera for live tiles (None when none yet)."""
        return self._supervisor.latest_frame(camera_id)

    def picture(self, camera_id: str, wait_s: float = 5.0) -> tuple[int, av.VideoFrame] | None:
        """The newest decoded frame of a camera, waiting up to ``wait_s`` for a first one (a camera
        without detection starts decoding for it); None when the camera gives none (no pipeline,
        not connected)."""
        deadline = time.monotonic() + wait_s
        while self._supervisor.pipeline(camera_id) is not None:
            latest = self.latest_frame(camera_id)
            if latest is not None or time.monotonic() >= deadline:
                return latest
            time.sleep(0.05)
        return None

    def reload(self, reconnect: tuple[str, ...] = ()) -> None:
        """Apply configuration changes now (instead of within a second); the cameras in
        ``reconnect`` connect again (their credentials changed)."""
        self._sync_config(reconnect)

    # -- configuration -----------------------------------------------------------------------------
    def _sync_config(self, reconnect: tuple[str, ...] = ()) -> None:
        """Apply the index's settings and cameras when its config revision moved (or cameras are to
        reconnect)."""
        with self._sync_lock:
            rev = repo_config.config_rev(self.engine)
            if rev == self._config_rev and not reconnect:
                return
            self._config_rev = rev
            settings = repo_config.load_settings(self.engine)
            if settings != self.settings:
                self.settings = settings
                self.storage.set_root(resolve_root(settings, self.data))
                checkpoints.prepare(self.engine, self.storage.root)
            changed = self._supervisor.apply(repo_config.list_cameras(self.engine), reconnect)
        if changed:
            self.bus.publish(CamerasChanged(changed))

    def _pipeline_context(self, cfg: CameraConfig) -> PipelineContext:
        sink = _built(self._sink)
        return PipelineContext(
            config=cfg,
            driver=registry.get_driver(cfg.driver),
            storage_root=lambda: self.storage.root,
            check_storage=self._check_storage_for_segment,
            credentials=lambda: self._credentials(cfg),
            on_status=sink.status,
            on_segment=sink.segment,
            on_event_started=sink.event_started,
            on_event_ended=sink.event_ended,
            request_space=self.retention.trigger,
            watched=lambda: self.viewers.watched(cfg.id),
            on_frame=lambda roles, frame, ts: self.viewers.deliver(cfg.id, roles, frame, ts),
            segment_s=self.settings.segment_seconds,
            open_timeout_s=self.options.open_timeout_s,
            read_timeout_s=self.options.read_timeout_s,
        )

    def _views_changed(self, camera_id: str) -> None:
        """A live view of ``camera_id`` opened or closed: its pipeline decodes what is watched."""
        pipeline = self._supervisor.pipeline(camera_id)
        if pipeline is not None:
            pipeline.views_changed()

    def _thumbnail(self, camera_id: str) -> bytes | None:
        """A JPEG of the camera's newest decoded frame, for an event's thumbnail (None when none)."""
        pipeline = self._supervisor.pipeline(camera_id)
        latest = pipeline.latest_frame_if_any() if pipeline is not None else None
        return jpeg_of(latest[1]) if latest is not None else None

    def _report_status(self, status: CameraStatus) -> None:
        if self._sink is not None:
            self._sink.status(status)

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
