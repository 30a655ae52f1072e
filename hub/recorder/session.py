"""One connection's worth of recording: packets in, closed segments out.

Cuts at the first keyframe after ``segment_s`` (with a small tolerance: RTP-derived timestamps
put a keyframe at 9.99 s), keeps every packet from the first keyframe on, and maps media time
to wall-clock time with :class:`hub.recorder.clock.WallClock`. The first packets are held for
``hold_s`` after the connection opens so that the burst FFmpeg buffered while probing does not
skew the first segment's wall-clock start.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from drivers.base import PacketSource
from hub.recorder.audio import AudioPath
from hub.recorder.clock import WallClock
from hub.recorder.segment import ClosedSegment, SegmentFile

logger = logging.getLogger(__name__)

CUT_TOLERANCE_S = 0.25


class StorageUnavailable(Exception):
    """The storage folder cannot take a new segment (marker missing, unwritable...)."""


@dataclasses.dataclass
class SessionStats:
    """Counters of one connection (read by the status heartbeat; plain ints)."""

    packets_received: int = 0  # video packets from the first keyframe on
    packets_written: int = 0
    audio_packets: int = 0
    skipped_before_key: int = 0
    segments: int = 0
    repaired_ts: int = 0
    bytes: int = 0


class RecordSession:
    """Feed it packets of one open PacketSource; it writes segments.

    ``check_storage()`` is called before each new file and raises StorageUnavailable to refuse it.
    ``on_closed(seg, unobserved)`` is called for each finished segment (on this thread).
    ``tee(pkt, media_s, wall_ms)`` (optional) receives every video packet from the first keyframe
    on, e.g. to decode the record stream for motion when a camera has no sub stream.
    """

    def __init__(self, camera_id: str, source: PacketSource, root: Path, *, segment_s: float,
                 keep_audio: bool, on_closed: Callable[[ClosedSegment], None],
                 check_storage: Callable[[], None] = lambda: None,
                 tee: Callable[[av.Packet, float, int], None] | None = None,
                 hold_s: float = 1.0, clock: WallClock | None = None) -> None:
        self.camera_id = camera_id
        self.source = source
        self.root = root
        self.segment_s = segment_s
        self.on_closed = on_closed
        self.check_storage = check_storage
        self.tee = tee
        self.clock = clock or WallClock()
        self.stats = SessionStats()
        self.video = source.video
        # Packets carry their own time base (an encoder's differs from its muxer stream's).
        self._vtb: Fraction | None = None
        self._audio: AudioPath | None = None
        if keep_audio and source.audio is not None:
            try:
                self._audio = AudioPath(source.audio)
            except Exception:  # noqa: BLE001 - audio is never worth losing video over
                logger.warning("%s: audio %s cannot be recorded; recording video only", camera_id,
                               source.audio.codec_context.name, exc_info=True)
        self._zero_pts: int | None = None  # first keyframe's pts: media time 0
        self._opened_at = time.time()
        self._hold_s = hold_s
        self._held: list[tuple[av.Packet, float]] | None = []
        self._seg: SegmentFile | None = None
        self._seg_start_s = 0.0
        self._last_video_s = 0.0
        self._frame_s = 1 / 15

    # -- packets ---------------------------------------------------------------------------
    def feed(self, pkt: av.Packet, arrival_s: float) -> None:
        """Handle one packet from the source (video or audio)."""
        if pkt.stream.type == "video":
            if self._zero_pts is None:
                if not pkt.is_keyframe or pkt.pts is None:
                    self.stats.skipped_before_key += 1
                    return
                self._zero_pts = pkt.pts
                self._vtb = pkt.time_base
            if pkt.pts is None:
                pkt.pts = pkt.dts
            if pkt.pts is None:
                self.stats.skipped_before_key += 1
                return
            self.stats.packets_received += 1
            self.clock.observe(arrival_s, self._media_s(pkt.pts))
        elif self._zero_pts is None:
            return  # audio before the first video keyframe has no segment to go to
        if self._held is not None:
            self._held.append((pkt, arrival_s))
            if arrival_s - self._opened_at < self._hold_s:
                return
            held, self._held = self._held, None
            for p, a in held:
                self._handle(p, a)
            return
        self._handle(pkt, arrival_s)

    def _media_s(self, pts: int) -> float:
        return float((pts - self._zero_pts) * self._vtb)

    def _handle(self, pkt: av.Packet, arrival_s: float) -> None:
        if pkt.stream.type == "video":
            media_s = self._media_s(pkt.pts)
            if pkt.is_keyframe and (self._seg is None or media_s - self._seg_start_s >= self.segment_s - CUT_TOLERANCE_S):
                self._cut(pkt, media_s)
            if self._seg is None:
                return
            step = media_s - self._last_video_s
            if 0 < step < 1:
                self._frame_s = step  # frame interval, for the end time of the last frame
            self._last_video_s = max(self._last_video_s, media_s)
            if self.tee is not None:
                self.tee(pkt, media_s, self.clock.wall_ms(media_s))
            self._seg.write_video(pkt)
            self.stats.packets_written += 1
            self.stats.bytes += pkt.size
        elif self._audio is not None and self._seg is not None:
            for out in self._audio.process(pkt):
                self._seg.write_audio(out)
                self.stats.audio_packets += 1

    def _cut(self, pkt: av.Packet, media_s: float) -> None:
        self._close_segment(end_s=media_s)
        self.check_storage()  # raises StorageUnavailable: the caller stops this session
        start_ms = self.clock.wall_ms(media_s)
        audio_tpl = self._audio.template if self._audio is not None else None
        # The RTSP demuxer puts audio and video on one timeline (RTCP), so the segment's start in
        # absolute stream seconds is also where its audio starts.
        audio_base = Fraction(pkt.pts) * self._vtb if self._audio is not None else None
        self._seg = SegmentFile(
            self.root, self.camera_id, start_ms, self.video, video_base_pts=pkt.pts,
            stream_offset=pkt.pts - self._zero_pts, audio_template=audio_tpl, audio_base_s=audio_base,
            time_base=self._vtb,
        )
        self._seg_start_s = media_s
        self._last_video_s = media_s

    def _close_segment(self, end_s: float | None = None) -> None:
        seg, self._seg = self._seg, None
        if seg is None:
            return
        if end_s is None:
            end_s = self._last_video_s + self._frame_s
        closed = seg.close(self.clock.wall_ms(end_s))
        self.stats.repaired_ts += seg.repaired_timestamps
        if closed is not None:
            self.stats.segments += 1
            self.on_closed(closed)

    def finish(self) -> None:
        """Write out held packets and close the open segment (clean stop or lost stream)."""
        if self._held:
            held, self._held = self._held, None
            for p, a in held:
                try:
                    self._handle(p, a)
                except StorageUnavailable:
                    break
        self._held = None
        self._close_segment()
