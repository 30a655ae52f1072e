"""Turn a camera's own notifications (motion on/off per region, doorbell presses, digital inputs)
into hub events. Pure: no threads, no I/O; times are ms on the host clock.

Overlapping triggers merge: a camera motion event lasts while any of its sources is active (and
for ``gap_ms`` after, so that a flickering detector makes one event). A start whose stop never
comes (a lost notification, a camera reboot) is closed ``stale_ms`` after it was last confirmed.
A doorbell press is an instant event.
"""

from __future__ import annotations

import dataclasses

from drivers.base import CameraEvent

_KIND = {"motion": "camera_motion", "input": "input"}


@dataclasses.dataclass(frozen=True)
class Started:
    kind: str  # hub event kind: "camera_motion" | "input" | "doorbell"
    start_ms: int


@dataclasses.dataclass(frozen=True)
class Ended:
    kind: str
    start_ms: int
    end_ms: int


@dataclasses.dataclass
class _Open:
    start_ms: int
    active: dict[str, int]  # source -> when last confirmed active
    last_active_ms: int


class CameraEventMerger:
    """Feed CameraEvents (``feed``) and the clock (``tick``); get Started/Ended actions back."""

    def __init__(self, gap_ms: int = 3000, stale_ms: int = 120_000) -> None:
        self.gap_ms = gap_ms
        self.stale_ms = stale_ms
        self._open: dict[str, _Open] = {}

    def feed(self, ev: CameraEvent) -> list[Started | Ended]:
        """One notification; returns the actions it causes."""
        if ev.kind == "doorbell":
            if not ev.active or ev.initialized:
                return []  # a button's release or its state at subscription time is not a press
            return [Started("doorbell", ev.utc_ms), Ended("doorbell", ev.utc_ms, ev.utc_ms)]
        kind = _KIND.get(ev.kind)
        if kind is None:
            return []
        source = ev.source or ""
        cur = self._open.get(kind)
        if ev.active:
            if cur is None:
                self._open[kind] = _Open(ev.utc_ms, {source: ev.utc_ms}, ev.utc_ms)
                return [Started(kind, ev.utc_ms)]
            cur.active[source] = ev.utc_ms
            cur.last_active_ms = max(cur.last_active_ms, ev.utc_ms)
            return []
        if cur is not None:
            cur.active.pop(source, None)
            cur.last_active_ms = max(cur.last_active_ms, ev.utc_ms)
        return []

    def tick(self, now_ms: int) -> list[Started | Ended]:
        """Close events whose sources went quiet (after the gap) or whose stop never came."""
        out: list[Started | Ended] = []
        for kind, cur in list(self._open.items()):
            for source, seen in list(cur.active.items()):
                if now_ms - seen >= self.stale_ms:  # a stop that never came
                    del cur.active[source]
            if not cur.active and now_ms - cur.last_active_ms >= self.gap_ms:
                del self._open[kind]
                out.append(Ended(kind, cur.start_ms, max(cur.start_ms, cur.last_active_ms)))
        return out

    def close_all(self, now_ms: int) -> list[Ended]:
        """End every open event (shutdown, or the event source went down)."""
        out = [
            Ended(kind, cur.start_ms, max(cur.start_ms, min(now_ms, cur.last_active_ms)))
            for kind, cur in self._open.items()
        ]
        self._open.clear()
        return out
