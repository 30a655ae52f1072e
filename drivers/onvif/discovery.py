"""WS-Discovery of ONVIF cameras, only when the owner asks (the wizard, ``porchlight discover``).

Three public calls, nothing runs at import time and nothing runs in the background:

* :func:`discover` sends a multicast Probe (239.255.255.250:3702, TTL 1) on every IPv4 interface that
  has multicast and collects the replies until the timeout;
* :func:`probe_host` sends the same Probe unicast to one address the owner typed (for networks where
  multicast does not pass: Wi-Fi isolation, VLANs, VPNs);
* :func:`parse_probe_matches` turns one reply into :class:`~drivers.base.DiscoveredDevice` rows.

Replies come from anyone on the LAN, so the parser is defensive: the size is capped before parsing,
lxml resolves no entities and fetches nothing, a DOCTYPE is refused, and an XAddr is only kept when
its host is the address the reply came from (we never follow a device to another host).

Where the ``wsdiscovery`` package is used, and where it is bypassed (with the reason):

* used: :class:`wsdiscovery.QName` for the probe types, ``constructProbe`` + ``createSOAPMessage``
  to build the Probe envelope (a standard one: MessageID, To, Action, typed ``d:Types``);
* bypassed, interfaces: 2.1.2's ``util._getNetworkAddrs`` drops loopback and link-local addresses, so
  it sends nothing inside the test namespace (only ``lo``) nor on a camera wired straight to the
  computer (169.254/16); it also ignores the interface's multicast flag. We list addresses with
  ``ifaddr`` (a dependency of wsdiscovery) and ask the kernel for each interface's flags;
* bypassed, networking: ``ThreadedWSDiscovery`` starts threads that listen on 3702 for Hello/Bye for
  as long as it lives; discovery here is one bounded exchange per owner request;
* bypassed, parsing: its minidom parser requires a ``ProbeMatches`` wrapper, an ``a:RelatesTo`` and a
  ``MetadataVersion`` (ipycam's reply has no wrapper and it returns None), matches exact namespaces,
  and has no size cap or entity policy. :func:`parse_probe_matches` matches local names instead.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import selectors
import socket
import struct
import sys
import time
import unicodedata
from typing import Any
from urllib.parse import unquote, urlsplit

import ifaddr
from lxml import etree
from wsdiscovery import QName
from wsdiscovery.actions.probe import constructProbe
from wsdiscovery.message import createSOAPMessage

from drivers.base import DiscoveredDevice, UnreachableError

logger = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
WSD_PORT = 3702
#: Largest reply we parse. Real ProbeMatches are 1-4 KB; this stays under the largest IPv4 UDP
#: payload (65 507 bytes) so that an over-long datagram is seen (and tested) as too long.
MAX_REPLY_BYTES = 60 * 1024
_RECV_BUFFER = 65536
_MAX_MATCHES_PER_REPLY = 16
_MAX_REPLIES = 512  # per exchange; a flood beyond this is read and dropped unparsed
_MAX_TEXT = 80  # name / manufacturer / model shown to the owner
_MAX_URL = 512
_IFF_UP, _IFF_MULTICAST = 0x1, 0x1000  # Linux values
_SIOCGIFFLAGS = 0x8913

NS_NETWORK = "http://www.onvif.org/ver10/network/wsdl"
NS_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
_SOAP_ENVELOPES = ("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/")
#: Two probes, not one Probe with both types: WS-Discovery matches a Probe only when a device has
#: *every* listed type. Older cameras only know NetworkVideoTransmitter, newer ones may only
#: advertise the device service type.
PROBE_TYPES = (QName(NS_NETWORK, "NetworkVideoTransmitter", "dn"), QName(NS_DEVICE, "Device", "tds"))


def probe_message(probe_type: QName) -> bytes:
    """A WS-Discovery Probe for ``probe_type`` (built by wsdiscovery; a fresh MessageID each call)."""
    message: str = createSOAPMessage(constructProbe([probe_type], []))  # wsdiscovery is untyped
    return message.encode("utf-8")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(element: etree._Element | None) -> str:
    return "".join(t for t in element.itertext() if isinstance(t, str)).strip() if element is not None else ""


def _first(parent: etree._Element, local: str) -> etree._Element | None:
    """First direct child named ``local`` in any namespace (children only: each look is cheap)."""
    return next((el for el in parent if _local(el.tag) == local), None)


def _clean(value: str, limit: int = _MAX_TEXT) -> str:
    """Drop control/format characters (terminal escapes, bidi overrides), squeeze blanks, cap length."""
    kept = "".join(ch for ch in value if not unicodedata.category(ch).startswith("C"))
    return " ".join(kept.split())[:limit]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` names, without its zone (``fe80::1%eth0``); None when it names none.
    A zone follows only an IPv6 address and is never empty: ``127.0.0.1%`` is not an address."""
    head, pct, zone = text.partition("%")
    try:
        addr = ipaddress.ip_address(head)
    except ValueError:
        return None
    if pct and (addr.version != 6 or not zone):
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _xaddr_on(token: str, sender: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``token`` is an http(s) URL, without credentials, on the host that answered."""
    if len(token) > _MAX_URL or not token.isprintable():
        return False
    try:
        parts = urlsplit(token)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc or not parts.hostname:
        return False
    return _ip(parts.hostname) == sender  # a name (not an address) is never "the host that answered"


def _accepted_types(element: etree._Element | None) -> bool:
    """No Types at all is tolerated; otherwise a camera type must be among them."""
    tokens = _text(element).split() if element is not None else []
    if not tokens:
        return True
    for token in tokens:
        prefix, _, local = token.rpartition(":")
        namespace = element.nsmap.get(prefix or None) if element is not None else None
        if local == "NetworkVideoTransmitter":
            return True  # whatever the namespace: vendors spell it in several
        if local == "Device" and (namespace == NS_DEVICE or (namespace is None and prefix == "tds")):
            return True  # but not wsdp:Device (printers, Windows computers)
    return False


def _scopes(text: str) -> dict[str, str]:
    """First value of each ``onvif://www.onvif.org/<key>/<value>`` scope, %-decoded, keys lower case."""
    found: dict[str, str] = {}
    for token in text.split():  # bounded by MAX_REPLY_BYTES
        head, sep, rest = token.partition("://")
        if not sep or head.lower() != "onvif" or len(token) > _MAX_URL:
            continue
        host, _, path = rest.partition("/")
        key, _, value = path.partition("/")
        if host.lower() != "www.onvif.org" or not value:
            continue
        found.setdefault(key.lower(), _clean(unquote(value, errors="replace")))
    return found


def _one_match(
    match: etree._Element, sender: ipaddress.IPv4Address | ipaddress.IPv6Address, sender_ip: str
) -> DiscoveredDevice | None:
    if not _accepted_types(_first(match, "Types")):
        return None
    xaddrs = _text(_first(match, "XAddrs")).split()
    xaddr = next((x for x in xaddrs if _xaddr_on(x, sender)), None)
    if xaddr is None:
        if xaddrs:
            logger.info("WS-Discovery: %s advertised only XAddrs on other hosts; ignored", sender_ip)
        return None
    epr_el = _first(match, "EndpointReference")
    epr = _clean(_text(_first(epr_el, "Address")), _MAX_URL) if epr_el is not None else ""
    scopes = _scopes(_text(_first(match, "Scopes")))
    model = scopes.get("hardware") or None
    manufacturer = scopes.get("mfr") or scopes.get("manufacturer") or None
    name = scopes.get("name") or model or f"ONVIF device at {sender_ip}"
    return DiscoveredDevice(
        kind="onvif",
        name=name,
        manufacturer=manufacturer,
        model=model,
        xaddr=xaddr,
        device=epr or None,
        needs_auth=None,
    )


def parse_probe_matches(data: bytes, sender_ip: str) -> list[DiscoveredDevice]:
    """Devices in one WS-Discovery reply from ``sender_ip``; [] for anything unusable or hostile."""
    sender = _ip(sender_ip)
    if sender is None or not isinstance(data, bytes | bytearray | memoryview):
        return []
    if len(data) > MAX_REPLY_BYTES:
        logger.info(
            "WS-Discovery: dropped a %d-byte reply from %s (limit %d)", len(data), sender_ip, MAX_REPLY_BYTES
        )
        return []
    data = bytes(data)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # cheap check; the docinfo check below covers UTF-16
        logger.info("WS-Discovery: dropped a reply with a DOCTYPE from %s", sender_ip)
        return []
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError, LookupError) as exc:
        logger.debug("WS-Discovery: unparsable reply from %s: %s", sender_ip, exc)
        return []
    if root is None or root.getroottree().docinfo.doctype or root.getroottree().docinfo.internalDTD:  # type: ignore[union-attr]  # lxml-stubs' DocInfo lacks doctype
        return []
    devices: list[DiscoveredDevice] = []
    examined = 0
    for element in root.iter(etree.Element):
        local = _local(element.tag)
        if local == "Fault" and etree.QName(element).namespace in _SOAP_ENVELOPES:
            logger.debug("WS-Discovery: %s answered with a SOAP fault", sender_ip)
            return []
        if local != "ProbeMatch":
            continue
        examined += 1
        if examined > _MAX_MATCHES_PER_REPLY:
            break  # real devices send one; each look costs a walk of the match's subtree
        device = _one_match(element, sender, sender_ip)
        if device is not None:
            devices.append(device)
    return devices


