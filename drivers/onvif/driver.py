"""The ONVIF camera driver (kind ``"onvif"``): discovery, probe through ONVIF, streams over RTSP.

ONVIF only describes the camera; the streams themselves are RTSP, opened by
:class:`drivers.rtsp.RtspSource` from the stored credential-free URI with the credentials
injected at connect time.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import urllib.parse
from collections.abc import Mapping
from typing import ClassVar

from drivers.base import (
    Credentials,
    DiscoveredDevice,
    DriverError,
    EventListener,
    MediaProfile,
    ProbeResult,
    Role,
    StatusListener,
    StreamInfo,
    StreamRequest,
    UnsupportedError,
)
from drivers.onvif import loop
from drivers.onvif.device import device_needs_auth, probe_device
from drivers.onvif.events import OnvifEventSource
from drivers.onvif.model import OnvifDevice
from drivers.rtsp import RtspSource

logger = logging.getLogger(__name__)

DEFAULT_PORT = 80
#: The port WS-Discovery answers on, for ``discover(address=...)`` without one.
WS_DISCOVERY_PORT = 3702
#: At most this many event topics are stored with a camera (a device may list hundreds).
MAX_STORED_TOPICS = 64
_CODECS = {"H264": "h264", "H265": "hevc"}  # PyAV codec names, as the RTSP driver reports them


def split_host(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``"host"``, ``"host:port"``, ``"[v6]:port"`` or a device service URL -> (host, port)."""
    text = text.strip()
    if not text:
        raise UnsupportedError("no camera address given (expected host or host:port)")
    parts = urllib.parse.urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parts.port
    except ValueError:
        raise UnsupportedError(f"not a valid camera address: {text!r} (expected host or host:port)") from None
    if not parts.hostname:
        raise UnsupportedError(f"not a valid camera address: {text!r} (expected host or host:port)")
    return parts.hostname, port or default_port


def stream_infos(device: OnvifDevice) -> tuple[StreamInfo, ...]:
    """One StreamInfo per recordable profile: the record profile first, then detect, then by size."""
    order = {device.record_profile: 0, device.detect_profile: 1}

    def key(p: MediaProfile) -> tuple[int, int]:
        return order.get(p.token, 2), -(p.width * p.height)

    return tuple(
        StreamInfo(url=p.stream_uri, codec=_CODECS[p.encoding], width=p.width, height=p.height, fps=p.fps)
        for p in sorted((p for p in device.profiles if p.recordable), key=key)
    )


def describe(device: OnvifDevice, options: Mapping[str, str]) -> ProbeResult:
    """The driver-neutral description of a probed device.

    Roles: the profiles the camera's settings name (``record_profile``/``detect_profile``), when they
    name any; else the device's automatic choice. ``settings`` is what a new camera stores.
    """
    stored = bool(options.get("record_profile"))
    record_token = options.get("record_profile") if stored else device.record_profile
    detect_token = options.get("detect_profile") if stored else device.detect_profile
    roles: dict[Role, str] = {}
    if record_token:
        roles["record"] = record_token
    if detect_token:
        roles["detect"] = detect_token
    record = next((p for p in device.profiles if p.token == device.record_profile), None)
    settings = {
        "host": device.host,
        "xaddr": device.xaddr,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "serial": device.serial,
        "firmware": device.firmware,
        "record_profile": device.record_profile,
        "detect_profile": device.detect_profile,
        "clock_offset_s": device.clock_offset_s,
        "snapshot_uri": record.snapshot_uri if record else None,
        "events_supported": device.events_supported,
        "event_topics": list(device.event_topics[:MAX_STORED_TOPICS]),
        "warnings": list(device.warnings),
    }
    return ProbeResult(
        streams=stream_infos(device),
        manufacturer=device.manufacturer,
        model=device.model,
        firmware=device.firmware,
        address=device.host,
        profiles=device.profiles,
        roles=roles,
        clock_offset_s=device.clock_offset_s,
        events=device.events_supported,
        event_topics=device.event_topics,
        doorbell=device.doorbell,
        warnings=device.warnings,
        settings={k: v for k, v in settings.items() if v is not None},
    )


