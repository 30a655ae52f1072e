"""Map a stream's media time to host wall-clock time.

A packet's arrival time is its capture time plus a latency that is never negative, so the
smallest ``arrival - media_time`` seen recently is the best estimate of the offset. Packets that
FFmpeg buffered while probing the stream arrive in a burst seconds late; the minimum ignores them
once live packets flow. A sliding window (two buckets) lets the estimate follow slow drift between
the camera's clock and the host's.
"""

from __future__ import annotations

import math
from typing import Any

import av


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


class StreamTimeline:
    """Make one stream's timestamps continuous, repairing jumps the arrival times do not show.

    An RTSP session with several streams switches each stream from "time since its first packet"
    to the NTP-based timeline when the stream's first RTCP sender report arrives: a jump of seconds
    with no frame missing. A camera reboot or a wrap can also jump. A jump in media time that is
    larger than the arrival times allow is taken out (the stream continues one frame later);
    a real gap (the media pause shows in the arrival times too) is kept.
    """

    def __init__(self, max_jump_s: float = 1.0, max_back_s: float = 0.5) -> None:
        self._max_jump = max_jump_s
        self._max_back = max_back_s
        self.shift = 0  # ticks subtracted from every timestamp
        self.jumps = 0
        self._last: int | None = None
        self._last_arrival = 0.0
        self._step: int | None = None

    def correct(self, pkt: av.Packet[Any], arrival_s: float, tb: float) -> int:
        """Rewrite ``pkt``'s pts/dts onto the continuous timeline; return its corrected dts (ticks).

        ``tb`` is the packet's time base as a float (fixed per stream: computed once by the caller).
        """
        raw = pkt.dts if pkt.dts is not None else pkt.pts
        t = raw - self.shift
        if self._last is not None:
            delta = t - self._last
            delta_s = delta * tb
            if delta_s > (arrival_s - self._last_arrival) + self._max_jump or delta_s < -self._max_back:
                step = self._step if self._step else max(1, round(1 / (15 * tb)))
                self.shift += delta - step
                t = self._last + step
                self.jumps += 1
            elif delta > 0 and delta_s < 1.0:
                self._step = delta
        self._last = t
        self._last_arrival = arrival_s
        if self.shift:
            if pkt.pts is not None:
                pkt.pts -= self.shift
            if pkt.dts is not None:
                pkt.dts -= self.shift
        return t
