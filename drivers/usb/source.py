"""Capture raw or MJPEG frames from a USB camera through PyAV and encode H.264 here.

The one code path opens any FFmpeg input: ``v4l2`` (Linux), ``dshow`` (Windows), ``avfoundation``
(macOS), and, for tests, ``lavfi`` test sources or ``rawvideo`` from a pipe. Frames are decoded
(nothing to do for raw formats), converted to yuv420p and encoded with libx264 through a "holder"
stream opened with ``start_encoding()``, so that the stream serves as the template for stream copy
(as the demo camera does). Timestamps are the capture times of the frames (the kernel's for V4L2),
on a 1/90000 time base, strictly increasing. Inputs that are not live devices are paced to real
time. A camera that delivers more frames per second than asked is thinned before decoding.

Parsing the options and checking the device before opening it is :mod:`drivers.usb.settings`.

Encoder settings (measured with bench numbers in the driver's report): preset ultrafast,
tune zerolatency (no lookahead, no B-frames), CRF 26, a keyframe every 2 s, one thread up to 720p.
"""

from __future__ import annotations

import errno
import fractions
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import av.error
import av.video.frame
import av.video.reformatter

from drivers.base import FrameListener, StreamError, StreamRequest, UnsupportedError
from drivers.usb import platforms, v4l2
from drivers.usb.model import UsbDevice
from drivers.usb.settings import CaptureSettings, prepare, translate_os_error

logger = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 90000)
LIVE_FORMATS = frozenset({"v4l2", "video4linux2", "dshow", "avfoundation"})
MAX_BAD_FRAMES = 50  # consecutive undecodable frames before the stream counts as broken
_GONE = (errno.ENODEV, errno.ENXIO, errno.ENOENT, errno.EIO)


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
        self, request: StreamRequest, *, query: Callable[[str], UsbDevice | None] = v4l2.query_path
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
                # FFmpeg's invalid-data and invalid-argument errors are both ValueErrors in PyAV.
                except ValueError as exc:
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

    def _read_packet(self) -> av.Packet[av.video.stream.VideoStream]:
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
        next_keep = self._next_keep
        if next_keep is None or abs(t - next_keep) > 1.0:  # first frame, or a gap: restart
            next_keep = t
        self._next_keep = next_keep + self._interval
        return False

    def packets(self) -> Iterator[av.Packet[Any]]:
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

    def _encode(self, frame: av.VideoFrame, pts: int) -> list[av.Packet[Any]]:
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
