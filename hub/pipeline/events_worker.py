"""A camera's own events (the driver's subscription, e.g. ONVIF PullPoint): subscribed while the
camera runs, merged into hub events on thread ``porchlight-evt-<camera>``.

The subscription calls back on a thread of the driver's; callbacks only enqueue. This thread merges
notifications (``hub.events.merger``), closes events whose stop never came, and remembers when the
source was up, so that in camera-events mode footage recorded while the source was down is kept
(nothing is lost to an unseen event).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from drivers.base import CameraEvent, EventListener, EventSubscription, StatusListener
from hub.core.times import now_ms
from hub.events.merger import CameraEventMerger, Ended, Started
from hub.pipeline.context import PipelineContext

logger = logging.getLogger(__name__)

TICK_S = 1.0


#: Makes the (unstarted) subscription, on the worker's thread: it may read the keyring.
SourceFactory = Callable[[EventListener, StatusListener], EventSubscription]


class CameraEventsWorker:
    """Runs while the camera's pipeline runs."""

    def __init__(
        self, ctx: PipelineContext, factory: SourceFactory, latest_frame: Callable[[], Any] = lambda: None
    ) -> None:
        self.ctx = ctx
        self.cam = ctx.config.id
        self._factory = factory
        self._latest_frame = latest_frame
        self._q: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"porchlight-evt-{self.cam}", daemon=True)
        self._merger = CameraEventMerger()
        self._up_since: int | None = None
        self._spans: collections.deque[tuple[int, int]] = collections.deque(maxlen=256)
        self._lock = threading.Lock()
        self.state = "starting"
        self.error: str | None = None
        self.counters = {"notifications": 0, "events": 0, "outages": 0}
        self._source: EventSubscription | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe and start merging."""
        self._thread.start()

    def stop(self) -> None:
        """Unsubscribe; open events are closed."""
        self._stop.set()
        self._q.put(("stop", None))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- callbacks (the driver's thread): enqueue only ----------------------------------------------
    def _on_event(self, ev: CameraEvent) -> None:
        self._q.put(("event", ev))

    def _on_status(self, state: str, reason: str | None) -> None:
        self._q.put(("status", (state, reason)))

    # -- queries ---------------------------------------------------------------------------
    def observed(self, start_ms: int, end_ms: int) -> bool:
        """True when the camera's event source was up throughout [start_ms, end_ms]."""
        with self._lock:
            if self._up_since is not None and self._up_since <= start_ms:
                return True
            return any(a <= start_ms and b >= end_ms for a, b in self._spans)

    def stats(self) -> dict[str, Any]:
        """Counters for the status heartbeat."""
        return {**self.counters, "state": self.state, "error": self.error}

    # -- thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._source = self._factory(self._on_event, self._on_status)
            self._source.start()
        except Exception as exc:  # noqa: BLE001 - a camera without working events still records
            logger.warning("%s: camera events unavailable: %s", self.cam, exc)
            self._set_status("down", str(exc))
        try:
            while not self._stop.is_set():
                try:
                    kind, item = self._q.get(timeout=TICK_S)
                except queue.Empty:
                    kind, item = "tick", None
                if kind == "event":
                    self.counters["notifications"] += 1
                    self._apply(self._merger.feed(item))
                elif kind == "status":
                    self._set_status(*item)
                self._apply(self._merger.tick(now_ms()))
        finally:
            if self._source is not None:
                try:
                    self._source.stop()
                except Exception:  # noqa: BLE001
                    logger.debug("%s: stopping the event source failed", self.cam, exc_info=True)
            self._apply(self._merger.close_all(now_ms()))
            self._set_status("down", None)

    def _set_status(self, state: str, reason: str | None) -> None:
        now = now_ms()
        with self._lock:
            if state == "ok" and self._up_since is None:
                self._up_since = now
            elif state != "ok" and self._up_since is not None:
                self._spans.append((self._up_since, now))
                self._up_since = None
                self.counters["outages"] += 1
        if state != self.state:
            log = logger.info if state == "ok" else logger.warning
            log("%s: camera events %s%s", self.cam, state, f" ({reason})" if reason else "")
        self.state, self.error = state, reason
        if state != "ok":
            # An outage ends what is open: the stop may never come.
            self._apply(self._merger.close_all(now))

    def _apply(self, actions: Sequence[Started | Ended]) -> None:
        for a in actions:
            if isinstance(a, Started):
                self.counters["events"] += 1
                frame = self._latest_frame()
                jpeg = None
                if frame is not None:
                    from hub.pipeline.detect_worker import jpeg_of

                    jpeg = jpeg_of(frame[1])
                self.ctx.on_event_started(self.cam, a.start_ms, 0.0, (), jpeg, kind=a.kind, source="camera")
            else:
                self.ctx.on_event_ended(
                    self.cam, a.start_ms, a.end_ms, 0.0, (), None, kind=a.kind, source="camera"
                )
