"""The storage folder as the running hub sees it: where it is, whether it is really there.

The folder carries a marker file with this index's storage id. When the marker is missing (an
unmounted disk), nothing is written into the empty mount point and nothing is purged from the
index; the cameras' status says why.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import Engine

from hub.core.errors import StorageUnavailable
from hub.core.paths import DataDir
from hub.core.settings import Settings
from hub.db import repo_config
from hub.db.tx import run_write
from hub.storage.marker import check_storage, disk_state, initialize_storage

logger = logging.getLogger(__name__)

STORAGE_ID_KEY = "storage_id"
CHECK_CACHE_S = 1.0
WRITE_PROBE_S = 30.0  # a healthy folder gets a test write at most this often (the marker every time)


def resolve_root(settings: Settings, data: DataDir) -> Path:
    """The storage folder: the configured one, else ``recordings`` in the data dir."""
    return Path(settings.storage_path).expanduser() if settings.storage_path else data.default_storage


def ensure_storage(engine: Engine, root: Path) -> str:
    """Give the index a storage id and mark a NEW folder with it; returns the id.

    Only on first run: afterwards a folder without the marker is reported (an unmounted disk
    must not be written into), never silently re-marked.
    """
    storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
    if storage_id is None:
        storage_id = uuid.uuid4().hex
        initialize_storage(root, storage_id)
        run_write(engine, repo_config.set_meta, STORAGE_ID_KEY, storage_id)
        logger.info("storage folder initialized at %s", root)
    return storage_id


class StorageManager:
    """Thread-safe view of the storage folder, checked at most once a second."""

    def __init__(self, root: Path, storage_id: str) -> None:
        self._lock = threading.Lock()
        self._root = root
        self._id = storage_id
        self._checked_at = 0.0
        self._probed_at = -WRITE_PROBE_S
        self._state = "unknown"
        self._message = ""

    @property
    def root(self) -> Path:
        return self._root

    def set_root(self, root: Path) -> None:
        """Follow a changed storage setting."""
        with self._lock:
            self._root = root
            self._checked_at = 0.0

    def state(self, force: bool = False) -> tuple[str, str]:
        """("ok" | "missing" | "foreign" | "unwritable", message)."""
        now = time.monotonic()
        with self._lock:
            if force or now - self._checked_at >= CHECK_CACHE_S:
                probe = self._state != "ok" or now - self._probed_at >= WRITE_PROBE_S
                result = check_storage(self._root, self._id, probe_write=probe)
                if probe:
                    self._probed_at = now
                if result.state != self._state:
                    log = logger.info if result.state == "ok" else logger.warning
                    log("storage %s: %s", result.state, result.message or self._root)
                self._state, self._message = result.state, result.message
                self._checked_at = now
            return self._state, self._message

    def ok(self) -> bool:
        """True when segments may be written."""
        return self.state()[0] == "ok"

    def can_purge(self, force: bool = False) -> bool:
        """True when this is our folder and it is there (it may be full): retention may delete."""
        return self.state(force)[0] in ("ok", "full")

    def check(self, force: bool = False) -> None:
        """Raise StorageUnavailable when no segment may be written now (``force``: no cached answer)."""
        state, message = self.state(force)
        if state != "ok":
            raise StorageUnavailable(message or f"storage folder {self._root} is not usable ({state})", state)

    def disk(self) -> tuple[int, int]:
        """(free bytes, total bytes) of the storage folder's file system."""
        return disk_state(self._root)
