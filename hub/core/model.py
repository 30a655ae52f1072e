"""Plain, immutable data objects shared by the engine, the CLI and the UI.

Times are integers: milliseconds since the Unix epoch, UTC (``*_ms``). Nothing here touches a
database session, a thread or Qt; objects cross threads freely.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

Mode = Literal["continuous", "motion"]
AudioPolicy = Literal["keep", "drop"]
EventSource = Literal["local", "camera", "both"]  # motion from our detector, the camera's, or both
CameraState = Literal[
    "stopped",  # disabled, or the hub is not running
    "connecting",
    "recording",
    "reconnecting",
    "auth_failed",
    "keyring_locked",  # the camera's password waits for the keyring to be unlocked (log-in)
    "offline",
    "storage_missing",
    "disk_full",
]
ZoneKind = Literal["zone", "mask"]
EventKind = Literal["motion", "doorbell", "camera_motion", "input", "manual"]
# Why footage is kept from retention: the owner starred it, it was shared as evidence, or a request
# under review holds it. Each protection is released on its own; a hold yields to a full disk.
ProtectReason = Literal["star", "evidence", "hold"]

# The allowed values, for checks at run time: read from the types so the two never disagree.
MODES: tuple[str, ...] = get_args(Mode)
CAMERA_STATES: tuple[str, ...] = get_args(CameraState)


@dataclasses.dataclass(frozen=True)
class Zone:
    """A polygon in normalized image coordinates (0..1, origin top left).

    ``kind == "zone"``: motion counts only inside zones (when any zone exists).
    ``kind == "mask"``: motion inside a mask is ignored (timestamps, trees, a busy street).
    """

    name: str
    polygon: tuple[tuple[float, float], ...]
    kind: ZoneKind = "zone"


@dataclasses.dataclass(frozen=True)
class MotionSettings:
    """Tuning of the local motion detector."""

    sensitivity: int = 60  # 1..100; higher detects fainter changes
    min_area: float = 0.004  # smallest moving blob, as a fraction of the frame area
    analysis_fps: float = 5.0  # frames analysed per second (all frames are still decoded)
    analysis_width: int = 320  # frames are shrunk to this width (grayscale) before analysis
    min_frames: int = 2  # consecutive analysed frames with motion before an event starts
    gap_s: float = 4.0  # motion separated by less than this is one event
    max_event_s: float = 600.0  # long events are split
    zones: tuple[Zone, ...] = ()


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """A camera as the owner configured it (secrets excluded: they live in the keyring)."""

    id: str  # stable slug, used in storage paths; never reused
    name: str
    driver: str = "rtsp"  # "rtsp" | "demo" | "onvif" | "usb"
    url: str | None = None  # credential-free main (record) stream
    sub_url: str | None = None  # optional credential-free detect stream
    mode: Mode = "continuous"
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0
    enabled: bool = True
    audio: AudioPolicy = "keep"
    detect: bool = True  # run local motion detection
    max_age_days: float | None = None  # None: the global setting applies
    motion: MotionSettings = dataclasses.field(default_factory=MotionSettings)
    has_credentials: bool = False
    events: EventSource = "local"
    doorbell: bool = False  # a press makes a "doorbell" event (and, later, the pop-up)
    # Driver-specific settings as plain JSON data: ONVIF host, xaddr and profile tokens; USB device
    # path, size and rate. Never secrets.
    device: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Segment:
    """One closed recording file."""

    id: int | None
    camera_id: str
    path: str  # relative to the storage root, '/'-separated
    start_ms: int  # wall clock of the first frame
    end_ms: int  # wall clock of the end of the last frame
    bytes: int
    frames: int = 0
    has_audio: bool = False
    protected: bool = False  # a star or evidence protection covers it: retention never deletes it
    unobserved: bool = False  # motion detection was not running for part of it: keep like an event
    held: bool = False  # a hold covers it: kept unless the disk fills (see hub.retention.policy)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclasses.dataclass(frozen=True)
class Protection:
    """A window of one camera's footage that retention keeps, and why. The segments that overlap
    ``[start_ms, end_ms)`` are kept while a protection covers them; releasing one protection never
    releases footage that another one covers."""

    id: int | None
    camera_id: str
    start_ms: int
    end_ms: int
    reason: ProtectReason
    note: str = ""
    created_ms: int = 0
    request_seq: int | None = None  # a hold placed for an agency request: the request (its index row)


@dataclasses.dataclass(frozen=True)
class Event:
    """Something happened: motion, a doorbell press, ..."""

    id: int | None
    camera_id: str
    kind: EventKind
    start_ms: int
    end_ms: int | None  # None while ongoing
    score: float = 0.0  # peak moving area as a fraction of the frame (motion)
    zones: tuple[str, ...] = ()
    thumbnail: str | None = None  # path relative to the data dir
    source: str = "local"
    detected_ms: int | None = None  # when the hub learned of it (start_ms + detection latency)


@dataclasses.dataclass(frozen=True)
class CameraStatus:
    """The live state of one camera's pipeline."""

    camera_id: str
    state: CameraState
    since_ms: int
    last_error: str | None = None
    updated_ms: int = 0
    stats: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)
