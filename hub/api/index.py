"""The Hub API answered from the index: the base of the in-process backend, and the index-only one.

:class:`IndexOnly` is what a client uses when no hub runs on the data dir: it reads and edits the
index (and the keyring) itself, never records and never takes the hub lock. A hub started later, or
one that runs already and polls the index, applies what it stored.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy.engine import Engine

from drivers import registry
from hub.api import convert
from hub.api.types import (
    Camera,
    CameraChange,
    Credentials,
    NewCamera,
    Settings,
    SettingsChange,
    Status,
    StorageInfo,
)
from hub.config import cameras, hub_settings
from hub.core.model import CameraStatus
from hub.core.paths import DataDir
from hub.core.times import now_ms
from hub.db import repo_config, repo_media
from hub.db.engine import open_engine
from hub.db.upgrade import migrate
from hub.storage.lock import HubLock


class IndexApi:
    """Commands and queries of one data dir, answered from its index.

    Subclasses say how a change reaches running cameras (:meth:`_applied`), where the storage
    folder's state comes from (:meth:`_live_storage`) and what the status is."""

    def __init__(self, engine: Engine, data: DataDir) -> None:
        self._engine = engine
        self._data = data
        self._closed = False

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
        self._applied()
        return convert.camera(updated)

    def remove_camera(self, ref: str) -> Camera:
        """Remove a camera and forget its credentials."""
        cam = cameras.find(self._engine, ref)
        cameras.remove(self._engine, cam)
        self._applied()
        return convert.camera(cam)

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

    # -- what subclasses add ----------------------------------------------------------------------------
    def _applied(self) -> None:
        """A change was stored: make it reach the cameras (nothing here: a hub polls the index)."""

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


class IndexOnly(IndexApi):
    """The Hub API of a data dir on which no hub runs (or one that polls the index runs elsewhere)."""

    @classmethod
    def open(cls, data_dir: Path, db_url: str | None = None) -> IndexOnly:
        """Open (and migrate) the index of ``data_dir`` (or the one at ``db_url``)."""
        data = DataDir(Path(data_dir)).ensure()
        engine = open_engine(db_url or data.default_db_url)
        try:
            migrate(engine, backup_dir=data.backups)
        except BaseException:
            engine.dispose()
            raise
        registry.hold()  # a camera added from a device asks it through its driver
        return cls(engine, data)

    def close(self) -> None:
        """Close the index connection (and the drivers' threads, unless a hub here still uses them)."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()
            registry.release()
