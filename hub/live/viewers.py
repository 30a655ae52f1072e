"""Who watches which camera live: leases counted per camera and stream role.

A client opening a live tile takes a lease on (camera, "detect"); a single full-size view one on
(camera, "record"). The pipelines ask :meth:`Viewers.watched` to decide what to decode while no
detector needs it (the next step: frames through shared memory). Thread-safe.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading

from hub.core.times import now_ms

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ViewLease:
    """One open live view."""

    id: int
    camera_id: str
    role: str  # "record" | "detect"
    since_ms: int


class Viewers:
    """The live-view leases of one hub."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[int, ViewLease] = {}
        self._ids = itertools.count(1)

    def acquire(self, camera_id: str, role: str) -> ViewLease:
        """Open a lease on a camera's stream."""
        with self._lock:
            lease = ViewLease(next(self._ids), camera_id, role, now_ms())
            self._leases[lease.id] = lease
        logger.debug("live view %d of %s (%s) opened", lease.id, camera_id, role)
        return lease

    def release(self, lease_id: int) -> ViewLease | None:
        """End a lease; the lease it was, or None when there is none of that id."""
        with self._lock:
            lease = self._leases.pop(lease_id, None)
        if lease is not None:
            logger.debug("live view %d of %s (%s) closed", lease.id, lease.camera_id, lease.role)
        return lease

    def watched(self, camera_id: str) -> tuple[str, ...]:
        """The roles of ``camera_id`` someone watches now, sorted."""
        with self._lock:
            return tuple(sorted({v.role for v in self._leases.values() if v.camera_id == camera_id}))

    def leases(self) -> list[ViewLease]:
        """Every open lease, oldest first."""
        with self._lock:
            return sorted(self._leases.values(), key=lambda v: v.id)
