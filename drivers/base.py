"""The one protocol every camera driver implements, the plain data it returns, and its errors.

Drivers never import Qt and never import the hub; the hub never names a driver. A driver is found by
its kind in :mod:`drivers.registry`, and says for itself what it can do: discover devices, describe
one, open its streams, and (when its devices have them) subscribe to the camera's own events. A
driver translates its library's exceptions into the errors below, with messages a homeowner
understands and with no secret in them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import av
    import av.stream


class DriverError(Exception):
    """Base of every driver error; ``str(err)`` is a one-line message safe to show and log."""


class AuthError(DriverError):
    """The device refused our credentials (wrong or missing username/password)."""


class UnreachableError(DriverError):
    """Nothing answered: host down, wrong address or port, network unreachable, timeout."""


class UnsupportedError(DriverError):
    """The device answered but offers nothing we can record (no video, unknown codec, ...)."""


class StreamError(DriverError):
    """A stream opened but then broke, stalled or delivered data we cannot use."""


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Username and password, fetched from the keyring just before connecting."""

    username: str
    password: str = dataclasses.field(repr=False)

    def __repr__(self) -> str:  # never show the password, even in a debugger
        return f"Credentials(username={self.username!r}, password=***)"


Role = Literal["record", "detect"]


@dataclasses.dataclass(frozen=True)
class StreamRequest:
    """What the pipeline asks a driver to open."""

    url: str | None  # credential-free (credentials come separately and are injected at connect time)
    role: Role = "record"
    credentials: Credentials | None = None
    want_audio: bool = True
    open_timeout_s: float = 15.0
    # FFmpeg's read timeout fires after about twice this (the first interrupt only releases the
    # frame it holds), so 2.5 s calls a stream that stopped delivering "down" after about 5 s.
    read_timeout_s: float = 2.5
    #: The camera's driver settings (CameraConfig.device as strings): USB size and rate, demo
    #: scene, ONVIF host and profile... Each driver reads what it knows.
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)


@runtime_checkable
class PacketSource(Protocol):
    """An open stream that yields compressed packets (video and optionally audio).

    ``video`` (and ``audio``) are PyAV streams usable as templates for stream copy
    (``OutputContainer.add_stream_from_template``): an input stream for network cameras, or the
    stream that owns the encoder for sources we encode ourselves (demo, USB).
    """

    video: av.stream.Stream
    audio: av.stream.Stream | None
    #: True when packets come from our own encoder (demo/USB); IP streams are never re-encoded.
    encoded_here: bool
    #: Wall-clock time (µs since epoch) of the stream's time zero as claimed by the device
    #: (RTCP sender reports), when the protocol provides it; else None.
    start_time_realtime_us: int | None

    def packets(self) -> Iterator[av.Packet[Any]]:
        """Yield packets as they arrive; raise a DriverError subclass when the stream fails."""
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice and from another thread."""
        ...


FrameListener = Callable[["av.VideoFrame"], None]


@runtime_checkable
class FrameTap(Protocol):
    """A source that encodes pictures itself (USB) and can hand each one over before encoding it,
    so detection need not decode its own H.264 again. Set before iterating ``packets()``."""

    frame_listener: FrameListener | None


CameraEventKind = Literal["motion", "doorbell", "input"]


@dataclasses.dataclass(frozen=True)
class CameraEvent:
    """One event a camera reported itself (motion, a doorbell press, an input), as a driver parsed it."""

    kind: CameraEventKind
    active: bool  # motion/input: True while on; doorbell: True for a press
    utc_ms: int  # when it happened, on the host's clock (device time corrected by the clock offset)
    topic: str  # what the device called it, e.g. "tns1:RuleEngine/CellMotionDetector/Motion"
    source: str | None = None  # which input or video source, when the device says
    initialized: bool = False  # the current state at subscription time, not a change


#: Called with each event, on a thread of the driver's choosing: it must only hand the event on.
EventListener = Callable[[CameraEvent], None]
#: Called with ``(state, reason)`` when the subscription's health changes: ``"ok"`` once events
#: flow, ``"down"`` while it retries (reason says why), ``"failed"`` when it gave up.
StatusListener = Callable[[str, str | None], None]


class EventSubscription(Protocol):
    """A subscription to a camera's own events; connects in the background once started."""

    def start(self) -> None:
        """Begin subscribing (returns at once; health is reported to the status listener)."""
        ...

    def stop(self) -> None:
        """Unsubscribe and release the connection; safe to call twice."""
        ...


@dataclasses.dataclass(frozen=True)
class StreamInfo:
    """What a probe learned about one stream."""

    url: str | None
    codec: str
    width: int
    height: int
    fps: float | None
    audio_codec: str | None = None


#: Encodings (as devices name them, upper case) that an MP4 segment can carry by stream copy.
RECORDABLE_ENCODINGS = frozenset({"H264", "H265"})


