"""Plain data the ONVIF driver returns (immutable; safe across threads)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class OnvifProfile:
    """One media profile of a device."""

    token: str
    name: str
    encoding: str  # "H264", "H265", "JPEG", "MPEG4", ... (as the device reports it, upper case)
    width: int
    height: int
    fps: float | None = None
    bitrate_kbps: int | None = None
    stream_uri: str | None = None  # credential-free RTSP URI (GetStreamUri)
    snapshot_uri: str | None = None  # credential-free (GetSnapshotUri)

    @property
    def recordable(self) -> bool:
        """H.264 (and H.265 when a stream URI is known) can be stream-copied into MP4."""
        return self.encoding in ("H264", "H265") and bool(self.stream_uri)


@dataclasses.dataclass(frozen=True)
class OnvifDevice:
    """What a probe learned about a device."""

    host: str  # "192.0.2.10:80": where the owner (or discovery) pointed us
    xaddr: str  # device service URL
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None
    profiles: tuple[OnvifProfile, ...] = ()
    record_profile: str | None = None  # token chosen to record (highest resolution H.264/H.265)
    detect_profile: str | None = None  # token chosen to detect (smallest)
    clock_offset_s: float | None = None  # device clock minus host clock (GetSystemDateAndTime)
    events_supported: bool = False
    event_topics: tuple[str, ...] = ()
    doorbell: bool = False  # publishes a visitor / call-button topic
    warnings: tuple[str, ...] = ()  # homeowner-readable remarks (clock far off, no sub stream...)
