"""The Hub API answered from the index: the base of the in-process backend, and the index-only one.

:class:`IndexOnly` is what a client uses when no hub runs on the data dir: it reads and edits the
index (and the keyring) itself, never records and never takes the hub lock. A hub started later, or
one that runs already and polls the index, applies what it stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, get_args

from sqlalchemy.engine import Engine

from drivers import registry
from hub import devices
from hub.api import convert
from hub.api.community import CommunityApi
from hub.api.subscription import DEFAULT_QUEUE, Subscription
from hub.api.types import (
    MANUAL_EVENT_S,
    Camera,
    CameraChange,
    Credentials,
    DeviceQuery,
    Discovery,
    Event,
    EventKind,
    ExportProgress,
    ExportRequest,
    ExportResult,
    Lease,
    NewCamera,
    NoticeKind,
    Probe,
    Protection,
    ProtectReason,
    Recording,
    Role,
    Settings,
    SettingsChange,
    Snapshot,
    Status,
    StorageInfo,
)
from hub.community import holds
from hub.config import cameras, hub_settings
from hub.core import logs, model
from hub.core.errors import NotFoundError, StorageError, UnavailableError, ValidationError
from hub.core.model import CameraConfig, CameraStatus
from hub.core.paths import DataDir
from hub.core.times import format_ms, now_ms
from hub.core.validation import check_one_of, check_window, validate_camera
from hub.db import repo_config, repo_media, repo_protect
from hub.db.engine import open_engine
from hub.db.upgrade import migrate
from hub.media.export import ExportStep, export_clip
from hub.retention import protections
from hub.storage.lock import HubLock
from hub.storage.manager import resolve_root
from hub.storage.marker import disk_state

DISCOVER_MAX_S = 60.0


class IndexApi(CommunityApi):
    """Commands and queries of one data dir, answered from its index.

    Subclasses say how a change reaches running cameras (:meth:`_applied`), where the storage
    folder's state comes from (:meth:`_live_storage`) and what the status is."""

    def __init__(self, engine: Engine | None, data: DataDir) -> None:
        self._opened = engine
        self._data = data
        self._closed = False

    @property
    def _engine(self) -> Engine:
        """The index (opened at the first call that needs it)."""
        if self._opened is None:
            self._opened = self._open_index()
        return self._opened

    def _open_index(self) -> Engine:
        raise UnavailableError("this Hub API has no index")

    # -- cameras ----------------------------------------------------------------------------------
    def cameras(self) -> list[Camera]:
        """Every camera (removed ones excluded), ordered by name."""
        return [convert.camera(c) for c in repo_config.list_cameras(self._engine)]

    def camera(self, ref: str) -> Camera:
        """The camera with this name (case-insensitive) or id."""
        return convert.camera(cameras.find(self._engine, ref))

    def add_camera(self, new: NewCamera, credentials: Credentials | None = None) -> Camera:
        """Store a new camera (asking its device first) and its credentials."""
        creds = convert.credentials(credentials)
        cfg = cameras.from_device(convert.new_camera(new), creds, events=new.events, doorbell=new.doorbell)
        added = cameras.add(self._engine, cfg, creds)
        self._applied()
        return convert.camera(added)

    def update_camera(self, ref: str, change: CameraChange, credentials: Credentials | None = None) -> Camera:
        """Change a camera's fields (and its credentials when given)."""
        cam = cameras.find(self._engine, ref)
        fields = convert.camera_changes(cam, change)
        updated = cameras.change(self._engine, cam, fields, convert.credentials(credentials))
        self._applied(reconnect=(cam.id,) if credentials is not None else ())
        return convert.camera(updated)

    def remove_camera(self, ref: str) -> Camera:
        """Remove a camera and forget its credentials."""
        cam = cameras.find(self._engine, ref)
        cameras.remove(self._engine, cam)
        self._applied()
        return convert.camera(cam)

    # -- recordings and events ------------------------------------------------------------------------
    def recordings(
        self, camera: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[Recording]:
        """The recorded files that overlap the window, oldest first."""
        cam_id = self._camera_id(camera)
        check_window(start_ms, end_ms)
        segs = repo_media.list_segments(self._engine, camera_id=cam_id, start_ms=start_ms, end_ms=end_ms)
        if not segs:
            return []
        kept = repo_protect.list_protections(  # every protection touching these recordings
            self._engine, cam_id, min(s.start_ms for s in segs), max(s.end_ms for s in segs)
        )
        names, root = self._names(), self._root()
        return [convert.recording(s, names.get(s.camera_id, s.camera_id), root, kept) for s in segs]

    def events(
        self,
        camera: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        kinds: Sequence[EventKind] | None = None,
    ) -> list[Event]:
        """The events that overlap the window, oldest first."""
        cam_id = self._camera_id(camera)
        check_window(start_ms, end_ms)
        for kind in kinds or ():
            check_one_of(kind, get_args(model.EventKind), field="kinds", noun="event kind", nouns="kinds")
        evs = repo_media.list_events(
            self._engine,
            camera_id=cam_id,
            start_ms=start_ms,
            end_ms=end_ms,
            kinds=list(kinds) if kinds else None,
        )
        names = self._names()
        return [convert.event(e, names.get(e.camera_id, e.camera_id), self._data.root) for e in evs]

    def export(
        self,
        request: ExportRequest,
        progress: Callable[[ExportProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ExportResult:
        """Write one camera's recordings in a window as one MP4 clip."""
        cam = cameras.find_recorded(self._engine, request.camera)
        start, end = request.start_ms, request.end_ms
        check_window(start, end)
        root = self._root()
        out = _clip_path(request.path, root)
        segs = repo_media.list_segments(self._engine, camera_id=cam.id, start_ms=start, end_ms=end)

        def step(s: ExportStep) -> None:
            if progress is not None:
                progress(convert.export_progress(s))

        report = export_clip(
            root,
            segs,
            start,
            end,
            out,
            progress=step,
            cancel=cancel,
            subject=f": {cam.name} between {format_ms(start)} and {format_ms(end)}",
        )
        return convert.export_result(report)

    # -- keeping footage ----------------------------------------------------------------------------
    def protect(
        self, camera: str, start_ms: int, end_ms: int, reason: ProtectReason = "star", note: str = ""
    ) -> Protection:
        """Keep a camera's footage in a window from retention, for a reason."""
        cam = cameras.find_recorded(self._engine, camera)
        stored = protections.protect(self._engine, cam.id, start_ms, end_ms, reason, note)
        self._protection_changed(stored, released=False)
        return convert.protection(stored, cam.name)

    def protections(
        self,
        camera: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        reasons: Sequence[ProtectReason] | None = None,
    ) -> list[Protection]:
        """The protections overlapping the window, ordered by start."""
        cam_id = self._camera_id(camera)
        check_window(start_ms, end_ms)
        for reason in reasons or ():
            check_one_of(
                reason, get_args(model.ProtectReason), field="reasons", noun="reason", nouns="reasons"
            )
        found = repo_protect.list_protections(self._engine, cam_id, start_ms, end_ms, reasons or None)
        names = self._names()
        return [convert.protection(p, names.get(p.camera_id, p.camera_id)) for p in found]

    def release(self, protection: int) -> Protection:
        """End one protection (what another covers stays kept); a request's hold is logged."""
        released = self._write(holds.release_protection, protection, now=now_ms())
        self._protection_changed(released, released=True)
        return convert.protection(released, self._names().get(released.camera_id, released.camera_id))

    # -- devices ----------------------------------------------------------------------------------------
    def discover(self, timeout_s: float = 3.0, host: str | None = None) -> Discovery:
        """Devices the drivers find (on the network and this machine, or at ``host`` only)."""
        if not 0 <= timeout_s <= DISCOVER_MAX_S:
            raise ValidationError(
                f"a discovery listens 0 to {DISCOVER_MAX_S:g} seconds",
                field="timeout_s",
                rule="min" if timeout_s < 0 else "max",
            )
        found, problems = devices.discover(timeout_s, host)
        return Discovery(devices=tuple(convert.device(d) for d in found), problems=tuple(problems))

    def probe(self, ref: str) -> Probe:
        """What a configured camera's device offers now."""
        cam = cameras.find(self._engine, ref)
        return convert.probe(*devices.describe_roles(cam, cameras.stored_credentials(self._engine, cam)))

    def probe_device(self, query: DeviceQuery, credentials: Credentials | None = None) -> Probe:
        """What a device offers before it is added."""
        cfg = CameraConfig(
            id="",
            name="probe",
            driver=query.driver,
            url=query.url,
            sub_url=query.sub_url,
            device=dict(query.device),
        )
        validate_camera(cfg)
        return convert.probe(*devices.describe_roles(cfg, convert.credentials(credentials)))

    # -- hub settings and storage -----------------------------------------------------------------
    def settings(self) -> Settings:
        """The hub-wide settings."""
        return convert.settings(repo_config.load_settings(self._engine))

    def update_settings(self, change: SettingsChange) -> Settings:
        """Change hub settings (a new storage folder only when no recording is orphaned)."""
        stored = hub_settings.change(self._engine, self._data, convert.changes(change))
        self._applied()
        return convert.settings(stored)

    def storage(self) -> StorageInfo:
        """The recordings folder: where, its state, and how full it is."""
        return convert.storage(hub_settings.report(self._engine, self._data, self._live_storage()))

    # -- status -------------------------------------------------------------------------------------
    def status(self) -> Status:
        """What the index holds: the statuses a running hub stores, or "stopped" when none runs."""
        holder = HubLock.holder(self._data.root)
        stored = {s.camera_id: s for s in repo_media.list_status(self._engine)}
        rows = []
        for cam in repo_config.list_cameras(self._engine):
            st = stored.get(cam.id)
            if holder is None or st is None or not cam.enabled:
                st = CameraStatus(
                    cam.id,
                    "stopped",
                    st.since_ms if st else now_ms(),
                    st.last_error if st else None,
                    st.updated_ms if st else 0,
                    st.stats if st else {},
                )
            rows.append(convert.camera_status(st, cam.name))
        return Status(hub=convert.holder(holder), cameras=tuple(rows))

    # -- what only a running hub has ------------------------------------------------------------
    def subscribe(
        self, kinds: Sequence[NoticeKind] | None = None, queue_size: int = DEFAULT_QUEUE
    ) -> Subscription:
        """No hub runs here to tell anything."""
        raise self._no_hub("subscribe to its notices")

    def watch(self, camera: str, role: Role = "detect") -> Lease:
        """No hub runs here to show a camera live."""
        raise self._no_hub("watch a camera live")

    def unwatch(self, lease: int) -> None:
        """No hub runs here: there is no lease."""
        raise self._no_hub("watch a camera live")

    def start_event(self, camera: str, duration_s: float = MANUAL_EVENT_S) -> Event:
        """No hub runs here: nothing records."""
        raise self._no_hub("record an event")

    def end_event(self, event: int) -> Event:
        """No hub runs here: no manual event goes on."""
        raise self._no_hub("record an event")

    def snapshot(self, camera: str) -> Snapshot:
        """No hub runs here to see a camera."""
        raise self._no_hub("take a picture")

    def _no_hub(self, what: str) -> UnavailableError:
        return UnavailableError(f"no hub runs on {self._data.root} to {what}: start one (porchlight serve)")

    def stop(self) -> None:
        """No hub answers here: say whether one runs at all."""
        holder = HubLock.holder(self._data.root)
        if holder is None:
            raise NotFoundError(f"no hub runs on {self._data.root}")
        pid = holder.get("pid")
        raise UnavailableError(
            f"a hub runs on {self._data.root} (pid {pid}) but does not answer on its socket; "
            f"stop it with: kill {pid}"
        )

    # -- helpers --------------------------------------------------------------------------------------
    def _camera_id(self, ref: str | None) -> str | None:
        return None if ref is None else cameras.find_recorded(self._engine, ref).id

    def _names(self) -> dict[str, str]:
        return {c.id: c.name for c in repo_config.list_cameras(self._engine, include_removed=True)}

    def _root(self) -> Path:
        live = self._live_storage()
        return live[0] if live else resolve_root(repo_config.load_settings(self._engine), self._data)

    def _disk_bytes(self) -> int | None:
        """The size of the disk holding the storage folder (or where it would be); None if unknown."""
        path = self._root()
        while not path.exists() and path.parent != path:
            path = path.parent
        try:
            return disk_state(path)[1]
        except OSError:
            return None

    def _holds_changed(self, changed: list[tuple[model.Protection, bool]]) -> None:
        for p, released in changed:
            self._protection_changed(p, released=released)

    # -- what subclasses add ----------------------------------------------------------------------------
    def _applied(self, reconnect: tuple[str, ...] = ()) -> None:
        """A change was stored: make it reach the cameras, those in ``reconnect`` connecting again
        (new credentials). Nothing here: a hub polls the index, and reads the keyring when it
        connects."""

    def _protection_changed(self, protection: model.Protection, *, released: bool) -> None:
        """A protection was stored or released (a running hub tells its subscribers)."""

    def _live_storage(self) -> tuple[Path, str, str] | None:
        """A running hub's (storage root, state, message); None: check the folder now."""
        return None

    def close(self) -> None:
        """Nothing held here."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _clip_path(text: str, root: Path) -> Path:
    """Where an export may write: an absolute .mp4 path outside the recordings folder."""
    path = Path(text)
    if not path.is_absolute():
        raise ValidationError(f"the clip's path must be absolute: {text}", field="path", rule="format")
    if path.suffix.lower() != ".mp4":
        raise ValidationError(f"the clip must be an .mp4 file: {text}", field="path", rule="format")
    if path.resolve().is_relative_to(root.resolve()):
        raise ValidationError(
            f"choose a folder outside the recordings folder ({root}) for the clip",
            field="path",
            rule="format",
        )
    if path.is_dir():
        raise ValidationError(f"{text} is a folder: name the clip's file", field="path", rule="format")
    if not path.parent.is_dir():
        raise StorageError(f"cannot write {text}: there is no folder {path.parent}")
    return path


class IndexOnly(IndexApi):
    """The Hub API of a data dir on which no hub runs (or one that polls the index runs elsewhere)."""

    def __init__(self, data: DataDir, db_url: str | None) -> None:
        super().__init__(None, data)
        self._db_url = db_url
        self._lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path, db_url: str | None = None) -> IndexOnly:
        """The API of ``data_dir``'s index (or the one at ``db_url``). The index is opened, migrated
        and the data dir made at the first call that needs them: a discovery needs neither."""
        registry.hold()  # devices are asked through their drivers
        logs.route_ffmpeg_logs_if_set_up()
        return cls(DataDir(Path(data_dir)), db_url)

    def _open_index(self) -> Engine:
        with self._lock:
            if self._closed:
                raise UnavailableError("this Hub API was closed")
            if self._opened is not None:  # another thread opened it meanwhile
                return self._opened
            data = self._data.ensure()
            engine = open_engine(self._db_url or data.default_db_url)
            try:
                migrate(engine, backup_dir=data.backups)
            except BaseException:
                engine.dispose()
                raise
            self._opened = engine
            return engine

    def close(self) -> None:
        """Close the index connection (and the drivers' threads, unless a hub here still uses them)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            engine, self._opened = self._opened, None
        if engine is not None:
            engine.dispose()
        registry.release()
