"""A thread-safe publish/subscribe bus of immutable hub events.

Publishers (camera threads, the DB writer, workers) never wait for subscribers: ``publish`` only
enqueues. Subscriber callbacks run on ONE dedicated thread, ``porchlight-bus``, in publish order;
a slow or failing subscriber delays only other subscribers, never recording. The Qt bridge
(ui/bridge.py) subscribes and re-emits events as signals queued to the GUI thread.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Callable

from hub.core.model import CameraStatus, Event, Protection, Segment

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HubEvent:
    """Base of everything published on the bus."""


@dataclasses.dataclass(frozen=True)
class StatusChanged(HubEvent):
    status: CameraStatus


@dataclasses.dataclass(frozen=True)
class SegmentClosed(HubEvent):
    segment: Segment


@dataclasses.dataclass(frozen=True)
class EventStarted(HubEvent):
    event: Event


@dataclasses.dataclass(frozen=True)
class EventEnded(HubEvent):
    event: Event


@dataclasses.dataclass(frozen=True)
class CamerasChanged(HubEvent):
    """The camera list or a camera's configuration changed."""

    camera_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class StorageChanged(HubEvent):
    state: str  # "ok" | "missing" | "foreign" | "unwritable" | "low_space"
    message: str


@dataclasses.dataclass(frozen=True)
class RetentionRan(HubEvent):
    deleted: int
    bytes_freed: int
    emergency: bool


@dataclasses.dataclass(frozen=True)
class ProtectionChanged(HubEvent):
    protection: Protection
    released: bool


Callback = Callable[[HubEvent], None]


class EventBus:
    """Fan out HubEvents to subscribers on the ``porchlight-bus`` thread."""

    def __init__(self) -> None:
        self._subs: dict[int, tuple[Callback, tuple[type, ...] | None]] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._q: queue.SimpleQueue[HubEvent | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the dispatch thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="porchlight-bus", daemon=True)
                self._thread.start()

    def subscribe(self, callback: Callback, *kinds: type) -> Callable[[], None]:
        """Call ``callback(event)`` on the bus thread for events of ``kinds`` (all when empty).

        Returns a function that unsubscribes.
        """
        with self._lock:
            token = self._next
            self._next += 1
            self._subs[token] = (callback, kinds or None)

        def unsubscribe() -> None:
            with self._lock:
                self._subs.pop(token, None)

        return unsubscribe

    def publish(self, event: HubEvent) -> None:
        """Queue an event for delivery; never blocks."""
        self._q.put(event)

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._q.put(None)  # stop
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            event = self._q.get()
            if event is None:
                return
            with self._lock:
                subs = list(self._subs.values())
            for callback, kinds in subs:
                if kinds is not None and not isinstance(event, kinds):
                    continue
                try:
                    callback(event)
                except Exception:
                    logger.exception("bus subscriber %r failed on %s", callback, type(event).__name__)
