"""Map a stream's media time to host wall-clock time.

A packet's arrival time is its capture time plus a latency that is never negative, so the
smallest ``arrival - media_time`` seen recently is the best estimate of the offset. Packets that
FFmpeg buffered while probing the stream arrive in a burst seconds late; the minimum ignores them
once live packets flow. A sliding window (two buckets) lets the estimate follow slow drift between
the camera's clock and the host's.
"""

from __future__ import annotations

import math


class WallClock:
    """Estimate ``wall = media + offset`` from (arrival, media) observations, in seconds."""

    def __init__(self, window_s: float = 30.0) -> None:
        self._window = window_s
        self._bucket_start: float | None = None
        self._cur = math.inf
        self._prev = math.inf

    def observe(self, arrival_s: float, media_s: float) -> None:
        """Record that media time ``media_s`` arrived at host time ``arrival_s``."""
        if self._bucket_start is None:
            self._bucket_start = arrival_s
        elif arrival_s - self._bucket_start >= self._window:
            self._prev, self._cur = self._cur, math.inf
            self._bucket_start = arrival_s
        off = arrival_s - media_s
        if off < self._cur:
            self._cur = off

    @property
    def ready(self) -> bool:
        """True once at least one observation was made."""
        return self._bucket_start is not None

    def offset(self) -> float:
        """Current offset (host wall seconds minus media seconds)."""
        return min(self._cur, self._prev)

    def wall_ms(self, media_s: float) -> int:
        """Host wall-clock ms for a media time."""
        return int(round((media_s + self.offset()) * 1000))
