"""The Hub API on the live hub of this process: what ``porchlight serve`` runs and hub tests use.

Changes are stored in the index as with every backend, then applied to the running cameras at once
(not at the next poll). The status and the storage folder's state are the live ones.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from hub.api import convert
from hub.api.index import IndexApi
from hub.api.types import HubInfo, Status
from hub.hub import Hub, HubOptions


class LocalHub(IndexApi):
    """The Hub API of a started :class:`~hub.hub.Hub` in this process."""

    def __init__(self, hub: Hub, *, owns_hub: bool = False) -> None:
        super().__init__(hub.engine, hub.data)  # UnavailableError when the hub is not started
        self.hub = hub
        self._owns_hub = owns_hub
        self._stop_lock = threading.Lock()
        #: Set once :meth:`stop` has stopped the hub (``porchlight serve`` then exits).
        self.stopped = threading.Event()

    @classmethod
    def start(cls, data_dir: Path, db_url: str | None = None, options: HubOptions | None = None) -> LocalHub:
        """Start a hub on ``data_dir`` (HubLockedError when one runs there) and wrap it; ``close()``
        stops it."""
        hub = Hub(data_dir, db_url, options)
        hub.start()
        return cls(hub, owns_hub=True)

    def status(self) -> Status:
        """The live state of every camera."""
        names = {c.id: c.name for c in self.hub.cameras()}
        rows = tuple(
            convert.camera_status(st, names.get(st.camera_id, st.camera_id)) for st in self.hub.statuses()
        )
        ordered = tuple(sorted(rows, key=lambda r: (r.name.casefold(), r.camera_id)))
        return Status(
            hub=HubInfo(running=True, pid=os.getpid(), started_ms=self.hub.started_ms), cameras=ordered
        )

    def _applied(self) -> None:
        self.hub.reload()

    def _live_storage(self) -> tuple[Path, str, str]:
        state, message = self.hub.storage.state()
        return self.hub.storage.root, state, message

    def stop(self) -> None:
        """Stop the hub: open segments are finalized, the index flushed, the lock released."""
        with self._stop_lock:
            self.hub.stop()
        self.stopped.set()

    def close(self) -> None:
        """Stop the hub when this object started it (open segments are finalized)."""
        if self._owns_hub:
            with self._stop_lock:
                self.hub.stop()
