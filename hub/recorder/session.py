"""One connection's worth of recording: packets in, closed segments out.

Cuts at the first keyframe after ``segment_s`` (with a small tolerance: RTP-derived timestamps
put a keyframe at 9.99 s) and keeps every packet from the first keyframe on. Each stream's
timestamps are made continuous (:class:`StreamTimeline`) and mapped to wall-clock time from their
arrival (:class:`WallClock`); audio is placed on the video's timeline through the two clocks, so
it stays in sync even before the RTSP session's RTCP reports align the streams. The first
packets are held for ``hold_s`` so that the burst FFmpeg buffered while probing does not skew the
first segment's wall-clock start.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from drivers.base import PacketSource
from hub.core.errors import StorageUnavailable
from hub.recorder.audio import AudioPath
from hub.recorder.clock import StreamTimeline, WallClock
from hub.recorder.segment import ClosedSegment, SegmentFile, WriteFailed

logger = logging.getLogger(__name__)

CUT_TOLERANCE_S = 0.25
PREV_AUDIO_WAIT_S = 2.0  # how long a cut file waits for late audio before it is closed
AUDIO_RELATCH_S = 1.0  # only a real drift of the audio clock, not arrival jitter under load


@dataclasses.dataclass
class SessionStats:
    """Counters of one connection (read by the status heartbeat; plain ints)."""

    packets_received: int = 0  # video packets from the first keyframe on
    packets_written: int = 0
    audio_packets: int = 0
    skipped_before_key: int = 0
    segments: int = 0
    repaired_ts: int = 0
    timestamp_jumps: int = 0
    bytes: int = 0


class RecordSession:
    """Feed it packets of one open PacketSource; it writes segments.

    ``check_storage()`` is called before each new file and raises StorageUnavailable to refuse it.
    ``on_closed(seg)`` is called for each finished segment (on this thread).
    ``tee(pkt, media_s, wall_ms)`` (optional) receives every video packet from the first keyframe
    on, e.g. to decode the record stream for motion when a camera has no sub stream.
    """

    def __init__(
        self,
        camera_id: str,
        source: PacketSource,
        root: Path,
        *,
        segment_s: float,
        keep_audio: bool,
        on_closed: Callable[[ClosedSegment], None],
        check_storage: Callable[[], None] = lambda: None,
        tee: Callable[[av.Packet[Any], float, int], None] | None = None,
        hold_s: float = 1.0,
    ) -> None:
        self.camera_id = camera_id
        self.source = source
        self.root = root
        self.segment_s = segment_s
        self.on_closed = on_closed
        self.check_storage = check_storage
        self.tee = tee
        self.clock = WallClock()  # video: absolute corrected seconds -> host wall clock
        self.stats = SessionStats()
        self.video = source.video
        self._vline = StreamTimeline()
        self._aline = StreamTimeline()
        self._aclock = WallClock()
        self._shift: float | None = None
        self._audio: AudioPath | None = None
        if keep_audio and source.audio is not None:
            try:
                self._audio = AudioPath(source.audio)
            except Exception:  # noqa: BLE001 - audio is never worth losing video over
                logger.warning(
                    "%s: audio %s cannot be recorded; recording video only",
                    camera_id,
                    source.audio.codec_context.name,
                    exc_info=True,
                )
        self._vtb: Fraction | None = None  # packets carry their own time base (an encoder's may
        self._vtb_f = 0.0  # differ from its muxer stream's); as a float for the per-packet path
        self._atb_f: float | None = None
        self._zero_pts: int | None = None  # the first keyframe's pts
        self._opened_at = time.time()
        self._hold_s = hold_s
        self._held: list[tuple[av.Packet[Any], float]] | None = []
        self._seg: SegmentFile | None = None
        # After a cut, the previous file stays open for audio that belongs before the cut but
        # arrives after it (audio lags video); it is closed once audio passes the cut.
        self._prev: tuple[SegmentFile, float, int] | None = None  # (file, cut in audio s, end ms)
        self._seg_start_s = 0.0
        self._last_video_s = 0.0
        self._frame_s = 1 / 15

    # -- packets ---------------------------------------------------------------------------
    def feed(self, pkt: av.Packet[Any], arrival_s: float) -> None:
        """Handle one packet from the source (video or audio)."""
        if pkt.pts is None and pkt.dts is None:
            if pkt.stream.type == "video":
                self.stats.skipped_before_key += 1
            return
        if pkt.stream is self.video or pkt.stream.type == "video":
            if self._zero_pts is None:
                if not pkt.is_keyframe:
                    self.stats.skipped_before_key += 1
                    return
                self._vtb = pkt.time_base
                self._vtb_f = float(self._vtb)
            if pkt.pts is None:
                pkt.pts = pkt.dts
            self._vline.correct(pkt, arrival_s, self._vtb_f)
            if self._zero_pts is None:
                self._zero_pts = pkt.pts
            self.stats.packets_received += 1
            self.clock.observe(arrival_s, pkt.pts * self._vtb_f)
        else:
            if self._zero_pts is None or self._audio is None:
                return  # audio before the first video keyframe has no segment to go to
            if pkt.pts is None:
                pkt.pts = pkt.dts
            if self._atb_f is None:
                self._atb_f = float(pkt.time_base)
            self._aline.correct(pkt, arrival_s, self._atb_f)
            self._aclock.observe(arrival_s, pkt.pts * self._atb_f)
        if self._held is not None:
            self._held.append((pkt, arrival_s))
            if arrival_s - self._opened_at < self._hold_s:
                return
            held, self._held = self._held, None
            for p, _a in held:
                self._handle(p)
            return
        self._handle(pkt)

    def _audio_shift_s(self) -> float:
        """Audio time minus video time of the same instant (through the arrival clocks).

        Fixed once per connection (after the hold, when both clocks have settled) so that audio
        stays continuous across files; re-fixed only if the estimate drifts by more than
        ``AUDIO_RELATCH_S`` (e.g. a camera's audio clock running at another rate).
        """
        if not self._aclock.ready:
            return self._shift or 0.0
        estimate = self.clock.offset() - self._aclock.offset()
        if self._shift is None or abs(estimate - self._shift) > AUDIO_RELATCH_S:
            if self._shift is not None:
                logger.info(
                    "%s: audio/video alignment moved by %.0f ms",
                    self.camera_id,
                    1000 * (estimate - self._shift),
                )
            self._shift = estimate
        return self._shift

    def _handle(self, pkt: av.Packet[Any]) -> None:
        if pkt.stream is self.video or pkt.stream.type == "video":
            abs_s = pkt.pts * self._vtb_f
            if pkt.is_keyframe and (
                self._seg is None or abs_s - self._seg_start_s >= self.segment_s - CUT_TOLERANCE_S
            ):
                self._cut(pkt, abs_s)
            if self._seg is None:
                return
            step = abs_s - self._last_video_s
            if 0 < step < 1:
                self._frame_s = step  # frame interval, for the end time of the last frame
            self._last_video_s = max(self._last_video_s, abs_s)
            if self.tee is not None:
                self.tee(pkt, abs_s, self.clock.wall_ms(abs_s))
            self._seg.write_video(pkt)
            self.stats.packets_written += 1
            self.stats.bytes += pkt.size
            if self._prev is not None and abs_s - self._seg_start_s > PREV_AUDIO_WAIT_S:
                self._close_prev()  # no audio came for the old file: stop waiting
        elif self._audio is not None and self._seg is not None:
            for out in self._audio.process(pkt):
                if self._prev is not None:
                    if out.pts is not None and float(out.pts * out.time_base) < self._prev[1]:
                        self._prev[0].write_audio(out)
                        self.stats.audio_packets += 1
                        continue
                    self._close_prev()
                self._seg.write_audio(out)
                self.stats.audio_packets += 1

    def _cut(self, pkt: av.Packet[Any], abs_s: float) -> None:
        audio_start = abs_s + self._audio_shift_s()  # this instant on the audio timeline
        if self._audio is not None and self._seg is not None:
            self._close_prev()
            self._prev = (self._seg, audio_start, self.clock.wall_ms(abs_s))
            self._seg = None
        else:
            self._close_segment(end_s=abs_s)
        self.check_storage()  # raises StorageUnavailable: the caller stops this session
        self._seg = SegmentFile(
            self.root,
            self.camera_id,
            self.clock.wall_ms(abs_s),
            self.video,
            video_base_pts=pkt.pts,
            stream_offset=pkt.pts - self._zero_pts,
            time_base=self._vtb,
            audio_template=self._audio.template if self._audio is not None else None,
            audio_base_s=Fraction(audio_start) if self._audio is not None else None,
        )
        self._seg_start_s = abs_s
        self._last_video_s = abs_s

    def _close_prev(self) -> None:
        prev, self._prev = self._prev, None
        if prev is not None:
            self._finish_file(prev[0], prev[2])

    def _close_segment(self, end_s: float | None = None) -> None:
        seg, self._seg = self._seg, None
        if seg is None:
            return
        if end_s is None:
            end_s = self._last_video_s + self._frame_s
        self._finish_file(seg, self.clock.wall_ms(end_s))

    def _finish_file(self, seg: SegmentFile, end_ms: int) -> None:
        closed = seg.close(end_ms)
        self.stats.repaired_ts += seg.repaired_timestamps
        self.stats.timestamp_jumps = self._vline.jumps + self._aline.jumps
        if closed is not None:
            self.stats.segments += 1
            self.on_closed(closed)

    def finish(self) -> None:
        """Write out held packets and close the open segment (clean stop or lost stream)."""
        if self._held:
            held, self._held = self._held, None
            for p, _a in held:
                try:
                    self._handle(p)
                except (StorageUnavailable, WriteFailed):
                    break
        self._held = None
        self._close_prev()
        self._close_segment()
