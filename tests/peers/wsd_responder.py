"""A small, standards-conforming WS-Discovery target service for tests (a thread in the test process).

Run it only inside the loopback-only network namespace (tests/netns): it joins 239.255.255.250:3702
on ``lo``. Unlike ipycam it answers the way WS-Discovery 2005/04 says: only Probes whose Types it
has (every listed QName, namespaces resolved), once per MessageID, with a ``d:ProbeMatches`` wrapper,
``wsa:RelatesTo``, ``d:AppSequence`` and ``d:MetadataVersion``, from a socket of its own (an
ephemeral port, as many cameras do) at the address it lives on.

Knobs for the discovery tests: the endpoint reference, XAddrs (including ones on another host),
scopes and types; ``host`` (any 127.x address: a second "host" on the same loopback); a second reply
with the same endpoint reference (de-duplication); a raw ``payload`` sent instead of the reply
(oversized, billion laughs, external entity: see the builders at the bottom). It records every Probe
it received (types, MessageID, the IP TTL it arrived with) in :attr:`WsdResponder.probes`.
"""

from __future__ import annotations

import dataclasses
import logging
import selectors
import socket
import struct
import sys
import threading
import uuid
from collections.abc import Sequence
from xml.sax.saxutils import escape

from lxml import etree

logger = logging.getLogger(__name__)

GROUP = "239.255.255.250"
PORT = 3702
NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_D = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
NS_TDS = "http://www.onvif.org/ver10/device/wsdl"
ACTION_PROBE = NS_D + "/Probe"
ACTION_MATCHES = NS_D + "/ProbeMatches"
_IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)  # Linux values (not exported by Python's socket)
_IP_TTL = getattr(socket, "IP_TTL", 2)


@dataclasses.dataclass(frozen=True)
class ReceivedProbe:
    """One Probe as the responder saw it."""

    message_id: str
    types: tuple[tuple[str | None, str], ...]  # (namespace, local name)
    source: tuple[str, int]
    multicast: bool
    ttl: int | None  # IP TTL of the datagram (multicast socket only)


def _safe_parse(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError):
        return None


