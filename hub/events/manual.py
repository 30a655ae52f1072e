"""Manual events: the owner marks "something is happening" at a camera (the app's record button, the
API's ``start_event``). Each ends by itself after its length unless the owner ends it first; one is
open per camera at a time, and starting again while it is open extends it.

A manual event is an event like any other: in motion mode retention keeps its footage (with pre- and
post-roll), and it is published to subscribers with its index id. The timer runs on one thread,
``porchlight-manual``, which only waits; the index writes go through the sink like a camera's events.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from hub.core.errors import NotFoundError, UnavailableError
from hub.core.model import Event
from hub.core.times import now_ms

logger = logging.getLogger(__name__)

#: How long the hub waits for the index to store a manual event.
WRITE_TIMEOUT_S = 10.0

StartFn = Callable[..., "Future[Event]"]  # IndexSink.event_started
EndFn = Callable[..., "Future[Event]"]  # IndexSink.event_ended


@dataclasses.dataclass
class _Open:
    event: Event  # as stored at its start (with its id)
    deadline_ms: int


class ManualEvents:
    """The open manual events of a hub; every method is thread-safe."""

    def __init__(
        self,
        started: StartFn,
        ended: EndFn,
        picture: Callable[[str], bytes | None] = lambda _camera: None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._started = started
        self._ended = ended
        self._picture = picture  # a JPEG of the camera now, for the event's thumbnail
        self._clock = clock
        self._open: dict[str, _Open] = {}  # camera id -> its open manual event
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="porchlight-manual", daemon=True)

    def start_thread(self) -> None:
        """Start ending events at their deadlines."""
        self._thread.start()

    def start(self, camera_id: str, length_ms: int) -> Event:
        """Start a manual event on ``camera_id`` now, ending by itself after ``length_ms``; when one
        is open there, extend it to end no earlier than that and return it."""
        with self._lock:
            if self._stopped:
                raise UnavailableError("the hub is stopping")
            now = self._clock()
            cur = self._open.get(camera_id)
            if cur is not None:
                cur.deadline_ms = max(cur.deadline_ms, now + length_ms)
                self._changed.notify()
                return cur.event
            jpeg = self._picture(camera_id)
            event = self._started(camera_id, now, 0.0, (), jpeg, kind="manual").result(WRITE_TIMEOUT_S)
            self._open[camera_id] = _Open(event, now + length_ms)
            self._changed.notify()
            logger.info("%s: manual event %s started (%d s)", camera_id, event.id, length_ms // 1000)
            return event

    def end(self, event_id: int) -> Event:
        """End the open manual event ``event_id`` now; return it as stored."""
        with self._lock:
            camera_id = next((c for c, o in self._open.items() if o.event.id == event_id), None)
            if camera_id is None:
                raise NotFoundError(f"no manual event {event_id} is going on (it may have ended)")
            return self._end(camera_id, self._clock())

    def stop(self, timeout: float = 10.0) -> None:
        """End every open manual event now (the hub stops) and the thread."""
        with self._lock:
            self._stopped = True
            now = self._clock()
            for camera_id in list(self._open):
                try:
                    self._end(camera_id, now)
                except Exception:  # noqa: BLE001 - the index refused: it closes the event at the next start
                    logger.warning("%s: could not end its manual event", camera_id, exc_info=True)
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- with the lock held ---------------------------------------------------------------------------
    def _end(self, camera_id: str, at_ms: int) -> Event:
        cur = self._open.pop(camera_id)
        start = cur.event.start_ms
        event = self._ended(camera_id, start, max(at_ms, start), 0.0, (), None, kind="manual")
        ended = event.result(WRITE_TIMEOUT_S)
        logger.info("%s: manual event %s ended", camera_id, ended.id)
        return ended

    def _run(self) -> None:
        with self._lock:
            while not self._stopped:
                now = self._clock()
                for camera_id, cur in list(self._open.items()):
                    if cur.deadline_ms <= now:
                        try:
                            self._end(camera_id, cur.deadline_ms)
                        except Exception:  # noqa: BLE001 - logged; the next start closes it
                            logger.warning("%s: could not end its manual event", camera_id, exc_info=True)
                deadlines = [o.deadline_ms for o in self._open.values()]
                wait = (min(deadlines) - now) / 1000 if deadlines else None
                self._changed.wait(None if wait is None else max(0.01, wait))