@dataclasses.dataclass(frozen=True)
class MediaProfile:
    """One stream configuration a device offers by name (an ONVIF media profile)."""

    token: str
    name: str
    encoding: str  # "H264", "H265", "JPEG", "MPEG4", ... (as the device reports it, upper case)
    width: int
    height: int
    fps: float | None = None
    bitrate_kbps: int | None = None
    stream_uri: str | None = None  # credential-free stream URL
    snapshot_uri: str | None = None  # credential-free still-image URL

    @property
    def recordable(self) -> bool:
        """H.264 and H.265 with a known stream URL can be stream-copied into MP4."""
        return self.encoding in RECORDABLE_ENCODINGS and bool(self.stream_uri)


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """What a device offers, as its driver describes it; fields a driver cannot know stay empty.

    ``settings`` is what a camera made from this device stores as its driver settings
    (``CameraConfig.device``): the driver reads them back from ``StreamRequest.options``.
    """

    streams: tuple[StreamInfo, ...]
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    #: Where the device answered, as the owner would type it (``"host:port"``), when it has an address.
    address: str | None = None
    #: The stream configurations the device offers by name (ONVIF profiles), recordable or not.
    profiles: tuple[MediaProfile, ...] = ()
    #: Which profile (by token) plays which role for a camera with the probed settings.
    roles: Mapping[Role, str] = dataclasses.field(default_factory=dict)
    #: Device clock minus host clock, in seconds, when the device tells its time.
    clock_offset_s: float | None = None
    #: Whether the device reports events of its own (see Driver.open_events), and their topics.
    events: bool = False
    event_topics: tuple[str, ...] = ()
    #: Whether the device has a doorbell button (publishes a visitor or call-button topic).
    doorbell: bool = False
    #: Remarks for the owner (clock far off, credentials removed from URLs, no sub stream...).
    warnings: tuple[str, ...] = ()
    settings: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def profile(self, role: Role) -> MediaProfile | None:
        """The profile playing ``role``, or None."""
        token = self.roles.get(role)
        return next((p for p in self.profiles if p.token == token), None)

    def role_of(self, token: str) -> Role | None:
        """The role the profile ``token`` plays, or None."""
        return next((role for role, t in self.roles.items() if t == token), None)


@dataclasses.dataclass(frozen=True)
class DiscoveredDevice:
    """One row of ``porchlight discover``."""

    kind: str
    name: str
    manufacturer: str | None = None
    model: str | None = None
    xaddr: str | None = None
    device: str | None = None
    needs_auth: bool | None = None


class Driver(Protocol):
    """A camera driver: find devices, describe one, open its streams, hear its events."""

    #: The camera's ``driver`` setting, e.g. "rtsp".
    kind: ClassVar[str]
    #: What the owner reads, e.g. "ONVIF camera or doorbell".
    title: ClassVar[str]
    #: True: a camera of this kind is made from what its device describes when it is added (the
    #: probe gives its streams, roles, events and the settings it stores), so the device must answer
    #: then. False: the owner's stream URL describes the camera, which need not answer to be added.
    described_by_device: ClassVar[bool]

    def discover(self, timeout_s: float, address: str | None = None) -> list[DiscoveredDevice]:
        """Find devices of this kind (only ever when the owner asks): on the local network or this
        machine, or only at ``address`` (``"host[:port]"``) when given; a driver that cannot ask one
        address returns nothing for it."""
        ...

    def probe(self, request: StreamRequest) -> ProbeResult:
        """Describe what a device offers (connects; may take up to ``request.open_timeout_s``);
        raises AuthError/UnreachableError/UnsupportedError."""
        ...

    def open_stream(self, request: StreamRequest) -> PacketSource:
        """Open one stream; raises AuthError/UnreachableError/UnsupportedError/StreamError."""
        ...

    def has_events(self, options: Mapping[str, str]) -> bool:
        """Whether a camera with these driver settings has events of its own (answers without I/O)."""
        ...

    def open_events(
        self,
        options: Mapping[str, str],
        credentials: Credentials | None,
        on_event: EventListener,
        on_status: StatusListener,
    ) -> EventSubscription:
        """A subscription to the camera's own events, not yet started (no I/O here); raises
        UnsupportedError when ``has_events(options)`` is False."""
        ...

    def close(self) -> None:
        """Release what the driver shares across cameras (threads, loops); a later call starts them
        again. Called when the hub stops."""
        ...


class BaseDriver:
    """Defaults for a driver whose devices cannot be discovered and have no events of their own."""

    kind: ClassVar[str]
    title: ClassVar[str]
    described_by_device: ClassVar[bool] = False

    def discover(self, timeout_s: float, address: str | None = None) -> list[DiscoveredDevice]:
        """Nothing to discover."""
        return []

    def has_events(self, options: Mapping[str, str]) -> bool:
        """No events of its own."""
        return False

    def open_events(
        self,
        options: Mapping[str, str],
        credentials: Credentials | None,
        on_event: EventListener,
        on_status: StatusListener,
    ) -> EventSubscription:
        """Refused: see has_events."""
        raise UnsupportedError(f"{self.title} cameras report no events of their own")

    def close(self) -> None:
        """Nothing shared to release."""
