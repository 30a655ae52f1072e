"""WS-Discovery against real peers inside the loopback-only namespace: ipycam (a real ONVIF device
whose ProbeMatch has no ProbeMatches wrapper) and a standards-conforming responder (tests/peers)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import psutil
import pytest
from wsdiscovery.message import parseSOAPMessage

from drivers.base import UnreachableError
from drivers.onvif.discovery import (
    NS_DEVICE,
    NS_NETWORK,
    PROBE_TYPES,
    discover,
    multicast_interfaces,
    probe_host,
    probe_message,
)
from tests.peers.wsd_responder import WsdResponder, billion_laughs, external_entity, oversized

SLACK_S = 0.4  # discover/probe_host return within their timeout plus this


@contextlib.contextmanager
def tcp_tripwire() -> Iterator[tuple[str, socket.socket]]:
    """A listening TCP socket on 127.0.0.1: (its http URL, the socket). Nobody should ever connect."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/onvif/device_service", listener


def connected(listener: socket.socket) -> bool:
    time.sleep(0.2)
    try:
        conn, _addr = listener.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def timed_discover(timeout_s: float) -> tuple[list, float]:
    start = time.monotonic()
    found = discover(timeout_s)
    return found, time.monotonic() - start


def test_probes_go_out_on_lo_only_with_ttl_1_and_both_onvif_types():
    assert multicast_interfaces() == ["127.0.0.1"]
    with WsdResponder() as responder:
        found, _elapsed = timed_discover(1.0)
    assert [d.name for d in found] == ["Standard Cam"]
    multicast = [p for p in responder.probes if p.multicast]
    assert {p.types for p in multicast} == {
        ((NS_NETWORK, "NetworkVideoTransmitter"),),
        ((NS_DEVICE, "Device"),),
    }
    assert {p.ttl for p in multicast} == {1}
    # SOAP-over-UDP: each probe is repeated once with the same MessageID; the responder answers once
    assert len({p.message_id for p in multicast}) == 2 and len(multicast) == 4
    assert responder.replies_sent == 2


def test_discover_finds_ipycam_and_the_standard_responder(ipycam):
    with WsdResponder(name="Standard Cam") as responder:
        found, elapsed = timed_discover(2.0)
    assert elapsed < 2.0 + SLACK_S
    by_name = {d.name: d for d in found}
    assert sorted(by_name) == ["LabCam", "Standard Cam"], found
    assert len(found) == 2  # ipycam answered each of its 4 probes: de-duplicated by endpoint reference
    cam = by_name["LabCam"]
    assert cam.kind == "onvif" and cam.xaddr == f"http://{ipycam.host}/onvif/device_service"
    assert cam.device and cam.device.startswith("urn:uuid:") and cam.needs_auth is None
    std = by_name["Standard Cam"]
    assert (std.device, std.xaddr) == (responder.epr, responder.xaddrs[0])
    assert (std.manufacturer, std.model) == ("Porchlight Labs", "SR-100")