def _usable_interface(address: str, flags: int | None) -> bool:
    """Multicast-capable and up (from the kernel's flags); without flags, anything but loopback."""
    if flags is None:
        return not ipaddress.ip_address(address).is_loopback
    return bool(flags & _IFF_UP) and bool(flags & _IFF_MULTICAST)


def _interface_flags(name: str) -> int | None:
    """The kernel's flags of interface ``name`` (Linux SIOCGIFFLAGS, which answers for the caller's
    network namespace; /sys/class/net would show the namespace that mounted sysfs)."""
    if not sys.platform.startswith("linux"):
        return None  # other systems: other ioctl numbers and flag values; fall back to "not loopback"
    import fcntl

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH14x", name.encode("utf-8", "replace")[:15], 0)
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request)
        flags: int = struct.unpack_from("16sH", answer)[1]
        return flags
    except (OSError, ValueError, struct.error):
        return None


def multicast_interfaces() -> list[str]:
    """IPv4 addresses of the interfaces a multicast Probe goes out on (loopback only if it has the
    multicast flag, as inside the test namespace; link-local kept: cameras wired straight in)."""
    addresses: list[str] = []
    for adapter in ifaddr.get_adapters():
        flags = _interface_flags(adapter.name)
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and ip.ip not in addresses and _usable_interface(ip.ip, flags):
                addresses.append(ip.ip)
    return addresses


