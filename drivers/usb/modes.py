"""Choosing what to capture: the cheapest format that gives the asked size and frame rate.

Raw formats need no decoding and come first, then MJPEG, then H.264 (decoding it costs most). A
camera that only runs faster than asked is captured at its next faster rate and thinned.
"""

from __future__ import annotations

import dataclasses

from drivers.usb.model import UsbDevice, UsbFormat, fmt_rate

#: Uncompressed fourccs: captured frames go to the encoder without decoding.
RAW_FOURCCS = frozenset({"YUYV", "UYVY", "YU12", "NV12", "422P", "GREY", "RGB3", "BGR3"})
_PREFERENCE = {"MJPG": 1, "JPEG": 1, "H264": 2}  # raw formats (0) need no decoding; H.264 costs most
DEFAULT_MODES = ((1280, 720, 15.0), (640, 480, 15.0), (640, 360, 15.0))


@dataclasses.dataclass(frozen=True)
class Mode:
    """What to ask the device for: format, size and capture rate (may exceed the recording rate)."""

    fmt: UsbFormat
    width: int
    height: int
    capture_fps: float | None  # None: the device's rate is unknown (stepwise devices): ask for the target


def _rank(fmt: UsbFormat) -> int:
    return 0 if fmt.fourcc in RAW_FOURCCS else _PREFERENCE.get(fmt.fourcc, 3)


def choose_mode(device: UsbDevice, width: int, height: int, fps: float | None) -> Mode:
    """The cheapest format that captures ``width``x``height`` at ``fps`` (or faster, to be thinned).

    Raises ValueError with a message listing what the device offers.
    """
    usable = [f for f in device.formats if f.ffmpeg_name is not None]
    offered = [(f, f.rates(width, height)) for f in usable]
    at_size = [(f, r) for f, r in offered if r is not None]
    if not at_size:
        raise ValueError(f"cannot capture {width}x{height}; it offers {device.describe_offers()}")
    if fps is None:
        best = min(at_size, key=lambda fr: (_rank(fr[0]), -max(fr[1], default=0)))
        return Mode(best[0], width, height, max(best[1]) if best[1] else None)
    exact = [(f, r) for f, r in at_size if not r or any(abs(x - fps) < 0.01 for x in r)]
    if exact:
        fmt, _rates = min(exact, key=lambda fr: _rank(fr[0]))
        return Mode(fmt, width, height, fps)
    faster = [(f, min(x for x in r if x > fps)) for f, r in at_size if any(x > fps for x in r)]
    if faster:
        fmt, rate = min(faster, key=lambda fr: (_rank(fr[0]), fr[1]))
        return Mode(fmt, width, height, rate)
    rates = sorted({x for _f, r in at_size for x in r}, reverse=True)
    raise ValueError(
        f"cannot capture {width}x{height} at {fps:g} fps; at that size it offers "
        f"{'/'.join(fmt_rate(r) for r in rates)} fps"
    )


def default_mode(device: UsbDevice) -> tuple[int, int, float | None]:
    """A sensible size and rate when the owner chose none: 720p or 480p at 15 fps when offered."""
    for width, height, fps in DEFAULT_MODES:
        try:
            choose_mode(device, width, height, fps)
            return width, height, fps
        except ValueError:
            continue
    best: tuple[int, int, float | None] | None = None
    for fmt in device.formats:
        if fmt.ffmpeg_name is None:
            continue
        for w, h, rates in fmt.sizes:
            if w * h <= 1280 * 720 and (best is None or w * h > best[0] * best[1]):
                best = (w, h, max(rates) if rates else None)
    if best is None:
        raise ValueError(f"no size Porchlight can use; it offers {device.describe_offers()}")
    return best
