"""A small ONVIF device + events (PullPoint) SOAP peer for tests, on 127.0.0.1 only.

No installable peer implements ONVIF PullPoint (TESTING.md), so this one serves **captured public
payloads** (``tests/fixtures/onvif_events/*.xml``, provenance in PROVENANCE.md): ``push(name)``
queues every NotificationMessage of a payload file for every live subscription, with its UtcTime
rewritten to "now" on the peer's clock (host clock + ``clock_offset_s``), written in the same style
as the original (with or without ``Z`` / fraction).

Device service: GetSystemDateAndTime (unauthenticated), GetServices, GetCapabilities,
GetDeviceInformation. Media service (only with ``streams``: token -> (RTSP URL, width, height), an
H.264 profile each): GetProfiles, GetStreamUri, GetSnapshotUri; the peer is then a whole doorbell
camera for the CLI path (discover, add by ONVIF, record). Events service: GetServiceCapabilities, GetEventProperties (the topics of the
loaded payloads), CreatePullPointSubscription. Subscription manager (``/onvif/subscription/<id>``):
PullMessages (long-polled), Renew, Unsubscribe, SetSynchronizationPoint. Subscriptions expire at
their termination time (``max_termination_s`` caps what is granted). With ``username``/``password``
every other request must carry a valid WS-UsernameToken digest (``max_skew_s``: its Created time
must be that close to the device's clock, like strict cameras).

Test controls (any thread): ``push``, ``refuse_renewals()``, ``restart()`` (forget every subscription, like a reboot: the
next pull gets a ResourceUnknown fault), ``stop()``/``start()`` (connection refused meanwhile),
``serve_malformed(kind)`` (HANDMADE bad replies: broken XML, garbage, a DTD, a huge reply, an empty
body, a wrong namespace, a 500 fault, a dropped connection), ``counters``. Runs its own asyncio
loop on thread ``onvif-events-peer``; ``close()`` ends it.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import datetime as dt
import hashlib
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web
from lxml import etree

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "onvif_events"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSTOP = "http://docs.oasis-open.org/wsn/t-1"
_NSDECL = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    f'xmlns:wsnt="{WSNT}" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wstop="{WSTOP}" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:ter="http://www.onvif.org/ver10/error" '
    'xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"'
)
MEDIA = "http://www.onvif.org/ver10/media/wsdl"
MALFORMED_KINDS = ("broken", "garbage", "dtd", "huge", "empty", "wrong_namespace", "fault500", "close")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def _local(el: Any) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(getattr(el, "tag", None), str) else ""


def _find(root: etree._Element, name: str) -> etree._Element | None:
    return next((e for e in root.iter() if _local(e) == name), None)


def _iso(t: float, frac_digits: int = 0, zone: str = "Z") -> str:
    moment = dt.datetime.fromtimestamp(t, dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if frac_digits:
        text += f".{moment.microsecond:06d}"[: frac_digits + 1]
    return text + zone


def _style_of(utc_time: str) -> tuple[int, str]:
    m = re.search(r":\d{2}(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$", utc_time)
    if m is None:
        return 0, "Z"
    return min(len(m.group(1) or ""), 6), m.group(2) or ""


def _parse_time(text: str) -> float | None:
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _seconds(text: str | None, device_now: float, default: float) -> float:
    """A wsnt termination: an xs:duration (``PT60S``) or an absolute device time."""
    if not text or not text.strip():
        return default
    m = _DURATION.fullmatch(text.strip())
    if m and any(m.groups()):
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return d * 86400 + h * 3600 + mi * 60 + s
    absolute = _parse_time(text)
    return default if absolute is None else absolute - device_now


@dataclasses.dataclass
class _Sub:
    id: str
    expires: float  # host clock
    queue: list[bytes] = dataclasses.field(default_factory=list)
    wake: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    gone: bool = False


class OnvifEventsPeer:
    """See the module docstring. Use as a context manager or call start()/close()."""

    def __init__(
        self,
        fixtures: Path = FIXTURES,
        *,
        clock_offset_s: float = 0.0,
        username: str | None = None,
        password: str | None = None,
        max_termination_s: float | None = None,
        max_skew_s: float | None = None,
        max_pull_wait_s: float = 30.0,
        port: int = 0,
        streams: dict[str, tuple[str, int, int]] | None = None,
    ) -> None:
        self.streams = dict(streams or {})
        self.clock_offset_s = clock_offset_s
        self.username, self.password = username, password
        self.max_termination_s, self.max_skew_s = max_termination_s, max_skew_s
        self.max_pull_wait_s = max_pull_wait_s
        self.port = port
        self.payloads: dict[str, list[etree._Element]] = {}
        for path in sorted(fixtures.glob("*.xml")):
            root = etree.parse(str(path)).getroot()
            self.payloads[path.stem] = [
                copy.deepcopy(e) for e in root.iter() if _local(e) == "NotificationMessage"
            ]
        self.counters = {
            "requests": 0,
            "created": 0,
            "renewals": 0,
            "pulls": 0,
            "unsubscribes": 0,
            "auth_failures": 0,
            "faults": 0,
            "malformed": 0,
            "delivered": 0,
        }
        self.pushed_at: list[float] = []  # host time of each push, for latency measurements
        self._subs: dict[str, _Sub] = {}
        self._malformed: list[tuple[str, str | None]] = []
        self._refuse_renewals = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._rng = random.Random(1234)

    # -- lifecycle (test thread) --------------------------------------------------------------------
    def __enter__(self) -> OnvifEventsPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> OnvifEventsPeer:
        """Listen on 127.0.0.1 (the same port as before after a stop())."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="onvif-events-peer", daemon=True
            )
            self._thread.start()
        self._call(self._start_site())
        return self

    def stop(self) -> None:
        """Stop listening (connections are refused) and forget subscriptions, like a powered-off camera."""
        self._call(self._stop_site())

    def restart(self) -> None:
        """Forget every subscription, like a quick reboot: the next pull gets a ResourceUnknown fault."""
        self._call(self._forget())

    def close(self) -> None:
        """Stop and end the peer's thread."""
        if self._loop is None:
            return
        self._call(self._stop_site())
        self._call(self._cancel_rest())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop.close()
        self._loop = self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/onvif/device_service"

    @property
    def active_subscriptions(self) -> int:
        return sum(1 for s in self._subs.values() if not s.gone)

    @property
    def topics(self) -> list[str]:
        """The topics of the loaded payloads, as written in them."""
        seen: dict[str, None] = {}
        for elements in self.payloads.values():
            for el in elements:
                topic = _find(el, "Topic")
                if topic is not None:
                    seen.setdefault(" ".join("".join(topic.itertext()).split()), None)
        return list(seen)

    # -- controls (test thread) -----------------------------------------------------------------
    def push(self, name: str) -> int:
        """Queue the payload ``name`` (a fixture file stem) for every subscription; returns messages queued."""
        if name not in self.payloads:
            raise KeyError(f"no payload {name!r}; have {sorted(self.payloads)}")
        self.pushed_at.append(time.time())
        return self._call(self._push(name))

    def serve_malformed(self, kind: str, count: int = 1, payload: str | None = None) -> None:
        """Answer the next ``count`` pulls with a HANDMADE bad reply of ``kind`` (see MALFORMED_KINDS)."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        self._malformed.extend([(kind, payload)] * count)
        if self._loop is not None:
            self._call(self._wake_all())  # a pull waiting now gets it at once

    def refuse_renewals(self, count: int = 1) -> None:
        """Answer the next ``count`` Renew requests with ResourceUnknown (the camera lost it meanwhile)."""
        self._refuse_renewals += count

    def device_now(self) -> float:
        """The peer's clock (seconds since the epoch)."""
        return time.time() + self.clock_offset_s

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- peer loop ------------------------------------------------------------------------------
    async def _start_site(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def _stop_site(self) -> None:
        await self._forget()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _cancel_rest(self) -> None:
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _wake_all(self) -> None:
        for sub in self._subs.values():
            sub.wake.set()

    async def _forget(self) -> None:
        for sub in self._subs.values():
            sub.gone = True
            sub.wake.set()
        self._subs.clear()

    async def _push(self, name: str) -> int:
        now = self.device_now()
        blobs = []
        for template in self.payloads[name]:
            el = copy.deepcopy(template)
            for msg in el.iter():
                stamp = msg.get("UtcTime") if _local(msg) == "Message" else None
                if stamp is not None:
                    msg.set("UtcTime", _iso(now, *_style_of(stamp)))
            blobs.append(etree.tostring(el))
        for sub in self._subs.values():
            sub.queue.extend(blobs)
            sub.wake.set()
        return len(blobs) * len(self._subs)

    def _soap(self, body: str, status: int = 200) -> web.Response:
        text = f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {_NSDECL}><s:Body>{body}</s:Body></s:Envelope>'
        return web.Response(
            body=text.encode(), status=status, content_type="application/soap+xml", charset="utf-8"
        )

    def _fault(self, code: str, subcode: str, reason: str, status: int = 400) -> web.Response:
        self.counters["faults"] += 1
        return self._soap(
            f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
            f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason>'
            "</s:Fault>",
            status,
        )

    def _authorized(self, root: etree._Element) -> bool:
        if self.username is None:
            return True
        token = _find(root, "UsernameToken")
        if token is None:
            return False
        fields = {_local(e): (e.text or "").strip() for e in token}
        try:
            nonce = base64.b64decode(fields.get("Nonce", ""), validate=True)
        except ValueError:
            return False
        created = fields.get("Created", "")
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + (self.password or "").encode()).digest()
        ).decode()
        if fields.get("Username") != self.username or not secrets.compare_digest(
            fields.get("Password", ""), expected
        ):
            return False
        if self.max_skew_s is not None:
            when = _parse_time(created)
            if when is None or abs(when - self.device_now()) > self.max_skew_s:
                return False
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.counters["requests"] += 1
        try:
            root = etree.fromstring(
                await request.read(), etree.XMLParser(resolve_entities=False, no_network=True)
            )
        except etree.XMLSyntaxError:
            return self._fault("s:Sender", "ter:WellFormed", "malformed request")
        body = _find(root, "Body")
        op_el = next((c for c in body if _local(c)), None) if body is not None else None
        op = _local(op_el) if op_el is not None else ""
        if op != "GetSystemDateAndTime" and not self._authorized(root):
            self.counters["auth_failures"] += 1
            return self._fault("s:Sender", "ter:NotAuthorized", "Sender not authorized")
        path = request.path
        handler = getattr(self, f"_op_{op}", None)
        if path.startswith("/onvif/subscription/"):
            sub = self._subs.get(path.rsplit("/", 1)[-1])
            if sub is not None and time.time() > sub.expires:
                del self._subs[sub.id]
                sub = None
            if sub is None:
                return self._fault(
                    "s:Sender", "wsrf-rw:ResourceUnknownFault", "unknown or expired subscription"
                )
            if op in ("PullMessages", "Renew", "Unsubscribe", "SetSynchronizationPoint"):
                return await getattr(self, f"_sub_{op}")(request, sub, op_el)
        elif handler is not None:
            return handler(op_el)
        return self._fault("s:Sender", "ter:ActionNotSupported", f"{op or 'request'} is not supported")

    # device service
    def _op_GetSystemDateAndTime(self, _el: etree._Element) -> web.Response:
        t = dt.datetime.fromtimestamp(self.device_now(), dt.UTC)
        return self._soap(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime><tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
            f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>"
            f"<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date></tt:UTCDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _op_GetDeviceInformation(self, _el: etree._Element) -> web.Response:
        return self._soap(
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>Porchlight</tds:Manufacturer>"
            "<tds:Model>events-peer</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
            "<tds:SerialNumber>PEER-0001</tds:SerialNumber><tds:HardwareId>test</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    def _base(self) -> str:
        return f"http://127.0.0.1:{self.port}/onvif"

    def _op_GetServices(self, _el: etree._Element) -> web.Response:
        services = [
            ("http://www.onvif.org/ver10/device/wsdl", "device_service"),
            ("http://www.onvif.org/ver10/events/wsdl", "events_service"),
        ]
        if self.streams:
            services.append((MEDIA, "media_service"))
        body = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self._base()}/{path}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for ns, path in services
        )
        return self._soap(f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>")

    def _op_GetCapabilities(self, _el: etree._Element) -> web.Response:
        return self._soap(
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{self._base()}/device_service</tt:XAddr></tt:Device>"
            + (
                f"<tt:Media><tt:XAddr>{self._base()}/media_service</tt:XAddr></tt:Media>"
                if self.streams
                else ""
            )
            + f"<tt:Events><tt:XAddr>{self._base()}/events_service</tt:XAddr>"
            "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
            "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>"
            "</tt:Events></tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    # media service (with ``streams`` only)
    def _op_GetProfiles(self, _el: etree._Element) -> web.Response:
        if not self.streams:
            return self._fault("s:Sender", "ter:ActionNotSupported", "no media service")
        profiles = "".join(
            f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
            f'<tt:VideoEncoderConfiguration token="vec_{token}"><tt:Name>vec_{token}</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution>"
            "<tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>15</tt:FrameRateLimit>"
            "<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>"
            "<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>"
            for token, (_url, w, h) in self.streams.items()
        )
        return self._soap(f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>")

    def _uri_reply(self, el: etree._Element, op: str, uri: Callable[[str], str]) -> web.Response:
        token_el = _find(el, "ProfileToken")
        token = (token_el.text or "").strip() if token_el is not None else ""
        if token not in self.streams:
            return self._fault("s:Sender", "ter:InvalidArgVal", "no such profile")
        return self._soap(
            f"<trt:{op}Response><trt:MediaUri><tt:Uri>{uri(token)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
            "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
            f"</trt:{op}Response>"
        )

    def _op_GetStreamUri(self, el: etree._Element) -> web.Response:
        return self._uri_reply(el, "GetStreamUri", lambda token: self.streams[token][0])

    def _op_GetSnapshotUri(self, el: etree._Element) -> web.Response:
        return self._uri_reply(el, "GetSnapshotUri", lambda token: f"{self._base()}/snapshot/{token}.jpg")

    # events service
    def _op_GetServiceCapabilities(self, _el: etree._Element) -> web.Response:
        return self._soap(
            '<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="false" '
            'WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false" '
            'MaxNotificationProducers="0" MaxPullPoints="8"/></tev:GetServiceCapabilitiesResponse>'
        )

    def _op_GetEventProperties(self, _el: etree._Element) -> web.Response:
        topic_set = etree.Element(f"{{{WSTOP}}}TopicSet", nsmap={"wstop": WSTOP})
        for elements in self.payloads.values():
            for el in elements:
                topic = _find(el, "Topic")
                if topic is None:
                    continue
                node = topic_set
                for part in " ".join("".join(topic.itertext()).split()).split("/"):
                    prefix, _, name = part.rpartition(":")
                    ns = topic.nsmap.get(prefix) if prefix else None
                    tag = f"{{{ns}}}{name}" if ns else name
                    child = next((c for c in node if c.tag == tag), None)
                    if child is None:
                        child = etree.SubElement(node, tag, nsmap={prefix: ns} if ns and prefix else None)
                    node = child
                node.set(f"{{{WSTOP}}}topic", "true")
        return self._soap(
            "<tev:GetEventPropertiesResponse><tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/"
            "topicns.xml</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
            f"{etree.tostring(topic_set).decode()}<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/"
            "topicExpression/ConcreteSet</wsnt:TopicExpressionDialect><tev:MessageContentFilterDialect>"
            "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</tev:MessageContentFilterDialect>"
            "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
            "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"
        )

    def _grant(self, requested: etree._Element | None) -> float:
        text = "".join(requested.itertext()) if requested is not None else None
        seconds = _seconds(text, self.device_now(), 60.0)
        if self.max_termination_s is not None:
            seconds = min(seconds, self.max_termination_s)
        return max(0.0, seconds)

    def _op_CreatePullPointSubscription(self, el: etree._Element) -> web.Response:
        granted = self._grant(_find(el, "InitialTerminationTime"))
        sub = _Sub(secrets.token_hex(6), time.time() + granted)
        self._subs[sub.id] = sub
        self.counters["created"] += 1
        now = self.device_now()
        return self._soap(
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{self._base()}/subscription/{sub.id}</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime><wsnt:TerminationTime>{_iso(now + granted)}"
            "</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
        )

    # subscription manager
    async def _sub_Renew(self, _req: web.Request, sub: _Sub, el: etree._Element) -> web.Response:
        if self._refuse_renewals > 0:
            self._refuse_renewals -= 1
            sub.gone = True
            self._subs.pop(sub.id, None)
            return self._fault("s:Sender", "wsrf-rw:ResourceUnknownFault", "unknown subscription")
        granted = self._grant(_find(el, "TerminationTime"))
        sub.expires = time.time() + granted
        self.counters["renewals"] += 1
        now = self.device_now()
        return self._soap(
            f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(now + granted)}</wsnt:TerminationTime>"
            f"<wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime></wsnt:RenewResponse>"
        )

    async def _sub_Unsubscribe(self, _req: web.Request, sub: _Sub, _el: etree._Element) -> web.Response:
        sub.gone = True
        self._subs.pop(sub.id, None)
        self.counters["unsubscribes"] += 1
        return self._soap("<wsnt:UnsubscribeResponse/>")

    async def _sub_SetSynchronizationPoint(
        self, _req: web.Request, _sub: _Sub, _el: etree._Element
    ) -> web.Response:
        return self._soap("<tev:SetSynchronizationPointResponse/>")

    async def _sub_PullMessages(
        self, request: web.Request, sub: _Sub, el: etree._Element
    ) -> web.StreamResponse:
        self.counters["pulls"] += 1
        if self._malformed:
            self.counters["malformed"] += 1
            return await self._bad_reply(request, *self._malformed.pop(0))
        wait = min(
            self.max_pull_wait_s,
            _seconds(
                "".join(_find(el, "Timeout").itertext()) if _find(el, "Timeout") is not None else None,
                0,
                10.0,
            ),
        )
        limit_el = _find(el, "MessageLimit")
        limit = (
            int(limit_el.text) if limit_el is not None and (limit_el.text or "").strip().isdigit() else 100
        )
        deadline = time.monotonic() + wait
        while not sub.queue and not sub.gone and not self._malformed and time.monotonic() < deadline:
            sub.wake.clear()
            try:
                await asyncio.wait_for(sub.wake.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        if sub.gone:
            return self._fault("s:Sender", "wsrf-rw:ResourceUnknownFault", "subscription ended")
        if self._malformed:
            self.counters["malformed"] += 1
            return await self._bad_reply(request, *self._malformed.pop(0))
        batch, sub.queue[:] = sub.queue[:limit], sub.queue[limit:]
        self.counters["delivered"] += len(batch)
        now = self.device_now()
        return self._soap(
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(now)}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_iso(sub.expires + self.clock_offset_s)}</tev:TerminationTime>"
            f"{b''.join(batch).decode()}</tev:PullMessagesResponse>"
        )

    async def _bad_reply(self, request: web.Request, kind: str, payload: str | None) -> web.StreamResponse:
        """HANDMADE broken replies (not captures): what a confused or hostile device might send."""
        xml = "application/soap+xml"
        if kind == "broken":
            return web.Response(
                body=b'<?xml version="1.0"?><s:Envelope xmlns:s="'
                + SOAP.encode()
                + b'"><s:Body><tev:PullMessagesResponse><wsnt:Notif',
                content_type=xml,
            )
        if kind == "garbage":
            return web.Response(body=self._rng.randbytes(4096), content_type=xml)
        if kind == "dtd":
            lol = (
                '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;'
                '&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                f'<s:Envelope xmlns:s="{SOAP}"><s:Body>&lol3;</s:Body></s:Envelope>'
            )
            return web.Response(body=lol.encode(), content_type=xml)
        if kind == "huge":
            filler = b"<!-- " + b"x" * (8 * 1024 * 1024) + b" -->"
            return web.Response(
                body=b'<?xml version="1.0"?><s:Envelope xmlns:s="'
                + SOAP.encode()
                + b'">'
                + filler
                + b"<s:Body/></s:Envelope>",
                content_type=xml,
            )
        if kind == "empty":
            return web.Response(body=b"", content_type=xml)
        if kind == "fault500":
            return self._fault("s:Receiver", "ter:Action", "internal error", status=500)
        if kind == "close":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        # wrong_namespace: a real payload whose NotificationMessage sits in the wrong namespace.
        name = payload or next(iter(self.payloads))
        now = self.device_now()
        parts = []
        for template in self.payloads[name]:
            el = copy.deepcopy(template)
            el.tag = "{urn:example:not-wsnt}NotificationMessage"
            for msg in el.iter():
                if _local(msg) == "Message" and msg.get("UtcTime") is not None:
                    msg.set("UtcTime", _iso(now, *_style_of(msg.get("UtcTime"))))
            parts.append(etree.tostring(el).decode())
        return self._soap(
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(now)}</tev:CurrentTime>"
            f"{''.join(parts)}</tev:PullMessagesResponse>"
        )


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> None:
    """``python -m tests.peers.onvif_events_peer [--offset S]``: serve; stdin lines ``push NAME``,
    ``restart``, ``quit``. Prints ``READY <port>``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with OnvifEventsPeer(clock_offset_s=args.offset, port=args.port) as peer:
        out(f"READY {peer.port}")
        sys.stdout.flush()
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "push":
                out(f"PUSHED {peer.push(arg)}")
            elif cmd == "restart":
                peer.restart()
            elif cmd == "quit":
                break
            sys.stdout.flush()


if __name__ == "__main__":
    main()
