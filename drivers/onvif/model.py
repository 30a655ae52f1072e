"""Plain data the ONVIF driver returns (immutable; safe across threads)."""

from __future__ import annotations

import dataclasses

from drivers.base import MediaProfile


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
    profiles: tuple[MediaProfile, ...] = ()
    record_profile: str | None = None  # token chosen to record (highest resolution H.264/H.265)
    detect_profile: str | None = None  # token chosen to detect (smallest)
    clock_offset_s: float | None = None  # device clock minus host clock (GetSystemDateAndTime)
    events_supported: bool = False
    event_topics: tuple[str, ...] = ()
    doorbell: bool = False  # publishes a visitor / call-button topic
    warnings: tuple[str, ...] = ()  # homeowner-readable remarks (clock far off, no sub stream...)
