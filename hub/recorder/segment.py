"""One fragmented-MP4 segment file being written.

Fragments of at most ~1 s (``frag_duration``) are flushed as they complete, so a killed process
leaves a playable file that loses at most the open fragment. Timestamps inside a file start at
zero; the file's metadata (``comment`` tag) records the camera, the wall-clock start and the
segment's offset in the stream, so the index can be rebuilt from the files alone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import av.stream

from hub.storage.layout import SEGMENT_META_TAG, encode_segment_meta, segment_relpath

logger = logging.getLogger(__name__)

MUX_OPTIONS = {
    # delay_moov: the moov waits for the first fragment so that a track starting after 0 (audio
    # never lines up with the cutting keyframe) gets an edit list instead of being shifted to 0.
    "movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof",
    "frag_duration": "1000000",  # µs: a fragment never holds more than ~1 s (long GOPs)
    "flush_packets": "1",
}


@dataclasses.dataclass(frozen=True)
class ClosedSegment:
    """A finished segment file, ready to index."""

    relpath: str
    start_ms: int
    end_ms: int
    frames: int
    bytes: int
    has_audio: bool


class _Track:
    """An output stream and the per-stream timestamp bookkeeping."""

    __slots__ = ("stream", "base", "last_dts", "fixed")

    def __init__(self, stream: av.stream.Stream, base: int) -> None:
        self.stream = stream
        self.base = base  # input pts that maps to 0 in this file
        self.last_dts: int | None = None
        self.fixed = 0

    def mux(self, container: av.container.OutputContainer, pkt: av.Packet) -> bool:
        pts = None if pkt.pts is None else pkt.pts - self.base
        dts = pts if pkt.dts is None else pkt.dts - self.base
        if dts is None or dts < 0:
            return False  # before this file's first keyframe (e.g. audio straddling the cut)
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1  # muxers need strictly increasing dts; count the repair
            self.fixed += 1
        if pts is None or pts < dts:
            pts = dts
        pkt.pts, pkt.dts = pts, dts
        pkt.stream = self.stream
        container.mux(pkt)
        self.last_dts = dts
        return True


class SegmentFile:
    """Write packets of one segment; ``close()`` returns what to index."""

    def __init__(self, root: Path, camera_id: str, start_ms: int, video_template: av.stream.Stream,
                 video_base_pts: int, stream_offset: int, audio_template: av.stream.Stream | None = None,
                 audio_base_s: Fraction | None = None, time_base: Fraction | None = None) -> None:
        self.relpath = segment_relpath(camera_id, start_ms)
        self.path = root / self.relpath
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start_ms = start_ms
        self.frames = 0
        self.has_audio = False
        self._container = av.open(str(self.path), "w", format="mp4", options=MUX_OPTIONS)
        self._container.metadata[SEGMENT_META_TAG] = encode_segment_meta(
            camera=camera_id, start_ms=start_ms, stream_offset=stream_offset,
            time_base=str(time_base or video_template.time_base),
        )
        try:
            self._video = _Track(self._container.add_stream_from_template(video_template), video_base_pts)
            self._audio: _Track | None = None
            if audio_template is not None and audio_base_s is not None:
                tb = audio_template.time_base
                base = round(audio_base_s / tb) if tb else 0
                self._audio = _Track(self._container.add_stream_from_template(audio_template), base)
        except Exception:
            self._abort()
            raise

    def write_video(self, pkt: av.Packet) -> None:
        """Mux one video packet (input time base)."""
        if self._video.mux(self._container, pkt):
            self.frames += 1

    def write_audio(self, pkt: av.Packet) -> None:
        """Mux one audio packet (AAC, its own time base)."""
        if self._audio is not None and self._audio.mux(self._container, pkt):
            self.has_audio = True

    @property
    def repaired_timestamps(self) -> int:
        """How many packets needed their dts nudged to stay strictly increasing."""
        return self._video.fixed + (self._audio.fixed if self._audio else 0)

    def close(self, end_ms: int) -> ClosedSegment | None:
        """Finish the file; None when it holds no frame (the empty file is removed)."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - a full disk at the trailer: the fragments written still play
            logger.warning("closing %s failed; keeping the fragments written", self.relpath, exc_info=True)
        if self.frames == 0:
            self._remove()
            return None
        try:
            size = self.path.stat().st_size
        except OSError:
            return None
        return ClosedSegment(self.relpath, self.start_ms, max(end_ms, self.start_ms + 1), self.frames,
                             size, self.has_audio)

    def _abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001
            pass
        self._remove()

    def _remove(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
