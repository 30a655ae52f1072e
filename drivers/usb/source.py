"""Capture raw or MJPEG frames from a USB camera through PyAV and encode H.264 here.

The one code path opens any FFmpeg input: ``v4l2`` (Linux), ``dshow`` (Windows), ``avfoundation``
(macOS), and, for tests, ``lavfi`` test sources or ``rawvideo`` from a pipe. Frames are decoded
(nothing to do for raw formats), converted to yuv420p and encoded with libx264 through a "holder"
stream opened with ``start_encoding()``, so that the stream serves as the template for stream copy
(as the demo camera does). Timestamps are the capture times of the frames (the kernel's for V4L2),
on a 1/90000 time base, strictly increasing. Inputs that are not live devices are paced to real
time. A camera that delivers more frames per second than asked is thinned before decoding.

Encoder settings (measured with bench numbers in the driver's report): preset ultrafast,
tune zerolatency (no lookahead, no B-frames), CRF 26, a keyframe every 2 s, one thread up to 720p.
"""

from __future__ import annotations

import dataclasses
import errno
import fractions
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import av
import av.error
import av.video.frame
import av.video.reformatter

from drivers.base import (
    DriverError,
    FrameListener,
    StreamError,
    StreamRequest,
    UnreachableError,
    UnsupportedError,
)
from drivers.usb import platforms, v4l2

logger = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 90000)
LIVE_FORMATS = frozenset({"v4l2", "video4linux2", "dshow", "avfoundation"})
MAX_BAD_FRAMES = 50  # consecutive undecodable frames before the stream counts as broken
_GONE = (errno.ENODEV, errno.ENXIO, errno.ENOENT, errno.EIO)
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
    settings: CaptureSettings, query: Callable[[str], v4l2.UsbDevice | None] = v4l2.query_path
) -> tuple[CaptureSettings, v4l2.UsbDevice | None]:
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
            width, height, default_fps = v4l2.default_mode(device)
            fps = fps or default_fps
        mode = v4l2.choose_mode(device, width, height, fps)
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


