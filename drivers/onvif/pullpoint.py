"""The SOAP/HTTP exchange with one camera's PullPoint: subscribe, renew, pull, unsubscribe.

:class:`PullPointClient` holds one subscription at a time (and the library client it came from);
:class:`drivers.onvif.events.OnvifEventSource` builds on it the lifecycle (the loop, recreation with
backoff, status and callbacks). Everything here runs on the ONVIF loop thread
(:mod:`drivers.onvif.loop`); a failure is raised for the lifecycle to describe (:meth:`_describe`).

What comes from onvif-zeep-async (the maintained library Home Assistant uses): ONVIFCamera for
service discovery (GetServices/GetCapabilities), the WS-Security UsernameToken with the device's
clock skew applied (``adjust_time``), and zeep bindings for CreatePullPointSubscription, Renew and
Unsubscribe. Where we go around it, and why:

* Not its PullPointManager: it never renews more often than every 48 s (a 60 s floor on the
  subscription), retries a lost subscription on a fixed 40 s timer without backoff or a bound, and
  its renew timer runs apart from the pulls, so a failing pull neither triggers a recreation nor
  reports why. Cameras that grant short subscriptions would expire between renewals.
* PullMessages is posted with aiohttp directly (signed with the library's UsernameToken): the reply
  is read with a size cap and parsed by :mod:`drivers.onvif.notifications` (no DTDs, no entities,
  tolerant of vendor namespaces), the same parser the captured-payload tests exercise. zeep would
  read any size and hands back the ``tt:Message`` either as objects or as raw elements, by vendor.
* Addresses the camera hands back (events XAddr, subscription reference) are pinned to the host the
  owner configured: event traffic never goes to a machine the owner did not name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import zeep.exceptions
from lxml import etree

from drivers.base import AuthError, Credentials, DriverError, UnsupportedError
from drivers.onvif.errors import import_onvif, is_auth_fault, translate
from drivers.onvif.notifications import (
    MAX_BYTES,
    MalformedNotification,
    Notification,
    find_fault,
    notifications_in,
    parse_document,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
PULLPOINT_NS = EVENTS_NS + "/PullPointSubscription"
_SOAP = "http://www.w3.org/2003/05/soap-envelope"
_WSA = "http://www.w3.org/2005/08/addressing"
_PULL_ACTION = EVENTS_NS + "/PullPointSubscription/PullMessagesRequest"
_UNSUBSCRIBE_TIMEOUT_S = 2.0


class _SubscriptionLost(DriverError):
    """The camera answered a pull or renewal with a fault: the subscription is gone or refused."""


@dataclasses.dataclass
class _Subscription:
    address: str
    service: Any  # onvif ONVIFService bound to the subscription manager (Renew, Unsubscribe)
    renew_at: float  # loop.time()


def _translate(exc: BaseException, where: str, action: str | None, has_credentials: bool) -> DriverError:
    if isinstance(exc, DriverError):
        return exc
    return translate(exc, where, action=action, has_credentials=has_credentials)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    if resp.content_length is not None and resp.content_length > cap:
        raise MalformedNotification(f"reply too large ({resp.content_length} bytes, limit {cap})")
    chunks, total = [], 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > cap:
            raise MalformedNotification(f"reply too large (over {cap} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _lifetime_s(
    current: dt.datetime | None, termination: dt.datetime | None, device_now: float
) -> float | None:
    """Seconds the device granted, from its CurrentTime/TerminationTime (None when unknown)."""
    if not isinstance(termination, dt.datetime):
        return None
    if termination.tzinfo is None:
        termination = termination.replace(tzinfo=dt.UTC)
    if isinstance(current, dt.datetime):
        if current.tzinfo is None:
            current = current.replace(tzinfo=dt.UTC)
        return (termination - current).total_seconds()
    return termination.timestamp() - device_now


class PullPointClient:
    """The PullPoint exchange with the camera at ``host:port``; see the module docstring.

    ``clock_offset_s``: device clock minus host clock, applied to notification times and to the
    granted lifetime. ``renew_s``: renew at least this often, and at half the lifetime the camera
    granted when that is sooner; ``subscription_s``: the lifetime asked for. ``request_timeout_s``
    bounds each request; the long-polled pull gets it on top of its wait, Unsubscribe a fixed 2 s.
    """

    def __init__(
        self,
        host: str,
        port: int,
        credentials: Credentials | None,
        *,
        clock_offset_s: float,
        renew_s: float,
        subscription_s: float,
        request_timeout_s: float,
    ) -> None:
        self.host, self.port = host, int(port)
        self.credentials = credentials
        self.clock_offset_s = float(clock_offset_s)
        self.renew_s = max(1.0, renew_s)
        self.subscription_s = max(self.renew_s * 2, subscription_s)
        self.request_timeout_s = request_timeout_s
        self.where = f"the camera at {host}:{port}"
        self.counters = {
            "subscriptions": 0,
            "renewals": 0,
            "pulls": 0,
            "notifications": 0,
            "events": 0,
            "failures": 0,
        }
        self._cam: Any = None
        self._sub: _Subscription | None = None
        self._http: aiohttp.ClientSession | None = None
        self._action = "subscribe"
        self._healthy = False  # the current subscription delivered at least one good pull

    async def _timed(self, action: str, call: Awaitable[T]) -> T:
        self._action = action
        return await asyncio.wait_for(call, self.request_timeout_s)

    def _pin(self, url: str | None) -> str:
        """``url`` on the configured host (port and path kept), without userinfo."""
        if not url:
            raise UnsupportedError(f"{self._who} gave no address for its event subscription")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsupportedError(f"{self._who} gave an unusable event address")
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        if parts.hostname != self.host.strip("[]"):
            logger.debug(
                "%s: event address points at %s; using the configured host", self.where, parts.hostname
            )
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    @property
    def _who(self) -> str:
        return self.where[:1].upper() + self.where[1:]

    async def _subscribe(self) -> None:
        import_onvif()  # quietly: the library calls logging.basicConfig on import
        from onvif import ONVIFCamera
        from onvif.util import normalize_url

        creds = self.credentials
        self._healthy = False
        # adjust_time: the library measures the device clock on every (re)subscription and dates the
        # WS-Security token on it (a camera that rebooted may have a different clock than at probe time).
        cam = ONVIFCamera(
            self.host,
            self.port,
            creds.username if creds else None,
            creds.password if creds else None,
            no_cache=True,
            adjust_time=creds is not None,
        )
        self._cam = cam
        if creds is not None:
            await self._timed("GetServices", cam.update_xaddrs())
        else:  # the library cannot sign without a username: ask unsigned
            await self._timed("GetServices", self._unsigned_xaddrs(cam))
        if not cam.xaddrs.get(EVENTS_NS):
            raise UnsupportedError(f"{self._who} does not offer ONVIF events")
        cam.xaddrs[EVENTS_NS] = self._pin(cam.xaddrs[EVENTS_NS])
        events = await cam.create_events_service()
        interval = dt.timedelta(seconds=self.subscription_s)
        result = await self._timed(
            "CreatePullPointSubscription",
            self._op(events, "CreatePullPointSubscription")(
                {"InitialTerminationTime": cam.get_next_termination_time(interval)}
            ),
        )
        address = self._pin(normalize_url(result.SubscriptionReference.Address._value_1))
        self.counters["subscriptions"] += 1
        cam.xaddrs[PULLPOINT_NS] = address
        service = await cam.create_subscription_service("PullPointSubscription")
        lifetime = _lifetime_s(result.CurrentTime, result.TerminationTime, time.time() + self.clock_offset_s)
        self._sub = _Subscription(address, service, self._renew_at(lifetime))
        if lifetime is not None and lifetime < 1.0:
            # The device misread the relative time ("PT300S"): switch to absolute times and renew now.
            cam.has_broken_relative_time(interval, result.CurrentTime, result.TerminationTime)
            self._sub.renew_at = 0.0
        logger.info(
            "%s: subscribed to events (%s s granted)",
            self.where,
            "?" if lifetime is None else f"{lifetime:.0f}",
        )

    def _op(self, service: Any, name: str) -> Callable[..., Awaitable[Any]]:
        op: Callable[..., Awaitable[Any]] = getattr(
            service, name if self.credentials is not None else f"authless_{name}"
        )
        return op

    async def _unsigned_xaddrs(self, cam: Any) -> None:
        devmgmt = await cam.create_devicemgmt_service()
        try:
            for service in await devmgmt.authless_GetServices({"IncludeCapability": False}) or []:
                cam.xaddrs[service.Namespace] = service.XAddr
        except Exception:  # noqa: BLE001 - older devices: GetCapabilities
            logger.debug("%s: GetServices failed, trying GetCapabilities", self.where, exc_info=True)
        if not cam.xaddrs.get(EVENTS_NS):
            caps = await devmgmt.authless_GetCapabilities({"Category": "Events"})
            events = getattr(caps, "Events", None)
            if events is not None and getattr(events, "XAddr", None):
                cam.xaddrs[EVENTS_NS] = events.XAddr

    def _renew_at(self, lifetime: float | None) -> float:
        every = self.renew_s if lifetime is None else min(self.renew_s, lifetime * 0.5)
        return asyncio.get_running_loop().time() + max(0.5, every)

    async def _renew(self) -> None:
        sub, cam = self._sub, self._cam
        assert sub is not None and cam is not None
        interval = dt.timedelta(seconds=self.subscription_s)
        try:
            result = await self._timed(
                "Renew",
                self._op(sub.service, "Renew")({"TerminationTime": cam.get_next_termination_time(interval)}),
            )
        except zeep.exceptions.Fault as exc:
            if is_auth_fault(exc):
                raise
            raise _SubscriptionLost(
                f"{self._who} refused to renew the event subscription (it may have restarted)"
            ) from exc
        self.counters["renewals"] += 1
        lifetime = _lifetime_s(
            getattr(result, "CurrentTime", None),
            getattr(result, "TerminationTime", None),
            time.time() + self.clock_offset_s,
        )
        sub.renew_at = self._renew_at(lifetime)

    def _pull_body(self, address: str, wait_s: float) -> bytes:
        env = etree.Element(f"{{{_SOAP}}}Envelope", nsmap={"s": _SOAP, "a": _WSA, "tev": EVENTS_NS})
        header = etree.SubElement(env, f"{{{_SOAP}}}Header")
        etree.SubElement(header, f"{{{_WSA}}}Action").text = _PULL_ACTION
        etree.SubElement(header, f"{{{_WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
        etree.SubElement(header, f"{{{_WSA}}}To").text = address
        pull = etree.SubElement(etree.SubElement(env, f"{{{_SOAP}}}Body"), f"{{{EVENTS_NS}}}PullMessages")
        etree.SubElement(pull, f"{{{EVENTS_NS}}}Timeout").text = f"PT{max(1, int(wait_s))}S"
        etree.SubElement(pull, f"{{{EVENTS_NS}}}MessageLimit").text = "100"
        if self.credentials is not None:
            from onvif.client import UsernameDigestTokenDtDiff

            token = UsernameDigestTokenDtDiff(
                self.credentials.username,
                self.credentials.password,
                dt_diff=getattr(self._cam, "dt_diff", None),
                use_digest=True,
            )
            token.apply(env, {})
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")

    async def _pull(self, sub: _Subscription, wait_s: float) -> list[Notification]:
        assert self._http is not None
        self._action = "PullMessages"
        self.counters["pulls"] += 1
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{_PULL_ACTION}"'}
        timeout = aiohttp.ClientTimeout(total=wait_s + self.request_timeout_s)
        async with self._http.post(
            sub.address,
            data=self._pull_body(sub.address, wait_s),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            raw = await _read_capped(resp, MAX_BYTES)
            status = resp.status
        if status in (401, 403):
            raise AuthError(f"{self._who} refused the username or password (HTTP {status})")
        root = parse_document(raw)
        fault = find_fault(root)
        if fault is not None:
            if "NotAuthorized" in fault or "not authorized" in fault.lower():
                raise AuthError(f"{self._who} refused the username or password")
            if "ResourceUnknown" in fault:
                raise _SubscriptionLost(
                    f"{self._who} no longer knows the event subscription (it may have restarted)"
                )
            raise _SubscriptionLost(f"{self._who} rejected the event pull ({fault})")
        if status >= 300:
            raise _SubscriptionLost(f"{self._who} answered the event pull with HTTP {status}")
        return notifications_in(root, self.clock_offset_s)

    async def _drop(self, unsubscribe: bool) -> None:
        """Forget the subscription (unsubscribing first when asked) and close the library's sessions."""
        sub, cam = self._sub, self._cam
        self._sub = self._cam = None
        if unsubscribe and sub is not None:
            try:
                await asyncio.wait_for(self._op(sub.service, "Unsubscribe")(), _UNSUBSCRIBE_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - best effort: the subscription expires anyway
                logger.debug("%s: Unsubscribe failed: %s", self.where, exc)
        if cam is not None:
            try:
                await cam.close()
            except Exception:  # noqa: BLE001
                logger.debug("%s: closing the ONVIF client failed", self.where, exc_info=True)

    def _describe(self, exc: BaseException) -> DriverError:
        if isinstance(exc, MalformedNotification):
            return UnsupportedError(f"{self._who} sent unusable event data ({exc})")
        return _translate(exc, self.where, self._action, self.credentials is not None)
