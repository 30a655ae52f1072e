"""What a Linux USB camera offers: its capture formats, frame sizes and frame rates.

:class:`UsbDevice` (one V4L2 capture node) holds :class:`UsbFormat` entries (a fourcc with its
sizes and rates, or a :class:`FrameSizeRange` for stepwise/continuous devices). They are plain
frozen values: :mod:`drivers.usb.v4l2` fills them from the query ioctls, :mod:`drivers.usb.modes`
chooses among them.
"""

from __future__ import annotations

import dataclasses

#: V4L2 fourcc -> FFmpeg ``input_format`` name (the formats FFmpeg's v4l2 input can deliver).
FFMPEG_INPUT_FORMATS = {
    "YUYV": "yuyv422",
    "UYVY": "uyvy422",
    "YU12": "yuv420p",
    "NV12": "nv12",
    "422P": "yuv422p",
    "GREY": "gray",
    "RGB3": "rgb24",
    "BGR3": "bgr24",
    "MJPG": "mjpeg",
    "JPEG": "mjpeg",
    "H264": "h264",
}


@dataclasses.dataclass(frozen=True)
class FrameSizeRange:
    """A continuous or stepwise range of frame sizes."""

    min_width: int
    max_width: int
    step_width: int
    min_height: int
    max_height: int
    step_height: int

    def contains(self, width: int, height: int) -> bool:
        """True when ``width``x``height`` lies on the range's grid."""

        def on(v: int, lo: int, hi: int, step: int) -> bool:
            return lo <= v <= hi and (step <= 1 or (v - lo) % step == 0)

        return on(width, self.min_width, self.max_width, self.step_width) and on(
            height, self.min_height, self.max_height, self.step_height
        )

    def __str__(self) -> str:
        return f"{self.min_width}x{self.min_height} to {self.max_width}x{self.max_height}"


Size = tuple[int, int, tuple[float, ...]]  # (width, height, frame rates; () when not enumerable)


@dataclasses.dataclass(frozen=True)
class UsbFormat:
    """One capture format: fourcc, the driver's description, sizes with their frame rates."""

    fourcc: str
    description: str
    sizes: tuple[Size, ...]
    compressed: bool = False
    emulated: bool = False
    size_range: FrameSizeRange | None = None  # stepwise/continuous devices (e.g. Raspberry Pi camera)

    @property
    def ffmpeg_name(self) -> str | None:
        """FFmpeg's ``input_format`` for this fourcc, or None when FFmpeg cannot capture it."""
        return FFMPEG_INPUT_FORMATS.get(self.fourcc)

    def rates(self, width: int, height: int) -> tuple[float, ...] | None:
        """Frame rates at that size; () when offered at unknown rates; None when not offered."""
        for w, h, fps in self.sizes:
            if (w, h) == (width, height):
                return fps
        if self.size_range is not None and self.size_range.contains(width, height):
            return ()
        return None


@dataclasses.dataclass(frozen=True)
class UsbDevice:
    """A V4L2 node that can capture video."""

    path: str
    card: str
    driver: str
    bus_info: str
    formats: tuple[UsbFormat, ...]
    stable_path: str | None = None  # /dev/v4l/by-id/... (survives re-plugging into another port order)

    def describe_offers(self, limit: int = 40) -> str:
        """Sizes grouped by frame rates, e.g. '640x480, 1280x720 at 30/15 fps; 1920x1080 at 5 fps'."""
        merged: dict[tuple[int, int], set[float]] = {}
        for fmt in self.formats:
            if fmt.ffmpeg_name is None:
                continue
            for w, h, fps in fmt.sizes:
                merged.setdefault((w, h), set()).update(fps)
        groups: dict[tuple[float, ...], list[str]] = {}
        for (w, h), rates in sorted(merged.items(), key=lambda kv: (kv[0][0] * kv[0][1], kv[0]))[:limit]:
            groups.setdefault(tuple(sorted(rates, reverse=True)), []).append(f"{w}x{h}")
        parts = [
            ", ".join(sizes) + (f" at {'/'.join(fmt_rate(r) for r in rates)} fps" if rates else "")
            for rates, sizes in groups.items()
        ]
        parts += sorted(
            {
                f"any size from {fmt.size_range}"
                for fmt in self.formats
                if fmt.size_range is not None and fmt.ffmpeg_name is not None
            }
        )
        return "; ".join(parts) or "no format Porchlight can capture"


def fmt_rate(fps: float) -> str:
    return f"{fps:g}"
