"""What to capture from a USB camera, checked before it is opened.

:class:`CaptureSettings` parses ``StreamRequest.url`` and ``.options`` (size, rate, FFmpeg input
and encoder settings). :func:`prepare` checks the device before it is opened: a device node must
exist, and a V4L2 node is queried (never opened for capture) to check that it captures video and
offers the size and rate, which fills in the capture mode. :func:`translate_os_error` turns a
failure to open a device into a homeowner-readable error.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable, Mapping

import av.error

from drivers.base import (
    DriverError,
    StreamRequest,
    UnreachableError,
    UnsupportedError,
)
from drivers.usb import modes, platforms, v4l2
from drivers.usb.model import UsbDevice

#: Option keys Porchlight reads itself; any other key is passed to FFmpeg's input as is.
OWN_KEYS = frozenset(
    {
        "format",
        "size",
        "width",
        "height",
        "fps",
        "input_format",
        "preset",
        "crf",
        "gop_s",
        "threads",
        "name",
        "card",
        "model",
        "bus_info",
        "stable_path",
    }
)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720); ValueError for anything else."""
    w, sep, h = str(text).lower().partition("x")
    width, height = int(w), int(h)
    if not sep or not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(text)
    return width, height


@dataclasses.dataclass(frozen=True)
class CaptureSettings:
    """What to open and how to encode it, from ``StreamRequest.url`` and ``.options``."""

    device: str
    format: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    input_format: str | None = None
    capture_fps: float | None = None  # what to ask the device for (may exceed fps: thinned)
    preset: str = "ultrafast"
    crf: int = 26
    gop_s: float = 2.0
    threads: int = 0  # 0: one thread up to 720p, two above
    extra: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def is_path(self) -> bool:
        """True when the device is a file-system node (present or not)."""
        return self.format != "lavfi" and os.path.isabs(self.device)

    @classmethod
    def from_request(cls, request: StreamRequest) -> CaptureSettings:
        """Parse and check the options; UnsupportedError names the bad one."""
        opts = {str(k): str(v) for k, v in request.options.items() if v is not None and str(v) != ""}
        if not request.url:
            raise UnsupportedError("no USB camera chosen")
        fmt = opts.get("format") or platforms.default_input_format()
        try:
            size = (
                parse_size(opts["size"])
                if "size" in opts
                else (
                    (int(opts["width"]), int(opts["height"]))
                    if "width" in opts and "height" in opts
                    else None
                )
            )
        except (ValueError, KeyError):
            raise UnsupportedError(f"invalid picture size {opts.get('size')!r} (use e.g. 1280x720)") from None
        try:
            fps = float(opts["fps"]) if "fps" in opts else None
            if fps is not None and not 0.5 <= fps <= 120:
                raise ValueError
            crf, gop_s, threads = (
                int(opts.get("crf", 26)),
                float(opts.get("gop_s", 2.0)),
                int(opts.get("threads", 0)),
            )
            if not (0 <= crf <= 51 and 0.5 <= gop_s <= 10 and 0 <= threads <= 8):
                raise ValueError
        except ValueError:
            raise UnsupportedError("invalid frame rate or encoder setting for the USB camera") from None
        preset = opts.get("preset", "ultrafast")
        if preset not in PRESETS:
            raise UnsupportedError(f"unknown encoder preset {preset!r}")
        return cls(
            device=request.url,
            format=fmt,
            width=size[0] if size else None,
            height=size[1] if size else None,
            fps=fps,
            input_format=opts.get("input_format"),
            capture_fps=fps,
            preset=preset,
            crf=crf,
            gop_s=gop_s,
            threads=threads,
            extra={k: v for k, v in opts.items() if k not in OWN_KEYS},
        )

    def ffmpeg_options(self) -> dict[str, str]:
        """Options for ``av.open`` (capture size, rate and pixel format)."""
        opts = dict(self.extra)
        if self.width and self.height:
            opts["video_size"] = f"{self.width}x{self.height}"
        if self.capture_fps:
            opts["framerate"] = f"{self.capture_fps:g}"
        if self.input_format:
            opts["input_format"] = self.input_format
        return opts


def translate_os_error(exc: BaseException, where: str) -> DriverError:
    """A homeowner-readable error for a failure to open or read a capture device."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return UnreachableError(f"the USB camera {where} is not connected")
    if code == errno.EBUSY:
        return UnreachableError(f"the USB camera {where} is in use by another program (close that program)")
    if code in (errno.EACCES, errno.EPERM):
        return UnreachableError(
            f"no permission to open the USB camera {where} (on Linux, add your user to the 'video' group)"
        )
    if code == errno.EIO:
        return UnreachableError(f"the USB camera {where} does not respond (unplug it and plug it back in)")
    if isinstance(exc, av.error.InvalidDataError) or code == errno.EINVAL:
        return UnsupportedError(f"the USB camera {where} cannot deliver video with these settings")
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return UnreachableError(f"cannot open the USB camera {where}: {text}")


def prepare(
    settings: CaptureSettings, query: Callable[[str], UsbDevice | None] = v4l2.query_path
) -> tuple[CaptureSettings, UsbDevice | None]:
    """Checks before opening: the node exists, captures video and offers the size and rate.

    For V4L2 the device is only queried (never opened for capture); the settings come back with
    the size (a default when none was chosen), capture rate and input format filled in.
    """
    where = settings.device
    if settings.is_path and not os.path.exists(where):
        raise UnreachableError(f"the USB camera {where} is not connected")
    if settings.format not in ("v4l2", "video4linux2"):
        return settings, None
    try:
        device = query(where)
    except OSError as exc:
        raise translate_os_error(exc, where) from None
    if device is None:
        raise UnsupportedError(
            f"{where} is not a video capture device (a camera's second "
            "/dev/video node carries metadata: choose its first node)"
        )
    width, height, fps = settings.width, settings.height, settings.fps
    try:
        if width is None or height is None:
            width, height, default_fps = modes.default_mode(device)
            fps = fps or default_fps
        mode = modes.choose_mode(device, width, height, fps)
    except ValueError as exc:
        raise UnsupportedError(f"the USB camera {where} {exc}") from None
    return dataclasses.replace(
        settings,
        width=width,
        height=height,
        fps=fps,
        capture_fps=mode.capture_fps or fps,
        input_format=settings.input_format or mode.fmt.ffmpeg_name,
    ), device