def _with_auth_check(devices: list[DiscoveredDevice], timeout_s: float) -> list[DiscoveredDevice]:
    """Ask each device (in parallel) whether it wants a password; None where it did not say."""

    def check(d: DiscoveredDevice) -> DiscoveredDevice:
        if not d.xaddr:
            return d
        needs: bool | None
        try:
            needs = device_needs_auth(*split_host(d.xaddr), timeout_s=timeout_s)
        except DriverError:
            needs = None
        return dataclasses.replace(d, needs_auth=needs)

    if not devices:
        return []
    workers = min(8, len(devices))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="porchlight-onvif-auth") as pool:
        return list(pool.map(check, devices))


class OnvifDriver:
    """Driver for ONVIF cameras (see drivers.base.Driver).

    Driver settings (``StreamRequest.options``): ``host`` = ``"host:port"`` of the device service;
    optional ``profile`` = a profile token overriding the automatic choice for the request's role;
    ``clock_offset_s`` = the device clock minus the host's, as the probe measured it (event times
    are corrected by it).
    """

    kind: ClassVar[str] = "onvif"
    title: ClassVar[str] = "ONVIF camera or doorbell"
    described_by_device: ClassVar[bool] = True

    def discover(self, timeout_s: float, address: str | None = None) -> list[DiscoveredDevice]:
        """WS-Discovery on the local network, or a unicast probe of ``address`` (only when the owner
        asks); then each device is asked whether it wants a password."""
        try:
            from drivers.onvif import discovery
        except ImportError:
            logger.warning("ONVIF discovery is not available in this build")
            return []
        if address:
            found = discovery.probe_host(*split_host(address, WS_DISCOVERY_PORT), timeout_s=timeout_s)
        else:
            found = discovery.discover(timeout_s=timeout_s)
        return _with_auth_check(found, timeout_s=min(5.0, timeout_s + 2))

    def probe_device(self, request: StreamRequest) -> OnvifDevice:
        """The full ONVIF description (profiles, roles, clock, events, warnings)."""
        host, port = split_host(request.options.get("host", ""))
        return probe_device(host, port, request.credentials, timeout_s=request.open_timeout_s)

    def probe(self, request: StreamRequest) -> ProbeResult:
        """Describe the device at ``options["host"]``: every profile with its role, one StreamInfo per
        recordable profile (record profile first), clock offset, events and their topics, doorbell."""
        return describe(self.probe_device(request), request.options)

    def open_stream(self, request: StreamRequest) -> RtspSource:
        """Open ``request.url`` (the stored RTSP URI); without one, probe and use the role's profile."""
        if not request.url and request.options.get("host"):
            device = self.probe_device(request)
            token = request.options.get("profile") or (
                device.detect_profile
                if request.role == "detect" and device.detect_profile
                else device.record_profile
            )
            uri = next((p.stream_uri for p in device.profiles if p.token == token), None)
            if not uri:
                raise UnsupportedError(f"the camera at {device.host} has no stream for profile {token!r}")
            request = dataclasses.replace(request, url=uri)
        return RtspSource(request)

    def has_events(self, options: Mapping[str, str]) -> bool:
        """Every ONVIF device we know the address of may publish events (PullPoint)."""
        return bool(options.get("host"))

    def open_events(
        self,
        options: Mapping[str, str],
        credentials: Credentials | None,
        on_event: EventListener,
        on_status: StatusListener,
    ) -> OnvifEventSource:
        """A PullPoint subscription to the device at ``options["host"]`` (see OnvifEventSource)."""
        if not self.has_events(options):
            raise UnsupportedError("the camera's ONVIF address is not known, so its events cannot be read")
        host, port = split_host(options["host"])
        try:
            offset = float(options.get("clock_offset_s") or 0.0)
        except ValueError:
            offset = math.nan
        if not math.isfinite(offset):
            raise UnsupportedError(f"the stored clock offset of the camera at {host} is not a number")
        return OnvifEventSource(
            host, port, credentials, clock_offset_s=offset, on_event=on_event, on_status=on_status
        )

    def close(self) -> None:
        """Stop the thread that runs every ONVIF call of the process (a later call starts it again)."""
        loop.shutdown()