def _add(found: dict[str, DiscoveredDevice], device: DiscoveredDevice) -> None:
    key = device.device or device.xaddr or device.name
    found.setdefault(key, device)  # the first reply (and so its XAddr) wins


def _exchange(
    targets: list[tuple[socket.socket, tuple[Any, ...]]],
    deadline: float,
    only_from: set[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None,
) -> list[DiscoveredDevice]:
    """Send both probes on every target, repeat once (SOAP-over-UDP: 50-250 ms later), collect
    replies until ``deadline``; de-duplicated by endpoint reference, sorted by name."""
    messages = [probe_message(t) for t in PROBE_TYPES]

    def send_all() -> int:
        sent = 0
        for sock, dest in targets:
            for message in messages:
                try:
                    sock.sendto(message, dest)
                    sent += 1
                except OSError as exc:
                    logger.info("WS-Discovery: cannot send a probe to %s: %s", dest[0], exc)
        return sent

    if send_all() == 0:
        raise UnreachableError("the probe could not be sent (network unreachable)")
    repeat_at: float | None = time.monotonic() + random.uniform(0.05, 0.25)
    found: dict[str, DiscoveredDevice] = {}
    replies = 0
    with selectors.DefaultSelector() as selector:
        for sock, _dest in targets:
            selector.register(sock, selectors.EVENT_READ)
        while (now := time.monotonic()) < deadline:
            if repeat_at is not None and now >= repeat_at:
                send_all()
                repeat_at = None
            wake = deadline if repeat_at is None else min(deadline, repeat_at)
            for key, _events in selector.select(max(0.0, wake - now)):
                while time.monotonic() < deadline:  # drain, but a flood cannot hold us past the deadline
                    try:
                        data, addr = key.fileobj.recvfrom(_RECV_BUFFER)  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:
                        logger.debug("WS-Discovery: receive error: %s", exc)
                        break
                    replies += 1
                    if replies > _MAX_REPLIES or (only_from is not None and _ip(addr[0]) not in only_from):
                        continue
                    for device in parse_probe_matches(data, addr[0]):
                        _add(found, device)
    logger.debug("WS-Discovery: %d replies, %d devices", replies, len(found))
    return sorted(found.values(), key=lambda d: (d.name.casefold(), d.xaddr or ""))


def discover(timeout_s: float = 3.0) -> list[DiscoveredDevice]:
    """Multicast a Probe on every multicast-capable IPv4 interface; the devices that answered."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    targets: list[tuple[socket.socket, tuple[Any, ...]]] = []
    try:
        for address in multicast_interfaces():
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            targets.append((sock, (MULTICAST_GROUP, WSD_PORT)))
            try:
                sock.setblocking(False)
                sock.bind((address, 0))  # replies are unicast to this address
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # never past a router
            except OSError as exc:
                logger.info("WS-Discovery: skipping interface %s: %s", address, exc)
                sock.close()
                targets.pop()
        if not targets:
            logger.warning("WS-Discovery: no multicast-capable IPv4 interface; nothing probed")
            return []
        try:
            return _exchange(targets, deadline)
        except UnreachableError:
            return []  # every interface refused to send: nothing can answer
    finally:
        for sock, _dest in targets:
            sock.close()


def probe_host(host: str, port: int = WSD_PORT, timeout_s: float = 2.0) -> list[DiscoveredDevice]:
    """Unicast Probe to one typed address (IPv4/IPv6 literal or name); [] when nothing answers.

    Raises UnreachableError when the name does not resolve, the address is not a single host, or
    the network is unreachable. Replies are accepted from that address on any port (real cameras
    answer from an ephemeral port, not 3702), so the socket is not connected.
    """
    deadline = time.monotonic() + max(0.0, timeout_s)
    name = host.strip().strip("[]")
    if not name:
        raise UnreachableError("no address given")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
    except (socket.gaierror, UnicodeError, OverflowError, ValueError):
        raise UnreachableError(f"cannot find {name!r} on the network") from None
    targets: list[tuple[socket.socket, tuple[Any, ...]]] = []
    allowed: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    try:
        for family, _type, _proto, _canon, sockaddr in infos[:4]:  # a name may have v4 and v6
            address = _ip(str(sockaddr[0]))
            if address is None or address in allowed:
                continue
            if address.is_multicast or address.is_unspecified or str(address) == "255.255.255.255":
                raise UnreachableError(f"{name!r} is not the address of a single device")
            sock = socket.socket(family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            targets.append((sock, sockaddr))
            sock.setblocking(False)
            allowed.add(address)
        if not targets:
            raise UnreachableError(f"cannot find {name!r} on the network")
        return _exchange(targets, deadline, only_from=allowed)
    finally:
        for sock, _dest in targets:
            sock.close()


__all__ = [
    "MAX_REPLY_BYTES",
    "MULTICAST_GROUP",
    "PROBE_TYPES",
    "WSD_PORT",
    "discover",
    "multicast_interfaces",
    "parse_probe_matches",
    "probe_host",
    "probe_message",
]
