"""Is a segment file playable, and what is in it? Demuxing only (no decoding), so it is cheap.

Segment files are fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``, fragments of about
a second). A process killed mid-write leaves a *torn* file: complete fragments followed by a partial
one. FFmpeg reads the complete fragments and flags the packet cut by the end of the file as corrupt;
only complete packets count as frames here. Cut at some points inside a fragment header, FFmpeg (and
every player built on it) refuses to open the whole file; the probe then reads only the complete
fragments (``intact_bytes``), which ``scan.index_segment_file(repair=True)`` can trim the file to.
A file torn inside its first fragment has no frame and is not playable. ``decode_check`` decodes every complete frame, for tests and verification.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import re
import struct
from typing import TYPE_CHECKING, Any

import av
import av.error

from hub.storage.layout import SEGMENT_META_TAG, decode_segment_meta

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger(__name__)

_FFMPEG_ERRORS = (av.error.FFmpegError, OSError, EOFError, ValueError)
_BOX_TYPE = re.compile(rb"[A-Za-z0-9]{4}")


@dataclasses.dataclass(frozen=True)
class SegmentFileInfo:
    """What ``probe_segment_file`` found.

    ``error`` is None for a clean file, else the first problem found (a playable file may still
    have one, e.g. a cut-off last fragment: then ``torn`` is True too).
    """

    playable: bool
    frames: int = 0  # complete video packets
    duration_ms: int = 0  # from the video timestamps of the complete packets
    has_audio: bool = False
    meta: dict[str, Any] | None = None  # decoded ``comment`` tag (see layout.decode_segment_meta)
    error: str | None = None
    keyframes: int = 0
    torn: bool = False  # the file ends inside an MP4 box: the process writing it was cut off
    intact_bytes: int = 0  # length up to the end of the last complete fragment (the size if not torn)


def _box_walk(path: str, size: int) -> tuple[bool, bool, int]:
    """(is_mp4, torn, intact_bytes) from the top-level MP4 boxes.

    ``is_mp4``: the file starts with an ``ftyp`` box and every box header looks like one.
    ``torn``: the file ends inside a box. ``intact_bytes``: where the last complete box ends, not
    counting a trailing ``moof`` whose ``mdat`` is missing; it equals the size of a whole file.
    """
    offset = intact = 0
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            header = f.read(16)
            if len(header) < 8:
                return offset > 0, True, intact
            box_size = struct.unpack(">I", header[:4])[0]
            kind = header[4:8]
            if not _BOX_TYPE.fullmatch(kind) or (offset == 0 and kind != b"ftyp"):
                return False, False, 0
            if box_size == 1:  # a 64-bit size follows the type
                if len(header) < 16:
                    return True, True, intact
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # the box runs to the end of the file
                return True, False, size
            if box_size < 8:
                return False, False, 0
            if offset + box_size > size:
                return True, True, intact
            offset += box_size
            if kind != b"moof":
                intact = offset
    return True, False, size


class _Head(io.RawIOBase):
    """The first ``limit`` bytes of a file, as a seekable read-only stream (for PyAV)."""

    def __init__(self, path: str, limit: int) -> None:
        self._f = open(path, "rb")  # closed by close()
        self._limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        room = max(0, self._limit - self._f.tell())
        view = memoryview(buffer)[:room]
        return self._f.readinto(view) or 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._f.seek(self._limit + offset)
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()
        super().close()


def _open(path: str, torn: bool, intact: int) -> tuple[av.container.InputContainer, _Head | None]:
    """Open the file; when FFmpeg refuses a torn one, open only its complete fragments."""
    try:
        return av.open(path, format="mp4", metadata_errors="ignore"), None
    except _FFMPEG_ERRORS:
        if not torn or intact == 0:
            raise
    head = _Head(path, intact)
    try:
        return av.open(head, mode="r", format="mp4", metadata_errors="ignore"), head
    except BaseException:
        head.close()
        raise


def _short(exc: BaseException) -> str:
    """A one-line reason without the file name (PyAV appends it)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().rstrip(".")


def probe_segment_file(path: str | os.PathLike[str]) -> SegmentFileInfo:
    """Open and demux a segment file; count complete video frames and measure their duration."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        is_mp4, torn, intact = _box_walk(path, size)
    except OSError as exc:
        return SegmentFileInfo(False, error=f"cannot read the file ({_short(exc)})")
    if size == 0:
        return SegmentFileInfo(False, error="the file is empty")
    if not is_mp4:
        return SegmentFileInfo(False, error="not an MP4 video file")
    try:
        container, head = _open(path, torn, intact)
    except _FFMPEG_ERRORS as exc:
        why = "it was cut off before its first complete part" if torn else _short(exc)
        return SegmentFileInfo(
            False, error=f"not a readable video file: {why}", torn=torn, intact_bytes=intact
        )
    with container, head or contextlib.nullcontext():
        meta = decode_segment_meta(container.metadata.get(SEGMENT_META_TAG))
        if not container.streams.video:
            return SegmentFileInfo(
                False, meta=meta, error="the file has no video track", torn=torn, intact_bytes=intact
            )
        video = container.streams.video[0]
        time_base = video.time_base
        streams = [video, *container.streams.audio[:1]]
        frames = keyframes = corrupt = audio_packets = 0
        first_ts: int | None = None
        last_ts: int | None = None
        last_duration = 0
        error: str | None = None
        try:
            for packet in container.demux(streams):
                if packet.size == 0:  # end-of-stream flush packet
                    continue
                if packet.is_corrupt:
                    corrupt += 1
                    continue
                if packet.stream.index != video.index:
                    audio_packets += 1
                    continue
                frames += 1
                keyframes += packet.is_keyframe
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None:
                    continue
                if first_ts is None or ts < first_ts:
                    first_ts = ts
                if last_ts is None or ts >= last_ts:
                    last_ts, last_duration = ts, packet.duration or 0
        except _FFMPEG_ERRORS as exc:
            error = f"could not be read to the end ({_short(exc)})"
    duration_ms = 0
    if first_ts is not None and last_ts is not None and time_base is not None:
        if last_duration <= 0 and frames > 1:  # estimate the last frame's length from the average
            last_duration = (last_ts - first_ts) // (frames - 1)
        duration_ms = round((last_ts + last_duration - first_ts) * time_base * 1000)
    if torn or corrupt:
        error = error or "the recording was cut off (its last part is incomplete)"
    if frames == 0:
        error = error or "no complete video frame"
    elif keyframes == 0:
        error = error or "no keyframe: the video cannot be decoded"
    playable = frames > 0 and keyframes > 0
    return SegmentFileInfo(
        playable, frames, duration_ms, audio_packets > 0, meta, error, keyframes, torn or corrupt > 0, intact
    )


def decode_check(path: str | os.PathLike[str]) -> int:
    """Decode every complete video frame; return how many decoded. Raises if the file cannot be opened."""
    path = os.fspath(path)
    decoded = 0
    _, torn, intact = _box_walk(path, os.path.getsize(path))
    container, head = _open(path, torn, intact)
    with container, head or contextlib.nullcontext():
        video = container.streams.video[0]
        for packet in container.demux(video):
            if packet.is_corrupt:
                continue
            try:
                decoded += len(packet.decode())
            except av.error.FFmpegError as exc:
                logger.debug("frame does not decode in %s: %s", path, _short(exc))
    return decoded
