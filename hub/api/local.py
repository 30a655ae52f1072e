"""The Hub API on the live hub of this process: what ``porchlight serve`` runs and hub tests use.

Changes are stored in the index as with every backend, then applied to the running cameras at once
(not at the next poll). The status and the storage folder's state are the live ones; subscribers get
the hub's notices (:mod:`hub.api.notify`) and live views take leases on its cameras.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from hub.api import convert, live
from hub.api.index import IndexApi
from hub.api.notify import Notifier
from hub.api.subscription import DEFAULT_QUEUE, MAX_QUEUE, NoticeQueue
from hub.api.types import (
    MANUAL_EVENT_RANGE_S,
    MANUAL_EVENT_S,
    MAX_SNAPSHOT_BYTES,
    Event,
    HubInfo,
    Lease,
    NoticeKind,
    Role,
    Snapshot,
    Status,
)
from hub.core import bus, model
from hub.core.errors import (
    ConflictError,
    HubStoppedError,
    NotFoundError,
    UnavailableError,
    ValidationError,
)
from hub.core.validation import check_one_of
from hub.hub import Hub, HubOptions
from hub.live import snapshot


class LocalHub(IndexApi):
    """The Hub API of a started :class:`~hub.hub.Hub` in this process."""

    def __init__(self, hub: Hub, *, owns_hub: bool = False) -> None:
        super().__init__(hub.engine, hub.data)  # UnavailableError when the hub is not started
        self.hub = hub
        self._owns_hub = owns_hub
        self._stop_lock = threading.Lock()
        #: Set once :meth:`stop` has stopped the hub (``porchlight serve`` then exits).
        self.stopped = threading.Event()
        self.notifier = Notifier(hub)
        live.prepare(hub)  # slots a killed hub of this data dir left behind go

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
            convert.camera_status(
                st, names.get(st.camera_id, st.camera_id), self.hub.viewers.watched(st.camera_id)
            )
            for st in self.hub.statuses()
        )
        ordered = tuple(sorted(rows, key=lambda r: (r.name.casefold(), r.camera_id)))
        return Status(
            hub=HubInfo(running=True, pid=os.getpid(), started_ms=self.hub.started_ms), cameras=ordered
        )

    def _applied(self, reconnect: tuple[str, ...] = ()) -> None:
        self.hub.reload(reconnect)

    def _live_storage(self) -> tuple[Path, str, str]:
        state, message = self.hub.storage.state()
        return self.hub.storage.root, state, message

    def _protection_changed(self, protection: model.Protection, *, released: bool) -> None:
        self.hub.bus.publish(bus.ProtectionChanged(protection, released))

    # -- manual events and pictures ------------------------------------------------------------------
    def start_event(self, camera: str, duration_s: float = MANUAL_EVENT_S) -> Event:
        """Start (or extend) a manual event on a camera."""
        low, high = MANUAL_EVENT_RANGE_S
        if not low <= duration_s <= high:
            raise ValidationError(
                f"a manual event lasts {low:g} to {high:g} seconds, not {duration_s:g}",
                field="duration_s",
                rule="min" if duration_s < low else "max",
            )
        cam = self.camera(camera)
        if not cam.enabled:
            raise ConflictError(f"{cam.name} is disabled: enable it to record an event")
        started = self.hub.manual.start(cam.id, round(duration_s * 1000))
        return convert.event(started, cam.name, self.hub.data.root)

    def end_event(self, event: int) -> Event:
        """End an open manual event now."""
        ended = self.hub.manual.end(event)
        return convert.event(ended, self._names().get(ended.camera_id, ended.camera_id), self.hub.data.root)

    def snapshot(self, camera: str) -> Snapshot:
        """The camera's newest picture as a JPEG."""
        cam = self.camera(camera)
        got = self.hub.picture(cam.id)
        if got is None:
            state = next((s.state for s in self.hub.statuses() if s.camera_id == cam.id), "stopped")
            raise UnavailableError(f"no picture from {cam.name}: it is {state.replace('_', ' ')}")
        taken_ms, frame = got
        jpeg, width, height = snapshot.encode(frame, MAX_SNAPSHOT_BYTES)
        return Snapshot(
            camera_id=cam.id, camera=cam.name, taken_ms=taken_ms, width=width, height=height, jpeg=jpeg
        )

    # -- notices and live views ------------------------------------------------------------------------
    def subscribe(
        self, kinds: Sequence[NoticeKind] | None = None, queue_size: int = DEFAULT_QUEUE
    ) -> NoticeQueue:
        """The hub's notices from now on, in a queue of ``queue_size`` (see HubApi.subscribe)."""
        for kind in kinds or ():
            check_one_of(kind, get_args(NoticeKind), field="kinds", noun="notice kind", nouns="kinds")
        if not 1 <= queue_size <= MAX_QUEUE:
            raise ValidationError(
                f"queue_size must be 1 … {MAX_QUEUE}, not {queue_size}",
                field="queue_size",
                rule="min" if queue_size < 1 else "max",
            )
        return self.notifier.subscribe(frozenset(kinds) if kinds else None, queue_size)

    def watch(self, camera: str, role: Role = "detect") -> Lease:
        """Open a live-view lease on a camera's stream."""
        check_one_of(role, get_args(Role), field="role", noun="stream role", nouns="roles")
        if self.stopped.is_set():
            raise UnavailableError("the hub has stopped")
        cam = self.camera(camera)
        try:
            v = self.hub.viewers.acquire(cam.id, role, lambda: live.sink_factory(self.hub, cam.id, role))
        except OSError as exc:  # /dev/shm full or not ours: no view, and the cameras record on
            raise UnavailableError(f"cannot open a live view of {cam.name}: {exc.strerror or exc}") from None
        path = getattr(v.sink, "path", None)
        return Lease(
            id=v.id, camera_id=v.camera_id, role=role, since_ms=v.since_ms, frames=str(path) if path else None
        )

    def unwatch(self, lease: int) -> None:
        """End a live-view lease."""
        if self.hub.viewers.release(lease) is None:
            raise NotFoundError(f"no live-view lease {lease} is open")

    # -- the end --------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the hub: open segments are finalized, the index flushed, the lock released; then every
        subscription ends (after the notices of that last work) with HubStoppedError."""
        self._halt("it was asked to stop")

    def close(self, why: str | None = "its owner closed it") -> None:
        """Stop the hub when this object started it (open segments are finalized). ``why``: the
        reason subscribers are told, as a planned stop (HubStoppedError: clients wait for the hub to
        run again); None for a failure (UnavailableError: a client may start a hub in its place)."""
        if self._owns_hub:
            self._halt(why)

    def _halt(self, why: str | None) -> None:
        with self._stop_lock:
            self.hub.stop()
            end = HubStoppedError(f"the hub stopped: {why}") if why else UnavailableError("the hub failed")
            self.notifier.end(end)
        self.stopped.set()
