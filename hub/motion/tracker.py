"""Motion event state machine: per-frame :class:`MotionResult` in, event start/end actions out.

Pure logic: no clock, no threads. Rules (``MotionSettings``):

* An event starts after ``min_frames`` consecutive moving analysed frames; its ``start_ms`` is the time
  of the first of them. A hole of ``gap_s`` or more between two analysed frames (frames dropped, stream
  stalled) breaks the run.
* An open event is extended by every moving frame less than ``gap_s`` after its last moving frame
  (no ``min_frames`` needed then: one passage of an object is one event). It ends at the first frame,
  moving or not, that comes ``gap_s`` or more after the last moving frame; ``end_ms`` is the time of
  that last moving frame.
* A moving frame at ``start_ms + max_event_s`` or later ends the event at its time and starts the next
  one at the same time, so an event lasts at most ``max_event_s`` plus one analysis interval.
* :meth:`MotionEventTracker.close` ends an open event (stream lost, shutdown) at its last moving frame.
* Frames whose time is not after the last accepted time (duplicates, out of order) are ignored.

``EventEnded.best_frame`` is the ``frame`` object passed with the highest score of the event (the first
one on ties; frames passed as None are skipped), for the thumbnail; the tracker keeps only that one.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from hub.core.model import MotionSettings
from hub.motion.detector import MotionResult

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EventStarted:
    """A motion event opened at ``start_ms``; score and zones are those seen so far."""

    start_ms: int
    score: float
    zones: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class EventEnded:
    """A motion event closed; ``best_frame`` is the caller's frame object at the peak score."""

    start_ms: int
    end_ms: int
    peak_score: float
    zones: tuple[str, ...]
    best_frame: object | None = dataclasses.field(default=None, compare=False, repr=False)


Action = EventStarted | EventEnded


class _Burst:
    """Moving frames gathered into a pending run or an open event."""

    __slots__ = ("start_ms", "last_ms", "frames", "peak", "zones", "best_frame", "best_score")

    def __init__(self, ts_ms: int, score: float, zones: tuple[str, ...], frame: object | None) -> None:
        self.start_ms = ts_ms
        self.last_ms = ts_ms
        self.frames = 0
        self.peak = 0.0
        self.zones: dict[str, None] = {}
        self.best_frame: object | None = None
        self.best_score = -1.0
        self.add(ts_ms, score, zones, frame)

    def add(self, ts_ms: int, score: float, zones: tuple[str, ...], frame: object | None) -> None:
        self.last_ms = ts_ms
        self.frames += 1
        self.peak = max(self.peak, score)
        self.zones.update(dict.fromkeys(zones))
        if frame is not None and score > self.best_score:
            self.best_frame, self.best_score = frame, score

    def zone_names(self) -> tuple[str, ...]:
        return tuple(self.zones)


def _score(result: MotionResult) -> float:
    score = float(result.score)
    return score if math.isfinite(score) and score > 0 else 0.0


class MotionEventTracker:
    """Turns the detector's per-frame results into motion events for one camera."""

    def __init__(self, settings: MotionSettings) -> None:
        self.configure(settings)
        self._last_ts: int | None = None
        self._run: _Burst | None = None  # consecutive moving frames, no event yet
        self._event: _Burst | None = None  # the open event

    def configure(self, settings: MotionSettings) -> None:
        """Use new settings from the next frame on; an open event goes on (it ends by the new gap)."""
        self._min_frames = max(1, int(settings.min_frames))
        self._gap_ms = max(0, round(1000 * settings.gap_s))
        self._max_ms = max(1, round(1000 * settings.max_event_s))

    @property
    def event_open(self) -> bool:
        """True while an event is open (started and not yet ended)."""
        return self._event is not None

    @property
    def open_start_ms(self) -> int | None:
        """Start of the open event, None when none is open."""
        return None if self._event is None else self._event.start_ms

    def update(self, ts_ms: int, result: MotionResult, frame: object | None = None) -> list[Action]:
        """Feed one analysed frame (in time order); return the actions it causes, usually none."""
        if self._last_ts is not None and ts_ms <= self._last_ts:
            logger.debug("motion tracker: frame at %s ignored (last %s)", ts_ms, self._last_ts)
            return []
        self._last_ts = ts_ms
        actions: list[Action] = []
        event = self._event
        if event is not None and ts_ms - event.last_ms >= self._gap_ms:
            actions.append(self._end(event.last_ms))
            event = None
        if not result.moving:
            self._run = None
            return actions
        score, zones = _score(result), tuple(result.zones)
        if event is not None:
            if ts_ms - event.start_ms >= self._max_ms:
                actions.append(self._end(ts_ms))
                self._event = _Burst(ts_ms, score, zones, frame)
                actions.append(EventStarted(ts_ms, score, zones))
            else:
                event.add(ts_ms, score, zones, frame)
            return actions
        run = self._run
        if run is None or ts_ms - run.last_ms >= self._gap_ms:
            run = _Burst(ts_ms, score, zones, frame)
        else:
            run.add(ts_ms, score, zones, frame)
        self._run = run
        if run.frames >= self._min_frames:
            self._event, self._run = run, None
            actions.append(EventStarted(run.start_ms, run.peak, run.zone_names()))
        return actions

    def close(self, ts_ms: int) -> list[Action]:
        """End the open event, if any, at its last moving frame (stream lost, shutdown)."""
        if self._last_ts is None or ts_ms > self._last_ts:
            self._last_ts = ts_ms
        self._run = None
        if self._event is None:
            return []
        return [self._end(self._event.last_ms)]

    def _end(self, end_ms: int) -> EventEnded:
        event = self._event
        assert event is not None
        self._event = None
        return EventEnded(event.start_ms, end_ms, event.peak, event.zone_names(), event.best_frame)
