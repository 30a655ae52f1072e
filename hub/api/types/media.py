"""What the hub recorded and saw, as the Hub API shows it: recordings, events, and clips exported
from them."""

from __future__ import annotations

from typing import Literal

from hub.api.types.base import Request, Value

__all__ = [
    "MANUAL_EVENT_RANGE_S",
    "MANUAL_EVENT_S",
    "MAX_SNAPSHOT_BYTES",
    "Event",
    "EventKind",
    "ExportProgress",
    "ExportRequest",
    "ExportResult",
    "Gap",
    "ProtectReason",
    "Protection",
    "Recording",
    "Snapshot",
]

EventKind = Literal[
    "motion",  # the hub's own detector
    "doorbell",  # a doorbell press the device reported
    "camera_motion",  # motion the camera itself reported
    "input",  # a device's alarm input
    "manual",  # started by the owner
]

#: Why footage is kept from retention. Each protection is released on its own, and footage another
#: protection covers stays kept.
ProtectReason = Literal[
    "star",  # the owner marked it
    "evidence",  # it was shared as evidence
    "hold",  # a request under review needs it; yields to a full disk (recording never stops)
]
#: The largest JPEG a snapshot carries (under the wire's frame cap).
MAX_SNAPSHOT_BYTES = 768 * 1024
#: How long a manual event lasts unless it is ended first, and the bounds of its length (seconds).
MANUAL_EVENT_S = 60.0
MANUAL_EVENT_RANGE_S = (1.0, 3600.0)


class Recording(Value, frozen=True, kw_only=True):
    """One recorded file (an MP4 segment) of one camera."""

    id: int
    camera_id: str
    camera: str  # the camera's name (a removed camera's too: its recordings stay)
    path: str  # the file, absolute
    start_ms: int  # wall clock of its first frame
    end_ms: int  # wall clock of the end of its last frame
    bytes: int
    frames: int = 0
    has_audio: bool = False
    protected: bool = False  # a protection covers it (see ``kept_for``): retention keeps it
    kept_for: tuple[ProtectReason, ...] = ()  # the reasons of the protections that cover it

    @property
    def duration_ms(self) -> int:
        """How much time the file covers."""
        return self.end_ms - self.start_ms


class Event(Value, frozen=True, kw_only=True):
    """Something happened at a camera: motion, a doorbell press, ..."""

    id: int
    camera_id: str
    camera: str  # the camera's name (a removed camera's too)
    kind: EventKind
    start_ms: int
    end_ms: int | None = None  # None while it goes on
    detected_ms: int | None = None  # when the hub learned of it
    score: float = 0.0  # motion: the largest moving area, as a fraction of the picture
    zones: tuple[str, ...] = ()  # the zones the motion touched
    source: str = "local"  # who saw it: "local" (the hub's detector) or "camera"
    thumbnail: str | None = None  # a JPEG of the moment, absolute path


class ExportRequest(Request, frozen=True, kw_only=True):
    """A clip to write: one camera's recordings from ``start_ms`` to ``end_ms``, as one MP4 (stream
    copy, never re-encoded). ``path`` is absolute and ends in ``.mp4``; its folder must exist; a file
    already there is replaced only once the clip is complete."""

    camera: str  # id or name; a removed camera by its id
    start_ms: int
    end_ms: int
    path: str


class ExportProgress(Value, frozen=True, kw_only=True):
    """How far an export has come (sent a few times a second while it runs)."""

    done_ms: int  # of the window, written so far
    total_ms: int  # the window's length
    frames: int  # video frames written so far
    segments_done: int
    segments_total: int

    @property
    def fraction(self) -> float:
        """0.0 … 1.0."""
        return min(1.0, self.done_ms / self.total_ms) if self.total_ms > 0 else 1.0


class Gap(Value, frozen=True, kw_only=True):
    """A part of an exported window that nothing recorded (the clip's last frame holds through it)."""

    start_ms: int
    end_ms: int


class ExportResult(Value, frozen=True, kw_only=True):
    """What an export wrote."""

    path: str
    start_ms: int  # wall clock of the first frame (the keyframe at or before the window's start)
    end_ms: int  # wall clock of the end of the last frame
    frames: int
    segments: int  # recordings it was cut from
    gaps: tuple[Gap, ...] = ()
    has_audio: bool = False
    stopped_early: str | None = None  # why the clip ends before the window does


class Protection(Value, frozen=True, kw_only=True):
    """A window of one camera's footage that retention keeps, and why. Every recording overlapping
    ``[start_ms, end_ms)`` is kept while it lasts (also footage recorded into the window later)."""

    id: int
    camera_id: str
    camera: str  # the camera's name
    start_ms: int
    end_ms: int
    reason: ProtectReason
    note: str = ""
    created_ms: int


class Snapshot(Value, frozen=True, kw_only=True):
    """The newest picture of a camera, as a JPEG (at most ``MAX_SNAPSHOT_BYTES``)."""

    camera_id: str
    camera: str
    taken_ms: int  # wall clock of the frame
    width: int
    height: int
    jpeg: bytes
