"""One fragmented-MP4 segment file being written.

Fragments of at most ~1 s (``frag_duration``) are written as they complete, so a killed process
leaves a playable file that loses at most the open fragment. Timestamps inside a file start at
zero; the file's metadata (``comment`` tag) records the camera, the wall-clock start and the
segment's offset in the stream, so the index can be rebuilt from the files alone.

The file is written through our own file object: it knows how many bytes reached the disk, stops
at the first failed write (a full disk) so the file stays an exact prefix of what was muxed, and
measures the size on the open descriptor (still right after the disk was unmounted). A segment
cut short that way is trimmed to its complete fragments and indexed with the frames that play.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import av.stream

from hub.storage.layout import SEGMENT_META_TAG, encode_segment_meta, segment_relpath
from hub.storage.scan import index_segment_file, quarantine

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

logger = logging.getLogger(__name__)

MUX_OPTIONS = {
    # delay_moov: the moov waits for the first fragment so that a track starting after 0 (audio
    # never lines up with the cutting keyframe) gets an edit list instead of being shifted to 0.
    "movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof",
    "frag_duration": "1000000",  # µs: a fragment never holds more than ~1 s (long GOPs)
    # A completed fragment goes to the OS at once, not when the I/O buffer fills (a kill then
    # loses only the open fragment). The muxer holds fragments in memory, so this adds no writes.
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
    lost_frames: int = 0  # frames muxed but not on the disk (a write failed: full disk)


class WriteFailed(OSError):
    """Writing the segment failed (``errno`` tells why: ENOSPC for a full disk)."""


class _TrackedFile(io.RawIOBase):
    """A write-only file that counts what reached the disk and refuses writes after a failure."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        self.written = 0
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        if self.error is not None:
            raise WriteFailed(self.error.errno, "an earlier write failed")
        try:
            n = os.write(self._fd, data)
        except OSError as exc:
            self.error = exc
            raise
        self.written = max(self.written, os.lseek(self._fd, 0, os.SEEK_CUR))
        if n < memoryview(data).nbytes:  # a short write: the disk filled up in the middle of it
            self.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def size(self) -> int:
        """Bytes in the file, measured on the open descriptor."""
        return os.fstat(self._fd).st_size

    def finish(self) -> None:
        """Flush to the disk (closed segments survive a power cut) and close."""
        if self._fd < 0:
            return
        try:
            if self.error is not None:
                os.ftruncate(self._fd, self.written)  # keep the exact prefix that was written
            os.fdatasync(self._fd)
        except OSError:
            logger.debug("flushing a segment failed", exc_info=True)
        finally:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:  # PyAV may close its file object: our finish() does the real work
        pass


class _Track:
    """An output stream and the per-stream timestamp bookkeeping."""

    __slots__ = ("stream", "base", "last_dts", "fixed")

    def __init__(self, stream: av.stream.Stream, base: int) -> None:
        self.stream = stream
        self.base = base  # input pts that maps to 0 in this file
        self.last_dts: int | None = None
        self.fixed = 0

    def mux(self, container: av.container.OutputContainer, pkt: av.Packet[Any]) -> bool:
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

    def __init__(
        self,
        root: Path,
        camera_id: str,
        start_ms: int,
        video_template: av.stream.Stream,
        video_base_pts: int,
        stream_offset: int,
        audio_template: av.stream.Stream | None = None,
        audio_base_s: Fraction | None = None,
        time_base: Fraction | None = None,
    ) -> None:
        self.root = root
        self.relpath = segment_relpath(camera_id, start_ms)
        self.path = root / self.relpath
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start_ms = start_ms
        self.frames = 0
        self.has_audio = False
        self._file = _TrackedFile(self.path)
        try:
            self._container = av.open(self._file, "w", format="mp4", options=MUX_OPTIONS)
            self._container.metadata[SEGMENT_META_TAG] = encode_segment_meta(
                camera=camera_id,
                start_ms=start_ms,
                stream_offset=stream_offset,
                time_base=str(time_base or video_template.time_base),
            )
            self._video = _Track(self._container.add_stream_from_template(video_template), video_base_pts)
            self._audio: _Track | None = None
            if audio_template is not None and audio_base_s is not None:
                tb = audio_template.time_base
                base = round(audio_base_s / tb) if tb else 0
                self._audio = _Track(self._container.add_stream_from_template(audio_template), base)
        except Exception:
            self._file.finish()
            self._remove()
            raise

    @property
    def failed(self) -> bool:
        """True once a write failed (the file holds only what was written before)."""
        return self._file.error is not None

    def _mux(self, track: _Track, pkt: av.Packet[Any]) -> bool:
        if self._file.error is not None:
            raise WriteFailed(
                self._file.error.errno, f"cannot write {self.relpath}: {self._file.error.strerror}"
            )
        try:
            return track.mux(self._container, pkt)
        except (OSError, av.error.FFmpegError) as exc:
            err = self._file.error or exc
            raise WriteFailed(
                getattr(err, "errno", None) or errno.EIO,
                f"cannot write {self.relpath}: {getattr(err, 'strerror', None) or err}",
            ) from None

    def write_video(self, pkt: av.Packet[Any]) -> None:
        """Mux one video packet (input time base); raises WriteFailed when the disk refuses it."""
        if self._mux(self._video, pkt):
            self.frames += 1

    def write_audio(self, pkt: av.Packet[Any]) -> None:
        """Mux one audio packet (AAC, its own time base)."""
        if self._audio is not None and self._mux(self._audio, pkt):
            self.has_audio = True

    @property
    def repaired_timestamps(self) -> int:
        """How many packets needed their dts nudged to stay strictly increasing."""
        return self._video.fixed + (self._audio.fixed if self._audio else 0)

    def close(self, end_ms: int) -> ClosedSegment | None:
        """Finish the file; None when it holds no playable frame."""
        if not self.failed:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the fragments already written still play
                logger.warning(
                    "closing %s failed; keeping the fragments written", self.relpath, exc_info=True
                )
        else:
            try:
                self._container.close()  # nothing more reaches the disk: the file refuses writes
            except Exception:  # noqa: BLE001
                pass
        size = self._file.size() if self._file.error is None else self._file.written
        self._file.finish()
        if self.frames == 0:
            self._remove()
            return None
        if self.failed or size == 0:
            return self._salvage(end_ms)
        return ClosedSegment(
            self.relpath, self.start_ms, max(end_ms, self.start_ms + 1), self.frames, size, self.has_audio
        )

    def _salvage(self, end_ms: int) -> ClosedSegment | None:
        """A write failed: trim to the complete fragments and index what plays (or quarantine it)."""
        try:
            seg, info = index_segment_file(self.root, self.relpath, repair=True)
        except OSError:
            logger.warning("%s is unreadable after a failed write", self.relpath, exc_info=True)
            return None
        if seg is None:
            logger.warning("%s holds nothing playable after a failed write: quarantined", self.relpath)
            try:
                quarantine(self.root, self.relpath, info.error or "cut short by a failed write")
            except OSError:
                self._remove()
            return None
        logger.warning(
            "%s was cut short by a failed write: %d of %d frames kept", self.relpath, seg.frames, self.frames
        )
        return ClosedSegment(
            self.relpath,
            self.start_ms,
            min(end_ms, seg.end_ms),
            seg.frames,
            seg.bytes,
            seg.has_audio,
            lost_frames=max(0, self.frames - seg.frames),
        )

    def _remove(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
