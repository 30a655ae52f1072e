"""Network streams: any URL PyAV/FFmpeg opens (RTSP over TCP, HTTP, files for tests).

Credentials are injected into the URL only for the moment of ``av.open`` and never appear in a
message: every FFmpeg error is translated into a typed DriverError with a redacted text.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import av
import av.error

from drivers.base import (
    AuthError,
    BaseDriver,
    DriverError,
    ProbeResult,
    StreamError,
    StreamInfo,
    StreamRequest,
    UnreachableError,
    UnsupportedError,
)
from drivers.scrub import inject_credentials, redact, strip_credentials

logger = logging.getLogger(__name__)

#: Video codecs an MP4 segment can carry by stream copy.
RECORDABLE_VIDEO = frozenset({"h264", "hevc", "mjpeg", "mpeg4", "av1", "vp9"})


def _describe(url: str | None) -> str:
    """Where ``url`` points (``host:port``), for messages; never its credentials."""
    clean, _ = strip_credentials(url)
    return urllib.parse.urlsplit(clean or "").netloc or redact(url or "?")


def translate_open_error(exc: BaseException, request: StreamRequest, elapsed_s: float = 0.0) -> DriverError:
    """Map an exception from ``av.open`` to a typed error with a homeowner-readable message.

    ``elapsed_s``: how long the attempt took (a port that accepts but never answers ends in
    "invalid data" only when the open timeout fires).
    """
    where = _describe(request.url)
    # The socket timeout (read_timeout_s) or the open timeout, whichever fires first, ends a silent
    # peer with "invalid data"; a peer that really sends something else fails at once.
    waited = min(request.open_timeout_s, request.read_timeout_s)
    if elapsed_s >= waited * 0.9 and isinstance(exc, av.error.InvalidDataError):
        return UnreachableError(f"{where} accepted the connection but sent nothing within {waited:g} s")
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        if request.credentials is None:
            return AuthError(f"{where} requires a username and password")
        return AuthError(f"{where} refused the username or password")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return UnsupportedError(f"{where} has no stream at this path (404 Not Found): check the URL")
    if isinstance(exc, av.error.HTTPError):
        return UnreachableError(f"{where} answered with an error: {redact(exc.strerror or exc)}")
    if isinstance(exc, ConnectionRefusedError):
        return UnreachableError(f"{where} refused the connection (nothing listens on that port)")
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return UnreachableError(f"{where} did not answer in time")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN):
        return UnreachableError(f"{where} is unreachable (no route to the host)")
    if isinstance(exc, av.error.InvalidDataError):
        return UnsupportedError(f"{where} did not send a video stream we can read")
    if isinstance(exc, av.error.ProtocolNotFoundError):
        return UnsupportedError(f"unsupported kind of address: {redact(request.url)}")
    if isinstance(exc, av.error.FFmpegError):
        text = redact(getattr(exc, "strerror", None) or exc)
        if "resolve" in text.lower() or "name or service" in text.lower():
            return UnreachableError(f"{where}: the host name could not be resolved")
        return UnreachableError(f"{where}: {text}")
    return UnreachableError(f"{where}: {redact(exc)}")


def _open_options(url: str, request: StreamRequest) -> dict[str, str]:
    opts = {"analyzeduration": "2000000", "probesize": "2000000"}
    if url.startswith(("rtsp://", "rtsps://")):
        opts.update(
            {
                "rtsp_transport": "tcp",
                "timeout": str(int(request.read_timeout_s * 1_000_000)),  # socket I/O timeout, µs
                "allowed_media_types": "video+audio" if request.want_audio else "video",
            }
        )
    return opts  # request.options are driver settings (e.g. ONVIF host, profile), not FFmpeg options


class RtspSource:
    """One open network stream (see drivers.base.PacketSource)."""

    encoded_here = False

    def __init__(self, request: StreamRequest) -> None:
        if not request.url:
            raise UnsupportedError("no stream URL configured")
        self.request = request
        creds = request.credentials
        url = inject_credentials(
            request.url, creds.username if creds else None, creds.password if creds else None
        )
        t0 = time.monotonic()
        error: DriverError | None = None
        # PyAV's read timeout is a per-read deadline: it also catches a camera whose session stays
        # up (RTCP, keep-alives) while no media flows, which FFmpeg's socket timeout never sees.
        # Its price: an interrupt callback that takes the GIL on each I/O check (measured at
        # 0.05-0.1 % of a core per 1080p camera; see bench/RESULTS.md).
        try:
            self._container = av.open(
                url,
                options=_open_options(url, request),
                timeout=(request.open_timeout_s, request.read_timeout_s),
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed, redacted error
            error = translate_open_error(exc, request, time.monotonic() - t0)
        finally:
            del url
        if error is not None:
            # Raised outside the except block: no __context__ chain back to PyAV's error, whose
            # filename is the URL with the password in it.
            raise error
        self.open_seconds = time.monotonic() - t0
        if not self._container.streams.video:
            self._container.close()
            raise UnsupportedError(f"{_describe(request.url)} sends no video")
        self.video = self._container.streams.video[0]
        if self.video.codec_context.name not in RECORDABLE_VIDEO:
            name = self.video.codec_context.name
            self._container.close()
            raise UnsupportedError(f"{_describe(request.url)} sends {name} video, which cannot be recorded")
        audio = self._container.streams.audio
        self.audio = audio[0] if (audio and request.want_audio) else None
        realtime = self._container.start_time_realtime
        self.start_time_realtime_us = realtime if realtime and realtime > 0 else None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def packets(self) -> Iterator[av.Packet[Any]]:
        """Yield video (and audio) packets; raise StreamError when the stream ends or stalls."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        try:
            for pkt in self._container.demux(*streams):
                if pkt.size == 0:
                    continue
                yield pkt
        except (av.error.ExitError, TimeoutError):
            if self._closed.is_set():
                return
            raise StreamError(f"no data for {self.request.read_timeout_s:g} s (stream stalled)") from None
        except av.error.EOFError:
            pass
        except av.error.FFmpegError as exc:
            if self._closed.is_set():
                return
            raise StreamError(f"stream broke: {redact(getattr(exc, 'strerror', None) or exc)}") from None
        if not self._closed.is_set():
            raise StreamError("the camera ended the stream")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            try:
                self._container.close()
            except Exception:  # noqa: BLE001
                logger.debug("closing %s failed", _describe(self.request.url), exc_info=True)


class RtspDriver(BaseDriver):
    """Driver for plain stream URLs (anything FFmpeg opens). They cannot be discovered (ONVIF
    discovery finds cameras) and have no events of their own."""

    kind = "rtsp"
    title = "Stream URL"

    def probe(self, request: StreamRequest) -> ProbeResult:
        """Open the stream once and report what it carries."""
        src = RtspSource(request)
        try:
            v = src.video
            fps = float(v.average_rate) if v.average_rate else None
            info = StreamInfo(
                url=request.url,
                codec=v.codec_context.name,
                width=v.codec_context.width,
                height=v.codec_context.height,
                fps=fps,
                audio_codec=src.audio.codec_context.name if src.audio is not None else None,
            )
        finally:
            src.close()
        return ProbeResult(streams=(info,))

    def open_stream(self, request: StreamRequest) -> RtspSource:
        """Open a stream for recording or detection."""
        return RtspSource(request)
