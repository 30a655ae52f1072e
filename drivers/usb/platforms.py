"""Windows (DirectShow) and macOS (AVFoundation) camera names, from FFmpeg's device listing.

FFmpeg lists devices as log lines when an input is opened with ``list_devices=true`` (and then
fails with "Immediate exit requested"). :func:`capture_listing` runs that through PyAV with the
log captured; the parsers turn the text (FFmpeg's own ``ffmpeg -list_devices true`` output works
too) into device names. They accept the formats of FFmpeg 3.x to 8.x:

DirectShow, old::    [dshow @ 03ACF580] DirectShow video devices
                     [dshow @ 03ACF580]  "Integrated Camera"
DirectShow, new::    [dshow @ 000002798dd4fb80] "Integrated Camera" (video)
                     [dshow @ 000002798dd4fb80]   Alternative name "@device_pnp_\\\\?\\usb#vid_..."
AVFoundation::       [AVFoundation indev @ 0x7fe73bc22200] AVFoundation video devices:
                     [AVFoundation indev @ 0x7fe73bc22200] [0] FaceTime HD Camera (Built-in)
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Callable

from drivers.base import DiscoveredDevice

logger = logging.getLogger(__name__)

_PREFIX = re.compile(r"^\s*\[[^\]]*@[^\]]*\]\s?")  # "[dshow @ 0x..]", "[in#0 @ 0x..]"
_DSHOW_SECTION = re.compile(r"^DirectShow (video|audio) devices", re.IGNORECASE)
_DSHOW_DEVICE = re.compile(r'^"(?P<name>.*)"(?:\s+\((?P<types>[^()"]*)\))?\s*$')
_DSHOW_ALT = re.compile(r'^Alternative name\s+"(?P<alt>.*)"\s*$', re.IGNORECASE)
_AVF_SECTION = re.compile(r"^AVFoundation (video|audio) devices:?\s*$", re.IGNORECASE)
_AVF_DEVICE = re.compile(r"^\[(?P<index>\d+)\]\s+(?P<name>.+?)\s*$")
_SCREEN = re.compile(r"^Capture screen \d+$")


@dataclasses.dataclass(frozen=True)
class PlatformDevice:
    """One device from FFmpeg's listing."""

    name: str
    kinds: tuple[str, ...]  # ("video",), ("audio",) or ("audio", "video")
    alternative_name: str | None = None  # DirectShow's unique moniker (tells identical cameras apart)
    index: int | None = None  # AVFoundation's index (changes when devices come and go)


def _lines(text: str) -> list[str]:
    return [_PREFIX.sub("", line).strip() for line in text.splitlines()]


def parse_dshow_listing(text: str) -> list[PlatformDevice]:
    """Devices from ``-f dshow -list_devices true`` output, in listing order."""
    devices: list[PlatformDevice] = []
    section: str | None = None
    for line in _lines(text):
        if m := _DSHOW_SECTION.match(line):
            section = m.group(1).lower()
        elif (m := _DSHOW_ALT.match(line)) and devices:
            devices[-1] = dataclasses.replace(devices[-1], alternative_name=m.group("alt"))
        elif m := _DSHOW_DEVICE.match(line):
            types = m.group("types")
            if types is not None:
                kinds = tuple(sorted({t.strip().lower() for t in types.split(",")} & {"audio", "video"}))
            else:
                kinds = (section,) if section else ()
            if kinds and m.group("name"):
                devices.append(PlatformDevice(m.group("name"), kinds))
    return devices


def parse_avfoundation_listing(text: str) -> list[PlatformDevice]:
    """Devices from ``-f avfoundation -list_devices true -i ""`` output, in listing order."""
    devices: list[PlatformDevice] = []
    section: str | None = None
    for line in _lines(text):
        if m := _AVF_SECTION.match(line):
            section = m.group(1).lower()
        elif section and (m := _AVF_DEVICE.match(line)):
            devices.append(PlatformDevice(m.group("name"), (section,), index=int(m.group("index"))))
    return devices


def dshow_cameras(devices: list[PlatformDevice]) -> list[DiscoveredDevice]:
    """Video devices as ``discover`` rows; identical names are told apart by their moniker."""
    video = [d for d in devices if "video" in d.kinds]
    names = [d.name for d in video]
    out = []
    for dev in video:
        ident = dev.alternative_name if names.count(dev.name) > 1 and dev.alternative_name else dev.name
        out.append(DiscoveredDevice(kind="usb", name=dev.name, model=dev.name, device=f"video={ident}"))
    return out


def avfoundation_cameras(devices: list[PlatformDevice]) -> list[DiscoveredDevice]:
    """Cameras (not screens) as ``discover`` rows; the name is the stable identifier."""
    out = []
    for dev in devices:
        if "video" not in dev.kinds or _SCREEN.match(dev.name):
            continue
        ident = dev.name if ":" not in dev.name else str(dev.index)  # ':' separates video from audio
        out.append(DiscoveredDevice(kind="usb", name=dev.name, model=dev.name, device=ident))
    return out


def default_input_format(platform: str | None = None) -> str:
    """FFmpeg's capture input for this OS: v4l2, dshow or avfoundation."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return "dshow"
    if platform == "darwin":
        return "avfoundation"
    return "v4l2"


def device_url(fmt: str, device: str) -> str:
    """What to pass to ``av.open`` for a device: video only, never the microphone."""
    if fmt == "dshow" and not device.startswith("video="):
        return f"video={device}"
    if fmt == "avfoundation" and ":" not in device:
        return f"{device}:none"
    return device


def join_log(records: list[tuple[int, str, str]]) -> str:
    """Text of captured PyAV log records, with FFmpeg's "[name] " at each line start."""
    parts: list[str] = []
    at_start = True
    for _level, name, message in records:
        for piece in re.split(r"(?<=\n)", message):
            if not piece:
                continue
            if at_start:
                parts.append(f"[{name} @ 0] ")
            parts.append(piece)
            at_start = piece.endswith("\n")
    return "".join(parts)


def capture_listing(fmt: str, url: str, opener: Callable[..., object] | None = None) -> str:
    """Run FFmpeg's device listing for ``fmt`` and return what it logged."""
    import av
    import av.logging

    opener = opener or av.open
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)  # the listing is logged at INFO
    try:
        with av.logging.Capture(True) as records:
            try:
                opener(url, format=fmt, options={"list_devices": "true"})
            except Exception:  # noqa: BLE001 - the listing always ends in "Immediate exit requested"
                pass
    finally:
        av.logging.set_level(previous)
    return join_log(list(records))


def list_devices(platform: str | None = None) -> list[DiscoveredDevice]:
    """Cameras on Windows or macOS (empty elsewhere, or when the FFmpeg build lacks the input)."""
    fmt = default_input_format(platform)
    try:
        if fmt == "dshow":
            return dshow_cameras(parse_dshow_listing(capture_listing("dshow", "dummy")))
        if fmt == "avfoundation":
            return avfoundation_cameras(parse_avfoundation_listing(capture_listing("avfoundation", "")))
    except Exception:  # noqa: BLE001 - discovery never fails the caller
        logger.warning("listing %s cameras failed", fmt, exc_info=True)
    return []
