"""Devices before (and after) they are cameras: what discovery finds and what a probe describes."""

from __future__ import annotations

from typing import Any, Literal

from hub.api.types.base import Request, Value

__all__ = ["Device", "DeviceQuery", "Discovery", "Probe", "ProbeProfile", "ProbeStream", "Role"]

Role = Literal["record", "detect"]  # the main stream, recorded; the small one, for motion and live view


class Device(Value, frozen=True, kw_only=True):
    """A device discovery found (one row of ``porchlight discover``)."""

    kind: str  # the driver that found it: "onvif", "usb"
    name: str
    manufacturer: str | None = None
    model: str | None = None
    xaddr: str | None = None  # an ONVIF device's service address
    device: str | None = None  # what to add it by: "host:port", "/dev/video0"
    needs_auth: bool | None = None  # None: not known


class Discovery(Value, frozen=True, kw_only=True):
    """What a discovery found, and a line for each driver that could not look."""

    devices: tuple[Device, ...] = ()
    problems: tuple[str, ...] = ()


class DeviceQuery(Request, frozen=True, kw_only=True):
    """A device to describe before it is added: fields as in :class:`~hub.api.types.NewCamera`."""

    driver: str
    url: str | None = None
    sub_url: str | None = None
    device: dict[str, str] = {}


class ProbeProfile(Value, frozen=True, kw_only=True):
    """A stream configuration a device offers by name (an ONVIF media profile)."""

    token: str
    name: str
    codec: str  # as the device names it: "H264", "H265", "JPEG", …
    width: int
    height: int
    fps: float | None = None
    bitrate_kbps: int | None = None
    url: str | None = None  # without credentials
    snapshot_url: str | None = None
    role: Role | None = None  # what a camera made from the device uses it for


class ProbeStream(Value, frozen=True, kw_only=True):
    """A stream that was opened and looked at."""

    url: str | None
    codec: str
    width: int
    height: int
    fps: float | None = None
    audio_codec: str | None = None
    role: Role = "record"


class Probe(Value, frozen=True, kw_only=True):
    """What a device offers, asked now; what its driver cannot know stays empty.

    A device that names its stream configurations (ONVIF) lists them in ``profiles``; otherwise
    ``streams`` holds the streams of the camera's URL and sub-stream URL, opened and looked at."""

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    address: str | None = None  # where it answered ("host:port")
    clock_offset_s: float | None = None  # its clock minus this machine's
    events_supported: bool = False  # it reports events (motion, doorbell) of its own
    doorbell: bool = False
    event_topics: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    profiles: tuple[ProbeProfile, ...] = ()
    streams: tuple[ProbeStream, ...] = ()
    settings: dict[str, Any] = {}  # the driver settings a camera made from it would store
