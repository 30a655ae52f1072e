"""Probe an ONVIF device: clock, identity, services, Media1 profiles and URIs, stream roles, event topics.

Everything runs on the ONVIF loop thread (:mod:`drivers.onvif.loop`); :func:`probe_device` and
:func:`device_needs_auth` block their caller (never the GUI thread) for at most ``timeout_s``.
This module does the talking; what the device answers is judged by pure helpers:
:mod:`drivers.onvif.clock` (its clock), :mod:`drivers.onvif.profiles` (URIs, which stream records
and which detects) and :func:`drivers.onvif.topics.flatten_topics` (the topics it publishes).

Media2, which H.265 profiles need, is not supported yet (neither onvif package ships its WSDL): a
camera that offers only H.265 gets an UnsupportedError that says to add it by its RTSP URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
import zeep.exceptions

from drivers.base import Credentials, DriverError, MediaProfile, UnreachableError, UnsupportedError
from drivers.onvif import loop
from drivers.onvif.clock import GET_TIME, clock_warning, parse_device_time
from drivers.onvif.errors import import_onvif, is_auth_fault, translate
from drivers.onvif.model import OnvifDevice
from drivers.onvif.profiles import H265_ONLY, choose_roles, clean_uri
from drivers.onvif.topics import flatten_topics, is_doorbell

logger = logging.getLogger(__name__)
onvif = import_onvif()

T = TypeVar("T")

NS_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
NS_MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"
NS_EVENTS = "http://www.onvif.org/ver10/events/wsdl"
#: Above this offset (s) WS-UsernameToken timestamps are shifted to the device's clock.
CLOCK_COMPENSATE_S = 2.0
#: Above this offset (s) the owner is told to fix the camera's clock.
CLOCK_WARN_S = 60.0
MAX_PROFILES = 32
_ENCODINGS = {"H.264": "H264", "AVC": "H264", "H.265": "H265", "HEVC": "H265", "MJPEG": "JPEG"}


# ---------------------------------------------------------------------------------------------
# Public entry points (blocking; call them off the GUI thread)


def probe_device(
    host: str,
    port: int,
    credentials: Credentials | None,
    *,
    timeout_s: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> OnvifDevice:
    """Describe the device at ``host:port`` within ``timeout_s`` seconds in total.

    ``clock`` is the host's UTC clock in seconds (a seam for tests). Raises AuthError,
    UnreachableError, UnsupportedError (or DriverError) with a homeowner-readable message.
    """
    probe = _Probe(host, port, credentials, timeout_s, clock)
    return _run_blocking(probe.guarded(probe.describe), probe)


def device_needs_auth(host: str, port: int, timeout_s: float = 5.0) -> bool:
    """True when the device refuses GetDeviceInformation without credentials."""
    probe = _Probe(host, port, None, timeout_s, time.time)
    return _run_blocking(probe.guarded(probe.needs_auth), probe)


def format_hostport(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals bracketed."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


# ---------------------------------------------------------------------------------------------
# Internals


def _run_blocking(coro: Coroutine[Any, Any, T], probe: _Probe) -> T:
    try:
        return loop.run(coro, probe.timeout_s + 2.0)
    except TimeoutError:  # the backstop: the probe's own deadline should have fired first
        raise UnreachableError(f"{probe.who} did not answer within {probe.timeout_s:g} s") from None


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _num(obj: Any, *path: str) -> float | None:
    for name in path:
        obj = getattr(obj, name, None) if obj is not None else None
    try:
        return float(obj) if obj is not None else None
    except (TypeError, ValueError):
        return None


@dataclasses.dataclass
class _Probe:
    """One probe's state: where, who, the step under way, and the camera object to close."""

    host: str
    port: int
    credentials: Credentials | None
    timeout_s: float
    clock: Callable[[], float]
    step: str = "connecting"
    camera: Any = None
    deadline: float = 0.0  # loop time at which the probe gives up

    def __post_init__(self) -> None:
        if self.credentials is not None and not self.credentials.username:
            self.credentials = None
        self.hostport = format_hostport(self.host, self.port)
        self.where = f"the camera at {self.hostport}"
        self.who = self.where[:1].upper() + self.where[1:]
        self.xaddr = f"http://{self.hostport}/onvif/device_service"

    async def guarded(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` within the deadline; translate failures; always close the sessions."""
        error: DriverError
        self.deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            async with asyncio.timeout_at(self.deadline):
                return await body()
        except DriverError as exc:
            error = type(exc)(str(exc))  # a fresh error: no chain back to library objects
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed, redacted error
            error = translate(
                exc,
                self.where,
                has_credentials=self.credentials is not None,
                action=self.step,
                timeout_s=self.timeout_s,
            )
        finally:
            if self.camera is not None:
                with contextlib.suppress(Exception):
                    await self.camera.close()
        raise error

    async def call(self, service: Any, op: str, params: Any = None) -> Any:
        """``service.op(params)``, signed with WS-UsernameToken when we have credentials."""
        self.step = op
        return await getattr(service, op if self.credentials else f"authless_{op}")(params)

    def new_camera(self, offset_s: float | None) -> Any:
        creds = self.credentials
        self.camera = onvif.ONVIFCamera(
            self.host,
            self.port,
            creds.username if creds else None,
            creds.password if creds else None,
            no_cache=True,
            adjust_time=False,
        )
        if offset_s is not None and abs(offset_s) > CLOCK_COMPENSATE_S:
            self.camera.dt_diff = dt.timedelta(seconds=offset_s)  # shifts the token's Created time
        return self.camera

    async def needs_auth(self) -> bool:
        devmgmt = await self.new_camera(None).create_devicemgmt_service()
        try:
            await self.call(devmgmt, "GetDeviceInformation")
        except (zeep.exceptions.Error, onvif.ONVIFError, aiohttp.ClientResponseError) as exc:
            if is_auth_fault(exc):
                return True
            raise
        return False

    async def read_clock(self) -> float | None:
        """Device UTC minus host UTC (s) from an unauthenticated GetSystemDateAndTime; the HTTP
        ``Date`` header when the device demands credentials even for that; None if neither."""
        self.step = "GetSystemDateAndTime"
        headers = {
            "Content-Type": "application/soap+xml; charset=utf-8; "
            'action="http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime"'
        }
        async with aiohttp.ClientSession() as session:
            sent = self.clock()
            async with session.post(self.xaddr, data=GET_TIME, headers=headers) as resp:
                body = await resp.read()
                received = self.clock()
                status, date_header = resp.status, resp.headers.get("Date")
        device = parse_device_time(body) if status == 200 else None
        if device is None and date_header:
            with contextlib.suppress(TypeError, ValueError):
                device = email.utils.parsedate_to_datetime(date_header).timestamp()
        # Devices report whole seconds: the true time lies within the next second.
        return None if device is None else device + 0.5 - (sent + received) / 2

    async def services(self, devmgmt: Any) -> dict[str, str]:
        """Service namespace -> XAddr (GetServices, else GetCapabilities)."""
        xaddrs: dict[str, str] = {}
        try:
            listed = await self.call(devmgmt, "GetServices", {"IncludeCapability": False})
        except (zeep.exceptions.Fault, zeep.exceptions.TransportError) as exc:
            if is_auth_fault(exc):
                raise
            listed = None
        for service in listed or []:
            namespace, xaddr = getattr(service, "Namespace", None), getattr(service, "XAddr", None)
            if namespace and xaddr:
                xaddrs[str(namespace)] = onvif.util.normalize_url(str(xaddr))
        if NS_MEDIA not in xaddrs:
            caps = await self.call(devmgmt, "GetCapabilities", {"Category": "All"})
            for name, namespace in (("Media", NS_MEDIA), ("Events", NS_EVENTS)):
                xaddr = getattr(getattr(caps, name, None), "XAddr", None)
                if xaddr:
                    xaddrs.setdefault(namespace, onvif.util.normalize_url(str(xaddr)))
        return xaddrs

    async def profiles(self, media: Any, warnings: list[str]) -> list[MediaProfile]:
        """Media1 video profiles with credential-free stream and snapshot URIs."""
        result: list[MediaProfile] = []
        stripped = False
        for prof in list(await self.call(media, "GetProfiles") or [])[:MAX_PROFILES]:
            vec = getattr(prof, "VideoEncoderConfiguration", None)
            token = _text(getattr(prof, "token", None))
            if vec is None or token is None:
                continue  # audio-only or metadata profile
            encoding = (_text(getattr(vec, "Encoding", None)) or "").upper()
            stream_uri, had = clean_uri(
                await self.uri(
                    media,
                    "GetStreamUri",
                    {
                        "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                        "ProfileToken": token,
                    },
                )
            )
            snapshot_uri, had_too = clean_uri(
                await self.uri(media, "GetSnapshotUri", {"ProfileToken": token})
            )
            stripped = stripped or had or had_too
            fps, kbps = _num(vec, "RateControl", "FrameRateLimit"), _num(vec, "RateControl", "BitrateLimit")
            result.append(
                MediaProfile(
                    token=token,
                    name=_text(getattr(prof, "Name", None)) or token,
                    encoding=_ENCODINGS.get(encoding, encoding),
                    width=int(_num(vec, "Resolution", "Width") or 0),
                    height=int(_num(vec, "Resolution", "Height") or 0),
                    fps=fps or None,
                    bitrate_kbps=int(kbps) if kbps else None,
                    stream_uri=stream_uri,
                    snapshot_uri=snapshot_uri,
                )
            )
        if stripped:
            warnings.append(
                "the camera puts a username or password into its stream addresses: Porchlight "
                "removed them and keeps the credentials in the keyring only"
            )
        return result

    async def uri(self, media: Any, op: str, params: dict[str, Any]) -> str | None:
        """A profile's URI, or None when the device faults for this profile."""
        try:
            return _text(getattr(await self.call(media, op, params), "Uri", None))
        except (zeep.exceptions.Fault, zeep.exceptions.TransportError) as exc:
            if is_auth_fault(exc):
                raise
            logger.debug(
                "%s: %s failed for profile %s: %s",
                self.hostport,
                op,
                params.get("ProfileToken"),
                type(exc).__name__,
            )
            return None

    async def topics(self, cam: Any, warnings: list[str]) -> tuple[str, ...]:
        """Event topics (GetEventProperties), bounded in time and number; () when unreadable."""
        # Events are optional: give up on them (with a warning) before the probe's own deadline.
        budget = min(self.timeout_s * 0.4, self.deadline - asyncio.get_running_loop().time() - 0.25)
        try:
            async with asyncio.timeout(max(0.05, budget)):
                events = await cam.create_events_service()
                props = await self.call(events, "GetEventProperties")
        except Exception as exc:  # noqa: BLE001 - events are optional: the probe still succeeds
            logger.info("%s: no event list: %s", self.hostport, translate(exc, self.where, action=self.step))
            warnings.append("the camera did not list its events: motion and doorbell events may not work")
            return ()
        return flatten_topics(getattr(props, "TopicSet", None))

    async def describe(self) -> OnvifDevice:
        warnings: list[str] = []
        offset = await self.read_clock()
        if offset is None:
            warnings.append("Porchlight could not read the camera's clock")
        elif abs(offset) > CLOCK_WARN_S:
            warnings.append(clock_warning(offset))
        cam = self.new_camera(offset)
        self.step = "connecting"
        devmgmt = await cam.create_devicemgmt_service()
        info = await self.call(devmgmt, "GetDeviceInformation")
        xaddrs = await self.services(devmgmt)
        cam.xaddrs.update(xaddrs)
        media2 = NS_MEDIA2 in xaddrs
        if NS_MEDIA not in xaddrs:
            raise UnsupportedError(
                f"{self.who} {H265_ONLY}"
                if media2
                else f"{self.who} offers no video through ONVIF (no media service)"
            )
        self.step = "connecting to the media service"
        profiles = await self.profiles(await cam.create_media_service(), warnings)
        record, detect = choose_roles(profiles, self.where, media2=media2)
        if detect is None:
            warnings.append(
                "the camera offers no smaller stream for motion detection: Porchlight will "
                "decode the main stream (more CPU); enable a sub stream in its settings"
            )
        if media2:
            warnings.append(
                "the camera also offers ONVIF Media2, which Porchlight does not set up yet: "
                "H.265 streams, if any, are not listed here (add one with --url)"
            )
        events = NS_EVENTS in xaddrs
        topics = await self.topics(cam, warnings) if events else ()
        return OnvifDevice(
            host=self.hostport,
            xaddr=self.xaddr,
            manufacturer=_text(getattr(info, "Manufacturer", None)),
            model=_text(getattr(info, "Model", None)),
            firmware=_text(getattr(info, "FirmwareVersion", None)),
            serial=_text(getattr(info, "SerialNumber", None)),
            hardware_id=_text(getattr(info, "HardwareId", None)),
            profiles=tuple(profiles),
            record_profile=record,
            detect_profile=detect,
            clock_offset_s=None if offset is None else round(offset, 3),
            events_supported=events,
            event_topics=topics,
            doorbell=is_doorbell(topics),
            warnings=tuple(warnings),
        )
