"""Cameras, hub settings, storage and status, as the Hub API shows and changes them."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType, field

from hub.api.types.base import (
    AudioPolicy,
    CameraState,
    EventSource,
    Mode,
    Point,
    Request,
    StorageState,
    Value,
    ZoneKind,
)
from hub.api.types.devices import Role

# --- cameras ---------------------------------------------------------------------------------------


class Zone(Value, frozen=True, kw_only=True):
    """A polygon in fractions of the picture (0..1, origin top left).

    ``kind == "zone"``: motion counts only inside zones (when any zone exists); ``kind == "mask"``:
    motion inside a mask never counts."""

    name: str
    polygon: tuple[Point, ...]
    kind: ZoneKind = "zone"


class MotionSettings(Value, frozen=True, kw_only=True):
    """Tuning of the hub's own motion detector."""

    sensitivity: int = 60  # 1..100; higher detects fainter changes
    min_area: float = 0.004  # smallest moving blob, as a fraction of the picture
    analysis_fps: float = 5.0
    analysis_width: int = 320
    min_frames: int = 2  # analysed frames in a row with motion before an event starts
    gap_s: float = 4.0  # motion apart by less than this is one event
    max_event_s: float = 600.0  # longer events are split
    zones: tuple[Zone, ...] = ()


class Camera(Value, frozen=True, kw_only=True):
    """A camera as the owner configured it (its password is in the keyring, never here)."""

    id: str  # stable; names the camera's recordings folder; never reused
    name: str
    driver: str  # "rtsp", "onvif", "usb" or "demo"
    url: str | None = None  # main (record) stream, without credentials; a USB camera's device
    sub_url: str | None = None  # the small stream for motion detection and live view
    mode: Mode = "continuous"
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0
    enabled: bool = True
    audio: AudioPolicy = "keep"
    detect: bool = True  # the hub's own motion detection
    max_age_days: float | None = None  # None: the hub-wide setting applies
    motion: MotionSettings = field(default_factory=MotionSettings)
    has_credentials: bool = False
    events: EventSource = "local"
    doorbell: bool = False
    device: dict[str, Any] = {}  # the driver's settings (ONVIF host and profiles, USB size and rate)


class NewCamera(Request, frozen=True, kw_only=True):
    """A camera to add. ``driver`` says where its streams come from:

    - ``"rtsp"``: ``url`` (and ``sub_url``), credential-free (send them as :class:`Credentials`);
    - ``"onvif"``: ``device={"host": "HOST[:PORT]"}``; the hub asks the device for its streams, their
      roles and its events (``url`` and ``sub_url`` may override the ones it finds);
    - ``"usb"``: ``url`` is the device (``/dev/video0``), ``device`` may ask ``size`` and ``fps``;
    - ``"demo"``: the synthetic camera.

    ``events`` and ``doorbell`` left ``None`` follow what the device offers."""

    name: str
    driver: str = "rtsp"
    url: str | None = None
    sub_url: str | None = None
    device: dict[str, str] = {}
    mode: Mode = "continuous"
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0
    enabled: bool = True
    audio: AudioPolicy = "keep"
    detect: bool = True
    max_age_days: float | None = None
    motion: MotionSettings = field(default_factory=MotionSettings)
    events: EventSource | None = None
    doorbell: bool | None = None


class MotionChange(Request, frozen=True, kw_only=True):
    """Motion settings to change; ``UNSET`` fields keep their value."""

    sensitivity: int | UnsetType = UNSET
    min_area: float | UnsetType = UNSET
    analysis_fps: float | UnsetType = UNSET
    analysis_width: int | UnsetType = UNSET
    min_frames: int | UnsetType = UNSET
    gap_s: float | UnsetType = UNSET
    max_event_s: float | UnsetType = UNSET
    zones: tuple[Zone, ...] | UnsetType = UNSET


class CameraChange(Request, frozen=True, kw_only=True):
    """Fields of a camera to change; ``UNSET`` fields keep their value (``sub_url=None`` removes the
    sub stream, ``max_age_days=None`` returns to the hub-wide setting)."""

    name: str | UnsetType = UNSET
    url: str | UnsetType = UNSET
    sub_url: str | None | UnsetType = UNSET
    mode: Mode | UnsetType = UNSET
    pre_roll_s: float | UnsetType = UNSET
    post_roll_s: float | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    audio: AudioPolicy | UnsetType = UNSET
    detect: bool | UnsetType = UNSET
    max_age_days: float | None | UnsetType = UNSET
    events: EventSource | UnsetType = UNSET
    doorbell: bool | UnsetType = UNSET
    motion: MotionChange | UnsetType = UNSET


# --- hub settings and storage ------------------------------------------------------------------------


class Settings(Value, frozen=True, kw_only=True):
    """Hub-wide settings (the settings dialog's titles and bounds are the hub's)."""

    storage_path: str | None = None  # None: "recordings" in the data dir
    quota_bytes: int | None = None  # None: no quota (free-space protection still applies)
    max_age_days: float | None = 30.0  # None: keep until space runs out
    min_free_bytes: int = 2 * 1024**3
    motion_grace_s: float = 60.0
    retention_interval_s: float = 60.0
    segment_seconds: float = 10.0
    home_lat: float | None = None  # the home location (both or neither): matches requests' areas
    home_lon: float | None = None
    hold_requests: bool = True  # hold the footage requests under review match (see holds)
    hold_cap_percent: float = 20.0  # held footage at most this share of the quota (of the disk, without one)


class SettingsChange(Request, frozen=True, kw_only=True):
    """Hub settings to change; ``UNSET`` fields keep their value.

    A new ``storage_path`` is refused when it would orphan recordings: move the folder there first
    (it carries a marker file), or choose an empty one."""

    storage_path: str | None | UnsetType = UNSET
    quota_bytes: int | None | UnsetType = UNSET
    max_age_days: float | None | UnsetType = UNSET
    min_free_bytes: int | UnsetType = UNSET
    motion_grace_s: float | UnsetType = UNSET
    retention_interval_s: float | UnsetType = UNSET
    segment_seconds: float | UnsetType = UNSET
    home_lat: float | None | UnsetType = UNSET  # both or neither; None clears the home location
    home_lon: float | None | UnsetType = UNSET
    hold_requests: bool | UnsetType = UNSET
    hold_cap_percent: float | UnsetType = UNSET


class StorageInfo(Value, frozen=True, kw_only=True):
    """The recordings folder: where, whether it is usable, and how full."""

    path: str
    state: StorageState
    message: str  # what the owner should know about the state
    quota_bytes: int | None
    max_age_days: float | None
    min_free_bytes: int
    used_bytes: int  # by the recordings in the index
    free_bytes: int | None  # on the disk; None when the folder is not there
    total_bytes: int | None


# --- status --------------------------------------------------------------------------------------------


class CameraStatus(Value, frozen=True, kw_only=True):
    """One camera's state, as the running hub sees it ("stopped" when no hub runs)."""

    camera_id: str
    name: str
    state: CameraState
    since_ms: int
    last_error: str | None = None
    updated_ms: int = 0
    stats: dict[str, Any] = {}  # counters: packets_received, segments, connects, detect: {...}, ...
    watched: tuple[Role, ...] = ()  # the streams someone watches live now (see HubApi.watch)


class HubInfo(Value, frozen=True, kw_only=True):
    """Whether a hub runs on the data dir, and which."""

    running: bool
    pid: int | None = None
    started_ms: int | None = None


class Status(Value, frozen=True, kw_only=True):
    """The hub and every camera (removed ones excluded)."""

    hub: HubInfo
    cameras: tuple[CameraStatus, ...] = ()
