"""Export a time window of one camera as a single MP4, by stream copy across segments.

The clip starts at the last keyframe at or before the requested start (so its first frame
decodes), keeps every stored frame up to the end, and keeps real time: a gap in the recordings
stays a gap in the clip's timeline (the last frame holds) and is reported.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from hub.core.errors import CancelledError, NotFoundError, StorageError
from hub.core.model import Segment

logger = logging.getLogger(__name__)

GAP_MS = 1000  # recordings further apart than this are reported as a gap
PROGRESS_EVERY_S = 0.2  # progress is reported at most this often (and at each segment)


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    path: Path
    start_ms: int  # wall clock of the first exported frame
    end_ms: int  # wall clock of the end of the last exported frame
    frames: int
    segments: int
    gaps: tuple[tuple[int, int], ...]  # uncovered parts of the requested window
    has_audio: bool
    stopped_early: str | None = None  # why the export ended before the window's end


@dataclasses.dataclass(frozen=True)
class ExportStep:
    """How far an export has come."""

    done_ms: int  # of the window, written so far
    total_ms: int  # the window's length
    frames: int
    segments_done: int
    segments_total: int


class _Progress:
    """Calls the caller's progress function at each segment and at most every PROGRESS_EVERY_S in
    between, and stops the export when its cancel event is set."""

    def __init__(
        self,
        report: Callable[[ExportStep], None] | None,
        cancel: threading.Event | None,
        start_ms: int,
        end_ms: int,
        segments: int,
    ) -> None:
        self._report, self._cancel = report, cancel
        self._start_ms, self._total_ms, self._segments = start_ms, end_ms - start_ms, segments
        self._next = 0.0

    def check(self, wall_ms: int, frames: int, segments_done: int, *, force: bool = False) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise CancelledError("the export was cancelled")
        if self._report is None:
            return
        now = time.monotonic()
        if force or now >= self._next:
            self._next = now + PROGRESS_EVERY_S
            done = max(0, min(self._total_ms, wall_ms - self._start_ms))
            self._report(ExportStep(done, self._total_ms, frames, segments_done, self._segments))

    def finished(self, frames: int) -> None:
        """The clip is written: the last report, at 100 % (a cancel now comes too late to matter)."""
        self._next = 0.0
        self._cancel = None
        self.check(self._start_ms + self._total_ms, frames, self._segments)


def find_gaps(segments: list[Segment], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """Parts of [start_ms, end_ms) that no segment covers (ignoring sub-second joints)."""
    gaps = []
    cursor = start_ms
    for seg in sorted(segments, key=lambda s: s.start_ms):
        if seg.start_ms - cursor > GAP_MS:
            gaps.append((cursor, min(seg.start_ms, end_ms)))
        cursor = max(cursor, seg.end_ms)
        if cursor >= end_ms:
            break
    if end_ms - cursor > GAP_MS:
        gaps.append((cursor, end_ms))
    return gaps


def _same_video(a: av.stream.Stream, b: av.stream.Stream) -> bool:
    ca, cb = a.codec_context, b.codec_context
    return (ca.name, ca.width, ca.height) == (cb.name, cb.width, cb.height)


def _start_pts(path: Path, seg: Segment, start_ms: int) -> int | None:
    """pts of the last keyframe at or before ``start_ms`` in a segment (its first keyframe if none)."""
    chosen = None
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        for p in c.demux(v):
            if not (p.size and p.is_keyframe and p.pts is not None):
                continue
            if chosen is None or seg.start_ms + int(p.pts * p.time_base * 1000) <= start_ms:
                chosen = p.pts
            else:
                break
    return chosen


class _Writer:
    """The output file: stream-copied packets re-timed to wall time since the first frame."""

    def __init__(self, path: Path) -> None:
        self.container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self.video: av.stream.Stream | None = None
        self.audio: av.stream.Stream | None = None
        self.template: av.stream.Stream | None = None
        self.first_ms: int | None = None
        self.last_video_ms = 0
        self.frame_ms = 66
        self.frames = 0
        self.has_audio = False
        self._last_dts: dict[int, int] = {}

    def add_streams(self, vin: av.stream.Stream, ain: av.stream.Stream | None) -> None:
        self.video = self.container.add_stream_from_template(vin)
        self.template = vin
        if ain is not None:
            self.audio = self.container.add_stream_from_template(ain)

    def write(self, pkt: av.Packet[Any], wall_ms: int, is_video: bool) -> None:
        ost = self.video if is_video else self.audio
        tb = pkt.time_base
        shift = round((Fraction(wall_ms - self.first_ms, 1000) - pkt.pts * tb) / tb)
        pkt.pts += shift
        pkt.dts = pkt.dts + shift if pkt.dts is not None else pkt.pts
        prev = self._last_dts.get(id(ost))
        if prev is not None and pkt.dts <= prev:
            pkt.dts = prev + 1
            pkt.pts = max(pkt.pts, pkt.dts)
        self._last_dts[id(ost)] = pkt.dts
        pkt.stream = ost
        self.container.mux(pkt)
        if is_video:
            if self.frames and 0 < wall_ms - self.last_video_ms < 1000:
                self.frame_ms = wall_ms - self.last_video_ms
            self.last_video_ms = wall_ms
            self.frames += 1
        else:
            self.has_audio = True


def export_clip(
    root: Path,
    segments: list[Segment],
    start_ms: int,
    end_ms: int,
    out: Path,
    *,
    progress: Callable[[ExportStep], None] | None = None,
    cancel: threading.Event | None = None,
    subject: str = "",
) -> ExportReport:
    """Write ``out`` from ``segments`` (one camera, any order) covering [start_ms, end_ms).

    ``progress`` is called (in this thread) as the clip is written; setting ``cancel`` stops the
    export with CancelledError. ``subject`` ends the messages of the errors about the recordings
    (": Porch between … and …"). Raises NotFoundError when nothing was recorded in the window, and
    StorageError when none of its recordings could be read or ``out`` cannot be written. Whatever
    ends the export early, ``out`` is left untouched and no partial file remains."""
    segs = sorted(
        (s for s in segments if s.end_ms > start_ms and s.start_ms < end_ms), key=lambda s: s.start_ms
    )
    if not segs:
        raise NotFoundError(f"nothing was recorded in that window{subject}")
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    steps = _Progress(progress, cancel, start_ms, end_ms, len(segs))
    steps.check(start_ms, 0, 0, force=True)
    w = _Writer(tmp)
    used = 0
    stopped: str | None = None
    try:
        for done, seg in enumerate(segs):
            steps.check(max(start_ms, seg.start_ms), w.frames, done, force=True)
            path = root / seg.path
            try:
                inp = av.open(str(path))
            except (av.error.FFmpegError, OSError) as exc:
                logger.warning("export: skipping unreadable %s: %s", seg.path, exc)
                continue
            with inp:
                vin = inp.streams.video[0]
                ain = inp.streams.audio[0] if inp.streams.audio else None
                if w.video is None:
                    w.add_streams(vin, ain)
                elif not _same_video(w.template, vin):
                    stopped = "the camera's video format changed; the clip ends there"
                    break
                min_pts = _start_pts(path, seg, start_ms) if w.first_ms is None else None
                streams = [vin] + ([ain] if (ain is not None and w.audio is not None) else [])
                wrote = False
                for pkt in inp.demux(*streams):
                    if pkt.size == 0 or pkt.pts is None:
                        continue
                    is_video = pkt.stream is vin
                    wall = seg.start_ms + int(pkt.pts * pkt.time_base * 1000)
                    if is_video:
                        if w.first_ms is None:
                            if min_pts is None or pkt.pts < min_pts:
                                continue
                            w.first_ms = wall
                        if wall >= end_ms:
                            break
                    elif w.first_ms is None or not (w.first_ms <= wall < end_ms):
                        continue
                    w.write(pkt, wall, is_video)
                    wrote = True
                    steps.check(wall, w.frames, done)
                used += wrote
        w.container.close()
    except BaseException as exc:
        try:
            w.container.close()
        except Exception:  # noqa: BLE001
            pass
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # the clip's folder is missing, read-only or full
            raise StorageError(f"cannot write {out}: {exc.strerror or exc}") from exc
        raise
    if w.frames == 0 or w.first_ms is None:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"the recordings in that window could not be read{subject}")
    try:
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {out}: {exc.strerror or exc}") from exc
    steps.finished(w.frames)
    gaps = tuple(find_gaps(segs, start_ms, end_ms))
    return ExportReport(
        out, w.first_ms, w.last_video_ms + w.frame_ms, w.frames, used, gaps, w.has_audio, stopped
    )