class WsdResponder:
    """A WS-Discovery responder in a thread; use as a context manager."""

    def __init__(
        self,
        *,
        name: str = "Standard Cam",
        epr: str | None = None,
        xaddrs: Sequence[str] = ("http://127.0.0.1:8081/onvif/device_service",),
        scopes: Sequence[str] | None = None,
        types: Sequence[tuple[str, str]] = ((NS_DN, "NetworkVideoTransmitter"), (NS_TDS, "Device")),
        host: str = "127.0.0.1",
        second_reply_xaddrs: Sequence[str] | None = None,
        payload: bytes | None = None,
    ) -> None:
        self.epr = epr or uuid.uuid4().urn
        self.xaddrs = tuple(xaddrs)
        self.scopes = (
            tuple(scopes)
            if scopes is not None
            else (
                "onvif://www.onvif.org/type/video_encoder",
                "onvif://www.onvif.org/Profile/Streaming",
                "onvif://www.onvif.org/hardware/SR-100",
                "onvif://www.onvif.org/mfr/Porchlight%20Labs",
                "onvif://www.onvif.org/name/" + name.replace("%", "%25").replace(" ", "%20"),
            )
        )
        self.types = tuple(types)
        self.host = host
        self.second_reply_xaddrs = tuple(second_reply_xaddrs) if second_reply_xaddrs else None
        self.payload = payload
        self.probes: list[ReceivedProbe] = []
        self.replies_sent = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> WsdResponder:
        mcast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        mcast.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ipycam shares 3702 with us
        mcast.bind((GROUP, PORT))  # bound to the group: unicast to 127.0.0.1:3702 stays ipycam's
        mreqn = struct.pack(
            "4s4si", socket.inet_aton(GROUP), socket.inet_aton("0.0.0.0"), socket.if_nametoindex("lo")
        )
        mcast.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        mcast.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
        unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        unicast.bind((self.host, 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sender.bind((self.host, 0))
        self._sockets = [mcast, unicast, sender]
        self._mcast, self._unicast, self._sender = mcast, unicast, sender
        self._thread = threading.Thread(target=self._run, name="porchlight-test-wsd-responder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for sock in self._sockets:
            sock.close()

    @property
    def port(self) -> int:
        """The unicast port to probe (``probe_host(responder.host, responder.port)``)."""
        return self._unicast.getsockname()[1]

    # -- protocol ----------------------------------------------------------------------------------
    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._mcast, selectors.EVENT_READ, True)
            selector.register(self._unicast, selectors.EVENT_READ, False)
            while not self._stop.is_set():
                for key, _events in selector.select(0.1):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data, ancdata, _flags, addr = sock.recvmsg(65536, socket.CMSG_SPACE(4))
                    except OSError:
                        continue
                    ttl = next(
                        (
                            int.from_bytes(d[:4], sys.byteorder)
                            for level, kind, d in ancdata
                            if level == socket.IPPROTO_IP and kind == _IP_TTL
                        ),
                        None,
                    )
                    try:
                        self._handle(data, addr, multicast=key.data, ttl=ttl)
                    except Exception:  # a test peer must not die silently on odd input
                        logger.exception("wsd responder: cannot handle a datagram from %s", addr)

    def _handle(self, data: bytes, addr: tuple[str, int], *, multicast: bool, ttl: int | None) -> None:
        root = _safe_parse(data)
        if root is None:
            return
        action = root.findtext(f"{{{NS_SOAP}}}Header/{{{NS_WSA}}}Action") or ""
        probe = root.find(f"{{{NS_SOAP}}}Body/{{{NS_D}}}Probe")
        if action.strip() != ACTION_PROBE or probe is None:
            return  # Hello, Bye, ProbeMatches of others...
        message_id = (root.findtext(f"{{{NS_SOAP}}}Header/{{{NS_WSA}}}MessageID") or "").strip()
        types_el = probe.find(f"{{{NS_D}}}Types")
        wanted: list[tuple[str | None, str]] = []
        for token in (types_el.text or "").split() if types_el is not None else []:
            prefix, _, local = token.rpartition(":")
            wanted.append((types_el.nsmap.get(prefix or None), local))
        with self._lock:
            self.probes.append(ReceivedProbe(message_id, tuple(wanted), addr, multicast, ttl))
            if message_id in self._seen:
                return  # SOAP-over-UDP: a repeated message is a duplicate, answered once
            self._seen.add(message_id)
        if not all(t in self.types for t in wanted):
            return  # WS-Discovery: match only when we have every requested type
        replies = (
            [self.payload] if self.payload is not None else [self.probe_matches(message_id, self.xaddrs)]
        )
        if self.payload is None and self.second_reply_xaddrs is not None:
            replies.append(self.probe_matches(message_id, self.second_reply_xaddrs))
        for reply in replies:
            self._sender.sendto(reply, addr)
            with self._lock:
                self.replies_sent += 1

    def probe_matches(self, relates_to: str, xaddrs: Sequence[str]) -> bytes:
        """A standard ProbeMatches reply (wrapper, RelatesTo, AppSequence, MetadataVersion)."""
        prefixes = {NS_DN: "dn", NS_TDS: "tds"}
        extra = {ns: f"t{i}" for i, (ns, _l) in enumerate(self.types) if ns not in prefixes}
        prefixes.update(extra)
        decls = "".join(f' xmlns:{p}="{escape(ns)}"' for ns, p in prefixes.items())
        types = " ".join(f"{prefixes[ns]}:{local}" for ns, local in self.types)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:d="{NS_D}"{decls}>'
            "<s:Header>"
            f"<a:Action>{ACTION_MATCHES}</a:Action>"
            f"<a:MessageID>{uuid.uuid4().urn}</a:MessageID>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            f'<d:AppSequence InstanceId="1" MessageNumber="{self.replies_sent + 1}"/>'
            "</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>"
            f"<a:EndpointReference><a:Address>{escape(self.epr)}</a:Address></a:EndpointReference>"
            f"<d:Types>{types}</d:Types>"
            f"<d:Scopes>{escape(' '.join(self.scopes))}</d:Scopes>"
            f"<d:XAddrs>{escape(' '.join(xaddrs))}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion>"
            "</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
        ).encode()


# -- hostile replies -------------------------------------------------------------------------------
def billion_laughs(levels: int = 10) -> bytes:
    """The classic exponential entity expansion (10 levels: 10^9 'lol's if expanded) in a ProbeMatch."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE s:Envelope ['
        + "".join(entities)
        + "]>"
        + _envelope(
            f"onvif://www.onvif.org/name/&lol{levels - 1};", "http://127.0.0.1:8083/onvif/device_service"
        )
    ).encode()


def external_entity(url: str) -> bytes:
    """A ProbeMatch whose name is an external entity (``url``) and whose DTD is fetched from ``url``."""
    return (
        f'<?xml version="1.0"?><!DOCTYPE s:Envelope SYSTEM "{url}" '
        f'[<!ENTITY ext SYSTEM "{url}">]>'
        + _envelope("onvif://www.onvif.org/name/&ext;", "http://127.0.0.1:8084/onvif/device_service")
    ).encode()


def oversized(size: int = 65_000) -> bytes:
    """A valid ProbeMatch padded with blanks to ``size`` bytes (65 000 still fits one UDP datagram)."""
    decl = '<?xml version="1.0"?>'
    body = _envelope("onvif://www.onvif.org/name/Padded", "http://127.0.0.1:8085/onvif/device_service")
    head, tail = body.split("</s:Body>")
    return (decl + head + " " * max(0, size - len(decl) - len(body)) + "</s:Body>" + tail).encode()


def _envelope(scopes: str, xaddrs: str) -> str:
    return (
        f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:d="{NS_D}" xmlns:dn="{NS_DN}">'
        f"<s:Header><a:Action>{ACTION_MATCHES}</a:Action></s:Header><s:Body><d:ProbeMatches>"
        f"<d:ProbeMatch><a:EndpointReference><a:Address>{uuid.uuid4().urn}</a:Address>"
        f"</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
        f"<d:Scopes>{scopes}</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
    )


__all__ = ["ReceivedProbe", "WsdResponder", "billion_laughs", "external_entity", "oversized"]