def test_ipycam_reply_is_nonstandard_yet_parsed(ipycam):
    """Why wsdiscovery's parser is bypassed: on ipycam's reply it returns None; ours does not."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        sock.sendto(probe_message(PROBE_TYPES[0]), ("127.0.0.1", 3702))
        data, addr = sock.recvfrom(65536)
    assert b"ProbeMatch>" in data and b"ProbeMatches" not in data
    assert parseSOAPMessage(data, addr[0]) is None
    with WsdResponder() as responder:
        standard = responder.probe_matches("urn:uuid:0", responder.xaddrs)
    assert parseSOAPMessage(standard, "127.0.0.1").getProbeResolveMatches()  # the peer is standard
    found = probe_host("127.0.0.1", timeout_s=1.5)
    assert [(d.name, d.xaddr) for d in found] == [("LabCam", f"http://{ipycam.host}/onvif/device_service")]


def test_unicast_probe_of_a_typed_address():
    with WsdResponder(name="Unicast Cam") as responder:
        start = time.monotonic()
        found = probe_host("127.0.0.1", responder.port, timeout_s=1.0)
        elapsed = time.monotonic() - start
        by_name = probe_host("localhost", responder.port, timeout_s=0.5)
    assert [d.name for d in found] == ["Unicast Cam"] and found[0].device == responder.epr
    assert [d.name for d in by_name] == ["Unicast Cam"]
    assert 1.0 <= elapsed < 1.0 + SLACK_S
    assert all(not p.multicast for p in responder.probes)  # nothing went to the group


def test_unicast_probe_ignores_replies_from_other_hosts():
    # The probe goes to 127.0.0.1; a "device" at 127.0.0.2 that hears it must not be accepted.
    with (
        WsdResponder(name="Asked") as asked,
        WsdResponder(name="Eavesdropper", host="127.0.0.2", xaddrs=["http://127.0.0.2/onvif/device_service"]),
    ):
        found = probe_host("127.0.0.1", asked.port, timeout_s=0.8)
        assert [d.name for d in discover(0.8)] == ["Asked", "Eavesdropper"]  # both are real devices
    assert [d.name for d in found] == ["Asked"]


def test_duplicate_replies_are_merged_keeping_the_first_xaddr():
    first, second = "http://127.0.0.1:8081/onvif/device_service", "http://127.0.0.1:9999/onvif/device_service"
    with WsdResponder(name="Twice", xaddrs=[first], second_reply_xaddrs=[second]) as responder:
        found, _elapsed = timed_discover(1.0)
        unicast = probe_host("127.0.0.1", responder.port, timeout_s=0.8)
    assert responder.replies_sent >= 4  # two per probe type
    assert [(d.device, d.xaddr) for d in found] == [(responder.epr, first)]
    assert [(d.device, d.xaddr) for d in unicast] == [(responder.epr, first)]


def test_xaddrs_on_other_hosts_are_never_followed():
    with tcp_tripwire() as (trap_url, listener):
        with (
            # answers from 127.0.0.2 but points at 127.0.0.1: another host, dropped
            WsdResponder(name="Redirector", host="127.0.0.2", xaddrs=[trap_url]),
            # first XAddr on a foreign host, the second on the answering host: the second is kept
            WsdResponder(
                name="Mixed",
                xaddrs=[
                    "http://192.0.2.7/onvif/device_service",
                    "http://127.0.0.1:8082/onvif/device_service",
                ],
            ),
            # a name instead of an address is not "the host that answered" either
            WsdResponder(name="Named", xaddrs=["http://camera.example/onvif/device_service"]),
            # a device on 127.0.0.2 pointing at itself is fine
            WsdResponder(
                name="Second Host", host="127.0.0.2", xaddrs=["http://127.0.0.2:8086/onvif/device_service"]
            ),
        ):
            found, _elapsed = timed_discover(1.0)
        assert not connected(listener)
    assert [(d.name, d.xaddr) for d in found] == [
        ("Mixed", "http://127.0.0.1:8082/onvif/device_service"),
        ("Second Host", "http://127.0.0.2:8086/onvif/device_service"),
    ]


def test_hostile_replies_are_dropped_without_harm():
    process = psutil.Process()
    with tcp_tripwire() as (trap_url, listener):
        with (
            WsdResponder(name="Good Cam") as good,
            WsdResponder(payload=billion_laughs()),
            WsdResponder(payload=external_entity(trap_url)),
            WsdResponder(payload=oversized(65_000)),
            WsdResponder(payload=b"\x00\xff<s:Envelope" * 100),
            WsdResponder(payload=b"<a>" * 5000),  # deeper than libxml2's limit without huge_tree
        ):
            rss_before = process.memory_info().rss
            found, elapsed = timed_discover(1.5)
            rss_after = process.memory_info().rss
        assert not connected(listener), "the parser fetched an external entity or DTD"
    assert [(d.name, d.device) for d in found] == [("Good Cam", good.epr)]
    assert elapsed < 1.5 + SLACK_S
    assert rss_after - rss_before < 30 * 2**20


@pytest.mark.parametrize("timeout_s", [0.5, 1.5])
def test_discover_returns_when_the_timeout_ends(timeout_s):
    found, elapsed = timed_discover(timeout_s)  # nobody answers
    assert found == []
    assert timeout_s - 0.01 <= elapsed < timeout_s + SLACK_S


def test_unicast_probe_of_a_silent_address_times_out_empty():
    start = time.monotonic()
    assert probe_host("127.0.0.1", 9, timeout_s=0.7) == []  # the discard port: nothing listens
    assert 0.7 - 0.01 <= time.monotonic() - start < 0.7 + SLACK_S


@pytest.mark.parametrize(
    "host", ["239.255.255.250", "0.0.0.0", "255.255.255.255", "", "no-such-camera.invalid"]
)
def test_unicast_probe_refuses_what_is_not_one_device(host):
    with pytest.raises(UnreachableError):
        probe_host(host, timeout_s=0.5)
