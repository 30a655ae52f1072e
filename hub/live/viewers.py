"""Who watches which camera live, and where their frames go.

A client opening a live tile takes a lease on (camera, "detect"); a single full-size view one on
(camera, "record"). Each (camera, role) that someone watches has one :class:`FrameSink` (the Hub
API's shared-memory slot), made by the first lease's factory and closed when its last lease ends or
the hub stops. The pipelines hear of every change (``on_change``) to decode what is watched, and
hand every decoded frame of a watched stream to :meth:`Viewers.deliver`. Thread-safe.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from hub.core.errors import UnavailableError
from hub.core.times import now_ms

logger = logging.getLogger(__name__)


class FrameSink(Protocol):
    """Takes the decoded frames of one watched (camera, role); ``put`` runs on a camera thread."""

    def put(self, frame: Any, ts_ms: int) -> None: ...  # an av.VideoFrame
    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class ViewLease:
    """One open live view."""

    id: int
    camera_id: str
    role: str  # "record" | "detect"
    since_ms: int
    sink: FrameSink | None = dataclasses.field(default=None, compare=False, repr=False)


class Viewers:
    """The live-view leases of one hub, and the sinks of the streams they watch."""

    def __init__(self, on_change: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._leases: dict[int, ViewLease] = {}
        self._sinks: dict[tuple[str, str], FrameSink] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self.on_change = on_change  # called with the camera id after its leases changed

    def acquire(self, camera_id: str, role: str, sink: Callable[[], FrameSink] | None = None) -> ViewLease:
        """Open a lease on a camera's stream. ``sink`` makes the stream's sink when it has none yet
        (the leases of one stream share it); it runs under the lock, so it must be quick."""
        with self._lock:
            if self._closed:
                raise UnavailableError("the hub has stopped")
            key = (camera_id, role)
            shared = self._sinks.get(key)
            if shared is None and sink is not None:
                shared = self._sinks[key] = sink()
            lease = ViewLease(next(self._ids), camera_id, role, now_ms(), shared)
            self._leases[lease.id] = lease
        logger.debug("live view %d of %s (%s) opened", lease.id, camera_id, role)
        self._changed(camera_id)
        return lease

    def release(self, lease_id: int) -> ViewLease | None:
        """End a lease (and its stream's sink when it was the last); the lease it was, or None when
        there is none of that id."""
        with self._lock:
            lease = self._leases.pop(lease_id, None)
            key = (lease.camera_id, lease.role) if lease is not None else None
            last = key is not None and not any((v.camera_id, v.role) == key for v in self._leases.values())
            sink = self._sinks.pop(key) if last and key in self._sinks else None
        if lease is None:
            return None
        logger.debug("live view %d of %s (%s) closed", lease.id, lease.camera_id, lease.role)
        self._changed(lease.camera_id)  # the pipeline stops decoding for it before the sink goes
        if sink is not None:
            _close(sink)
        return lease

    def watched(self, camera_id: str) -> tuple[str, ...]:
        """The roles of ``camera_id`` someone watches now, sorted."""
        with self._lock:
            return tuple(sorted({v.role for v in self._leases.values() if v.camera_id == camera_id}))

    def leases(self) -> list[ViewLease]:
        """Every open lease, oldest first."""
        with self._lock:
            return sorted(self._leases.values(), key=lambda v: v.id)

    def deliver(self, camera_id: str, roles: tuple[str, ...], frame: Any, ts_ms: int) -> None:
        """A decoded frame of ``camera_id`` that serves these roles (camera thread): to their sinks."""
        with self._lock:
            sinks = [s for r in roles if (s := self._sinks.get((camera_id, r))) is not None]
        for sink in sinks:
            try:
                sink.put(frame, ts_ms)
            except Exception:  # noqa: BLE001 - a live view never stops a camera
                logger.warning("%s: live frame not delivered", camera_id, exc_info=True)

    def close(self) -> None:
        """End every lease and close every sink (the hub stops)."""
        with self._lock:
            self._closed = True
            sinks = list(self._sinks.values())
            self._sinks.clear()
            self._leases.clear()
        for sink in sinks:
            _close(sink)

    def _changed(self, camera_id: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(camera_id)
            except Exception:  # noqa: BLE001 - the lease stands; the pipeline logs its own trouble
                logger.warning("%s: live view change not applied", camera_id, exc_info=True)


def _close(sink: FrameSink) -> None:
    try:
        sink.close()
    except Exception:  # noqa: BLE001
        logger.warning("a live-view sink did not close cleanly", exc_info=True)