class UsbSource:
    """One open capture device, encoded to H.264 (see drivers.base.PacketSource).

    ``frame_listener`` (optional, set before iterating): called on the reading thread with each
    yuv420p frame just before it is encoded (pts on the encoder's time base), so detection can use
    raw frames without decoding H.264 again. It must return quickly and not modify the frame.
    """

    encoded_here = True
    audio = None
    start_time_realtime_us = None

    def __init__(
        self, request: StreamRequest, *, query: Callable[[str], v4l2.UsbDevice | None] = v4l2.query_path
    ) -> None:
        settings, self.device = prepare(CaptureSettings.from_request(request), query)
        self.where = settings.device
        self.frame_listener: FrameListener | None = None
        self.stats = {"frames_in": 0, "frames_thinned": 0, "frames_bad": 0, "frames_encoded": 0}
        self.settings = settings
        self._live = settings.format in LIVE_FORMATS
        self._container = self._open(settings, request)
        try:
            self._in = self._container.streams.video[0]
            self._check_size(settings)
            self._in.thread_type = "SLICE"  # MJPEG: no frame-threading delay
            self._in.codec_context.thread_count = 1
            self.video = self._start_encoder()
        except BaseException:
            self._container.close()
            raise
        self._demux = self._container.demux(self._in)
        self._reformatter = av.video.reformatter.VideoReformatter()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._busy = False
        self._released = False
        self._listener_failed = False
        self._interval = 1 / settings.fps if settings.fps else 0.0
        self._next_keep: float | None = None
        self._bad = 0

    @property
    def input_rate(self) -> float | None:
        """The frame rate the input announces (None when unknown)."""
        rate = self._in.average_rate or self._in.base_rate
        return float(rate) if rate else None

    # -- opening -----------------------------------------------------------------------------
    def _open(self, settings: CaptureSettings, request: StreamRequest) -> av.container.InputContainer:
        url = platforms.device_url(settings.format, settings.device)
        try:
            return av.open(
                url,
                format=settings.format,
                container_options=settings.ffmpeg_options(),
                timeout=(request.open_timeout_s, None),
            )
        except av.error.FFmpegError as exc:
            error = translate_os_error(exc, self.where)
        except OSError as exc:
            error = translate_os_error(exc, self.where)
        raise error

    def _check_size(self, settings: CaptureSettings) -> None:
        cc = self._in.codec_context
        if not self._container.streams.video or not cc.width or not cc.height:
            raise UnsupportedError(f"the USB camera {self.where} sends no picture we can read")
        if settings.width and (cc.width, cc.height) != (settings.width, settings.height):
            offers = f"; it offers {self.device.describe_offers()}" if self.device else ""
            raise UnsupportedError(
                f"the USB camera {self.where} delivers {cc.width}x{cc.height}, not the "
                f"{settings.width}x{settings.height} asked for{offers}"
            )

    def _start_encoder(self) -> av.video.stream.VideoStream:
        cc = self._in.codec_context
        width, height = cc.width // 2 * 2, cc.height // 2 * 2
        rate = self.settings.fps or float(self._in.average_rate or self._in.base_rate or 15)
        gop = max(1, round(rate * self.settings.gop_s))
        threads = self.settings.threads or (1 if width * height <= 1280 * 720 else 2)
        try:
            return self._encoder(width, height, rate, gop, threads)
        except av.error.FFmpegError as exc:
            raise UnsupportedError(
                f"the H.264 encoder cannot start for the USB camera {self.where}: {exc}"
            ) from None

    def _encoder(
        self, width: int, height: int, rate: float, gop: int, threads: int
    ) -> av.video.stream.VideoStream:
        cc = self._in.codec_context
        self._holder = av.open(io.BytesIO(), "w", format="mp4")
        vs = self._holder.add_stream(
            "libx264",
            rate=fractions.Fraction(rate).limit_denominator(1001),
            options={
                "preset": self.settings.preset,
                "tune": "zerolatency",
                "crf": str(self.settings.crf),
                "g": str(gop),
                "bf": "0",
                "threads": str(threads),
            },
        )
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = TIME_BASE
        self._holder.start_encoding()  # opens the encoder: the stream is a template for stream copy
        self._size = (width, height)
        logger.info(
            "%s: capturing %dx%d (%s) and encoding H.264 at %g fps, GOP %d, preset %s",
            self.where,
            width,
            height,
            cc.name,
            rate,
            gop,
            self.settings.preset,
        )
        return vs

    # -- reading -----------------------------------------------------------------------------
    def _next_frames(self) -> tuple[float, list[av.VideoFrame]] | None:
        """(capture time, decoded frames) of the next kept packet; None once closed.

        Reading and decoding touch the input container: they run with ``_busy`` set, so a close()
        from another thread leaves the release to this thread instead of freeing it underneath.
        """
        with self._lock:
            if self._closed.is_set():
                return None
            self._busy = True
        try:
            while not self._closed.is_set():
                pkt = self._read_packet()
                if pkt.size == 0:
                    continue
                self.stats["frames_in"] += 1
                t = (
                    float(pkt.pts * pkt.time_base)
                    if pkt.pts is not None and pkt.time_base
                    else time.monotonic()
                )
                if self._thin(t):
                    continue
                try:
                    frames = self._in.codec_context.decode(pkt)
                except (av.error.InvalidDataError, av.error.ValueError) as exc:
                    self._bad += 1
                    self.stats["frames_bad"] += 1
                    if self._bad >= MAX_BAD_FRAMES:
                        raise StreamError(
                            f"the USB camera {self.where} sends pictures we cannot read: {exc}"
                        ) from None
                    continue
                self._bad = 0
                if frames:
                    return t, frames
            return None
        finally:
            with self._lock:
                self._busy = False
                closed = self._closed.is_set()
            if closed:
                self._release()

    def _read_packet(self) -> av.Packet:
        """The next input packet; StreamError when the device is gone or stops."""
        try:
            pkt = next(self._demux, None)
        except (av.error.EOFError, EOFError):
            pkt = None
        except (av.error.FFmpegError, OSError) as exc:
            if self._closed.is_set():
                raise StreamError("closed") from None
            if getattr(exc, "errno", None) in _GONE:
                raise StreamError(f"the USB camera {self.where} was disconnected") from None
            raise StreamError(
                f"the USB camera {self.where} failed: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if pkt is None:
            gone = self.settings.is_path and not os.path.exists(self.settings.device)
            raise StreamError(
                f"the USB camera {self.where} " + ("was disconnected" if gone else "stopped sending video")
            )
        return pkt

    def _thin(self, t: float) -> bool:
        """True to skip a frame of a camera that runs faster than asked (before decoding it)."""
        if not self._interval:
            return False
        if self._next_keep is not None and t < self._next_keep - self._interval / 4:
            self.stats["frames_thinned"] += 1
            return True
        restart = self._next_keep is None or abs(t - self._next_keep) > 1.0  # first frame, or a gap
        self._next_keep = (t if restart else self._next_keep) + self._interval
        return False

    def packets(self) -> Iterator[av.Packet]:
        """Yield H.264 packets in real time until closed; raise StreamError when the camera goes away."""
        first_t: float | None = None
        wall0 = 0.0
        last_pts = -1
        while True:
            try:
                got = self._next_frames()
            except StreamError:
                if self._closed.is_set():
                    return
                raise
            if got is None:
                return
            t, frames = got
            for frame in frames:
                if first_t is None:
                    first_t, wall0 = t, time.monotonic()
                if not self._live and self._pace(t - first_t, wall0):
                    return
                pts = max(last_pts + 1, round((t - first_t) / TIME_BASE))
                last_pts = pts
                yield from self._encode(frame, pts)

    def _pace(self, media_s: float, wall0: float) -> bool:
        """Hold a non-live input to real time; True when closed while waiting."""
        delay = wall0 + media_s - time.monotonic()
        return delay > 0 and self._closed.wait(delay)

    def _encode(self, frame: av.VideoFrame, pts: int) -> list[av.Packet]:
        width, height = self._size
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (width, height):
            frame = self._reformatter.reformat(frame, width=width, height=height, format="yuv420p")
        frame.pts = pts
        frame.time_base = self.video.codec_context.time_base  # the muxer may change the stream's
        frame.pict_type = av.video.frame.PictureType.NONE  # MJPEG/lavfi frames say "I": x264 would obey
        listener = self.frame_listener
        if listener is not None:
            try:
                listener(frame)
            except Exception:  # noqa: BLE001 - detection never stops recording
                if not self._listener_failed:
                    self._listener_failed = True
                    logger.warning("%s: the frame listener failed", self.where, exc_info=True)
        out = self.video.encode(frame)
        self.stats["frames_encoded"] += 1
        return out

    # -- closing -----------------------------------------------------------------------------
    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        try:
            self._container.close()
        except Exception:  # noqa: BLE001
            logger.debug("closing %s failed", self.where, exc_info=True)

    def close(self) -> None:
        """Stop and release the device (idempotent; any thread: a blocked read releases it)."""
        with self._lock:
            self._closed.set()
            busy = self._busy
        if not busy:
            self._release()
