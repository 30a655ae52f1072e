"""Linux USB cameras: find V4L2 capture nodes and what they can capture, with the query ioctls.

Each ``/dev/video*`` node is asked VIDIOC_QUERYCAP (name, driver, bus, capabilities); nodes that
cannot capture video through the single-planar streaming API (UVC metadata nodes, codec and ISP
nodes, loopback outputs) are skipped. For the rest, VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMESIZES and
VIDIOC_ENUM_FRAMEINTERVALS give the formats, sizes and rates, as :mod:`drivers.usb.model` values.

The ioctl call is injectable (``ioctl(fd, request, buffer) -> buffer``, the immutable-buffer form
of :func:`fcntl.ioctl`) so tests replay recorded query results. Every reply is length-checked and
every enumeration is bounded: a short, garbled or endless reply ends that enumeration, never the
caller.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import logging
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from drivers.base import DiscoveredDevice
from drivers.usb.model import FrameSizeRange, Size, UsbDevice, UsbFormat

logger = logging.getLogger(__name__)

IoctlFn = Callable[[int, int, bytes], bytes]


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("V") << 8) | nr


_CAP = struct.Struct("=16s32s32sIII12x")  # struct v4l2_capability (104 bytes)
_FMTDESC = struct.Struct("=III32sII12x")  # struct v4l2_fmtdesc (64 bytes)
_FRMSIZE = struct.Struct("=III6I8x")  # struct v4l2_frmsizeenum (44 bytes)
_FRMIVAL = struct.Struct("=5I6I8x")  # struct v4l2_frmivalenum (52 bytes)

VIDIOC_QUERYCAP = _ioc(2, 0, _CAP.size)
VIDIOC_ENUM_FMT = _ioc(3, 2, _FMTDESC.size)
VIDIOC_ENUM_FRAMESIZES = _ioc(3, 74, _FRMSIZE.size)
VIDIOC_ENUM_FRAMEINTERVALS = _ioc(3, 75, _FRMIVAL.size)

CAP_VIDEO_CAPTURE = 0x00000001
CAP_VIDEO_M2M_MPLANE = 0x00004000
CAP_VIDEO_M2M = 0x00008000
CAP_META_CAPTURE = 0x00800000
CAP_STREAMING = 0x04000000
CAP_DEVICE_CAPS = 0x80000000
BUF_TYPE_VIDEO_CAPTURE = 1
FMT_FLAG_COMPRESSED = 0x1
FMT_FLAG_EMULATED = 0x2
_DISCRETE, _CONTINUOUS, _STEPWISE = 1, 2, 3

MAX_FORMATS = 64
MAX_SIZES = 256
MAX_INTERVALS = 64
MAX_CALLS = 20000  # ioctls per node: a node that never ends an enumeration cannot stall discovery
#: Drivers whose capture nodes are stages of a codec or an ISP, not cameras.
NON_CAMERA_DRIVERS = frozenset({"bcm2835-codec", "bcm2835-isp", "rpivid", "rpi-hevc-dec", "pispbe"})
BY_ID_DIR = "/dev/v4l/by-id"


class MalformedReply(Exception):
    """An ioctl answered with fewer bytes than its structure needs (or the node used its budget)."""


class _Budget:
    """Counts ioctls on one node and refuses more than MAX_CALLS."""

    def __init__(self, ioctl: IoctlFn, limit: int = MAX_CALLS) -> None:
        self._ioctl, self.left = ioctl, limit

    def __call__(self, fd: int, request: int, buffer: bytes) -> bytes:
        self.left -= 1
        if self.left < 0:
            raise MalformedReply("too many answers from one node: enumeration cut short")
        return self._ioctl(fd, request, buffer)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace").strip()


def _fourcc(code: int) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "?" for b in code.to_bytes(4, "little")).rstrip()


def fourcc_code(text: str) -> int:
    """The 32-bit code of a fourcc string such as 'MJPG' (padded with spaces)."""
    return int.from_bytes(text.ljust(4)[:4].encode("ascii"), "little")


def _call(
    ioctl: IoctlFn, fd: int, request: int, layout: struct.Struct, *fields: int | bytes
) -> tuple[Any, ...]:
    reply = ioctl(fd, request, layout.pack(*fields))
    if not isinstance(reply, bytes | bytearray) or len(reply) < layout.size:
        got = len(reply) if isinstance(reply, bytes | bytearray) else type(reply).__name__
        raise MalformedReply(f"ioctl {request:#x} answered {got} instead of {layout.size} bytes")
    return layout.unpack_from(reply)


def _ended(exc: OSError) -> bool:
    """EINVAL ends an enumeration; ENOTTY means the ioctl is not supported (nothing to list)."""
    return exc.errno in (errno.EINVAL, errno.ENOTTY)


def _enumerate(
    ioctl: IoctlFn, fd: int, request: int, name: str, layout: struct.Struct, limit: int, *fields: int | bytes
) -> Iterator[tuple[Any, ...]]:
    """The replies of a V4L2 enumeration ioctl for index 0, 1, ... (``fields`` follow the index),
    until the driver says the list ended, fails, answers garbage, or ``limit`` is reached."""
    for index in range(limit):
        try:
            yield _call(ioctl, fd, request, layout, index, *fields)
        except OSError as exc:
            if not _ended(exc):
                logger.debug("%s failed: %s", name, exc)
            return
        except MalformedReply as exc:
            logger.debug("%s", exc)
            return


def _intervals(fd: int, ioctl: IoctlFn, pixfmt: int, width: int, height: int) -> tuple[float, ...]:
    rates: list[float] = []
    for _i, _pf, _w, _h, kind, *rest in _enumerate(
        ioctl,
        fd,
        VIDIOC_ENUM_FRAMEINTERVALS,
        "ENUM_FRAMEINTERVALS",
        _FRMIVAL,
        MAX_INTERVALS,
        pixfmt,
        width,
        height,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ):
        num, den = rest[0], rest[1]
        if kind == _DISCRETE:
            if num and den:
                rates.append(round(den / num, 3))
        else:  # a continuous/stepwise interval: report the fastest and slowest rates
            max_num, max_den = rest[2], rest[3]
            for n, d in ((num, den), (max_num, max_den)):
                if n and d:
                    rates.append(round(d / n, 3))
            break
    return tuple(sorted(set(rates), reverse=True))


def _sizes(fd: int, ioctl: IoctlFn, pixfmt: int) -> tuple[tuple[Size, ...], FrameSizeRange | None]:
    sizes: list[Size] = []
    seen: set[tuple[int, int]] = set()
    size_range: FrameSizeRange | None = None
    for _i, _pf, kind, *u in _enumerate(
        ioctl, fd, VIDIOC_ENUM_FRAMESIZES, "ENUM_FRAMESIZES", _FRMSIZE, MAX_SIZES, pixfmt, 0, 0, 0, 0, 0, 0, 0
    ):
        if kind == _DISCRETE:
            w, h = u[0], u[1]
            if w and h and (w, h) not in seen:  # some firmware lists a size twice
                seen.add((w, h))
                sizes.append((w, h, _intervals(fd, ioctl, pixfmt, w, h)))
        elif kind in (_CONTINUOUS, _STEPWISE):
            min_w, max_w, step_w, min_h, max_h, step_h = u
            if 0 < min_w <= max_w and 0 < min_h <= max_h:
                size_range = FrameSizeRange(min_w, max_w, max(1, step_w), min_h, max_h, max(1, step_h))
            break
        else:
            break
    return tuple(sizes), size_range


def _formats(fd: int, ioctl: IoctlFn) -> tuple[UsbFormat, ...]:
    formats: list[UsbFormat] = []
    seen: set[int] = set()
    for _i, _t, flags, desc, pixfmt, _mbus in _enumerate(
        ioctl, fd, VIDIOC_ENUM_FMT, "ENUM_FMT", _FMTDESC, MAX_FORMATS, BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0
    ):
        if pixfmt in seen:
            continue
        seen.add(pixfmt)
        sizes, size_range = _sizes(fd, ioctl, pixfmt)
        formats.append(
            UsbFormat(
                _fourcc(pixfmt),
                _text(desc),
                sizes,
                bool(flags & FMT_FLAG_COMPRESSED),
                bool(flags & FMT_FLAG_EMULATED),
                size_range,
            )
        )
    return tuple(formats)


def can_capture(capabilities: int, device_caps: int) -> bool:
    """True for a node that captures video by streaming (not metadata, not a codec/M2M node)."""
    caps = device_caps if capabilities & CAP_DEVICE_CAPS else capabilities
    if caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE):
        return False
    return bool(caps & CAP_VIDEO_CAPTURE) and bool(caps & CAP_STREAMING)


def query_fd(fd: int, path: str, ioctl: IoctlFn) -> UsbDevice | None:
    """Describe the open node ``fd``; None when it is not a video capture node."""
    ioctl = _Budget(ioctl)
    try:
        driver, card, bus, _version, caps, device_caps = _call(
            ioctl, fd, VIDIOC_QUERYCAP, _CAP, b"", b"", b"", 0, 0, 0
        )
    except (OSError, MalformedReply) as exc:
        logger.debug("%s: VIDIOC_QUERYCAP failed: %s", path, exc)
        return None
    driver_name = _text(driver)
    if not can_capture(caps, device_caps) or driver_name in NON_CAMERA_DRIVERS:
        logger.debug(
            "%s (%s): not a camera capture node (caps %#x/%#x)", path, driver_name, caps, device_caps
        )
        return None
    return UsbDevice(path, _text(card) or path, driver_name, _text(bus), _formats(fd, ioctl))


def _sys_ioctl(fd: int, request: int, buffer: bytes) -> bytes:
    import fcntl  # Linux only; imported here so the module loads on every OS

    return fcntl.ioctl(fd, request, buffer)


def _open_node(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))


def stable_paths(by_id_dir: str = BY_ID_DIR) -> dict[str, str]:
    """``/dev/videoN`` -> ``/dev/v4l/by-id/...`` for nodes udev named (the first name wins)."""
    out: dict[str, str] = {}
    for link in sorted(glob.glob(os.path.join(by_id_dir, "*"))):
        try:
            out.setdefault(os.path.realpath(link), link)
        except OSError:
            continue
    return out


def _node_key(path: str) -> tuple[int, str]:
    digits = "".join(ch for ch in os.path.basename(path) if ch.isdigit())
    return (int(digits) if digits else 1 << 30, path)


def query_path(
    path: str,
    *,
    ioctl: IoctlFn = _sys_ioctl,
    open_node: Callable[[str], int] = _open_node,
    close_node: Callable[[int], None] = os.close,
) -> UsbDevice | None:
    """Describe one node by path; raises OSError when it cannot be opened (ENOENT: unplugged)."""
    fd = open_node(path)
    try:
        return query_fd(fd, path, ioctl)
    finally:
        try:
            close_node(fd)
        except OSError:
            pass


def enumerate_devices(
    nodes: Iterable[str] | None = None,
    *,
    ioctl: IoctlFn = _sys_ioctl,
    open_node: Callable[[str], int] = _open_node,
    close_node: Callable[[int], None] = os.close,
    stable: dict[str, str] | None = None,
) -> list[UsbDevice]:
    """Every capture node among ``nodes`` (default: ``/dev/video*``), in node order."""
    paths = sorted(glob.glob("/dev/video*") if nodes is None else nodes, key=_node_key)
    if stable is None:
        stable = stable_paths() if nodes is None else {}
    found: list[UsbDevice] = []
    for path in paths:
        try:
            dev = query_path(path, ioctl=ioctl, open_node=open_node, close_node=close_node)
        except OSError as exc:
            logger.debug("%s: cannot open: %s", path, exc)
            continue
        except Exception:  # noqa: BLE001 - one odd node never hides the others
            logger.warning("%s: unexpected failure while querying", path, exc_info=True)
            continue
        if dev is not None:
            found.append(dataclasses.replace(dev, stable_path=stable.get(path)))
    return found


def list_devices(devices: Iterable[UsbDevice] | None = None) -> list[DiscoveredDevice]:
    """Capture devices for ``porchlight discover`` (``device`` is the stable path when udev made one).

    ``devices``: already enumerated devices (default: enumerate ``/dev/video*`` now).
    """
    return [
        DiscoveredDevice(kind="usb", name=dev.card, model=dev.card, device=dev.stable_path or dev.path)
        for dev in (enumerate_devices() if devices is None else devices)
    ]
