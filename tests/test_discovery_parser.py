"""The WS-Discovery reply parser (pure: no socket), on captured and quoted replies, plus fuzzing.

Provenance of the replies below:
* IPYCAM: captured from ipycam 1.3.0 (PyPI) in the test namespace (a Probe to 127.0.0.1:3702),
  verbatim. Non-standard: no <d:ProbeMatches> wrapper, a d:EndpointReference, Action ".../ProbeMatch".
* TPLINK_SC3130G: the header and the start of the body are verbatim from a TP-Link TL-SC3130G reply
  quoted in github.com/evercam/evercam-discovery-java/issues/32 ("uuid:" EPR, `wsadis` prefix,
  double blank in Scopes, AppSequence). The quote is cut inside Scopes; the rest is completed by hand.
* HANWHA: header verbatim from a Hanwha Vision reply quoted in github.com/Jazea/Onvif.Core/issues/55
  (mustUnderstand on To/Action/AppSequence, `uuid:` MessageID); the body is cut there and written by
  hand in the same style.
* HEROSPEED / XIONGMAI / VIGI: scope lists and service addresses as printed by real probes in
  github.com/ZoneMinder/zoneminder/pull/1645 (a `manufacturer/` scope, ports 8999 and 8899) and
  github.com/andreikop/python-ws-discovery/issues/56 (TP-Link VIGI on port 2020, a UNV camera that
  answers from an ephemeral port); envelopes written by hand around them (gSOAP style).
* WINDOWS_HELLO: verbatim from github.com/ZoneMinder/zoneminder/issues/1290 (a Windows computer's
  Hello: wsdp:Device pub:Computer, no XAddrs). HIKVISION_FAULT: the fault texts quoted in
  github.com/edgexfoundry/device-onvif-camera/issues/134, envelope by hand.
* The rest are handwritten variants (WS-Discovery 1.1 / WS-Addressing 2005/08, SOAP 1.1, IPv6...).
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from drivers.base import DiscoveredDevice
from drivers.onvif.discovery import (
    MAX_REPLY_BYTES,
    NS_DEVICE,
    NS_NETWORK,
    PROBE_TYPES,
    _usable_interface,
    parse_probe_matches,
    probe_message,
)
from tests.peers.wsd_responder import WsdResponder, billion_laughs, external_entity, oversized

D = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
IPYCAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"
               xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
               xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
               xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
               xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
    <soap:Header>
        <wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
        <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatch</wsa:Action>
        <wsa:MessageID>urn:uuid:c5342b76-e9e2-4f68-b3fa-afbeb1ba64d9</wsa:MessageID>
        <wsa:RelatesTo>urn:uuid:e5e1fd60-e142-4d97-8c55-b534465f8ce3</wsa:RelatesTo>
    </soap:Header>
    <soap:Body>
        <d:ProbeMatch>
            <d:EndpointReference><wsa:Address>urn:uuid:3b3a059f-cf20-4bcc-85c9-c623c5ecdcc1</wsa:Address></d:EndpointReference>
            <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
            <d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/LabCam</d:Scopes>
            <d:XAddrs>http://127.0.0.1:8080/onvif/device_service</d:XAddrs>
            <d:MetadataVersion>1</d:MetadataVersion>
        </d:ProbeMatch>
    </soap:Body>
</soap:Envelope>"""

TPLINK_SC3130G = b"""<?xml version="1.0" encoding="utf-8" ?><soap:Envelope xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action><wsadis:MessageID>uuid:B926EB6A-CB4B-54DB-3130-0023CDE05FA7</wsadis:MessageID><wsadis:RelatesTo>uuid:00493664-80b2-4b4f-9b56-745333c153ca</wsadis:RelatesTo><wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To><d:AppSequence InstanceId="0" MessageNumber="25028" /></soap:Header><soap:Body><d:ProbeMatches><d:ProbeMatch><wsadis:EndpointReference><wsadis:Address>uuid:B926EB6A-CB4B-54DB-3130-0023CDE05FA7</wsadis:Address></wsadis:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/audio_encoder onvif://www.onvif.org/type/video_analytic  onvif://www.onvif.org/location/global onvif://www.onvif.org/hardware/TL-SC3130G onvif://www.onvif.org/name/TP-LINK%20TL-SC3130G</d:Scopes><d:XAddrs>http://192.168.1.20/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></soap:Body></soap:Envelope>"""

HANWHA = b"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope
    xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
    xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding"
    xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
    xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
    xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
    xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
    <SOAP-ENV:Header>
        <wsa:MessageID>uuid:b0bc3602-35b7-cb46-b51c-714db0a9f0a4</wsa:MessageID>
        <wsa:RelatesTo>uuid:9ac9a12f-be37-4767-9333-50aa933026ea</wsa:RelatesTo>
        <wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
        <wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
        <d:AppSequence SOAP-ENV:mustUnderstand="true" MessageNumber="1506" InstanceId="1761674209"/>
    </SOAP-ENV:Header>
    <SOAP-ENV:Body>
        <d:ProbeMatches>
            <d:ProbeMatch>
                <wsa:EndpointReference><wsa:Address>urn:uuid:4d2a1c3e-0000-4000-8000-00095b010203</wsa:Address></wsa:EndpointReference>
                <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
                <d:Scopes>onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/hardware/XNV-6080R onvif://www.onvif.org/name/XNV-6080R onvif://www.onvif.org/location/country/korea</d:Scopes>
                <d:XAddrs>http://192.168.1.100/onvif/device_service http://[fe80::209:18ff:fe01:203]/onvif/device_service</d:XAddrs>
                <d:MetadataVersion>1</d:MetadataVersion>
            </d:ProbeMatch>
        </d:ProbeMatches>
    </SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""


def gsoap(
    scopes: str,
    xaddrs: str,
    *,
    epr: str = "urn:uuid:2419d68a-2dd2-21b2-a205-ec8d59a3f0f2",
    types: str = "dn:NetworkVideoTransmitter",
    discovery_prefix: str = "wsdd",
    soap: str = "http://www.w3.org/2003/05/soap-envelope",
) -> bytes:
    """A reply in the gSOAP style most cheap cameras use (many namespace declarations)."""
    p = discovery_prefix
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="{soap}" xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:{p}="{D}"
 xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><SOAP-ENV:Header>
<wsa:MessageID>uuid:1419d68a-1dd2-11b2-a105-000000000000</wsa:MessageID>
<wsa:RelatesTo>urn:uuid:57f2b0be-1787-49f8-ab8b-4567327b23c6</wsa:RelatesTo>
<wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
</SOAP-ENV:Header><SOAP-ENV:Body><{p}:ProbeMatches><{p}:ProbeMatch>
<wsa:EndpointReference><wsa:Address>{epr}</wsa:Address></wsa:EndpointReference>
<{p}:Types>{types}</{p}:Types><{p}:Scopes>{scopes}</{p}:Scopes><{p}:XAddrs>{xaddrs}</{p}:XAddrs>
<{p}:MetadataVersion>10</{p}:MetadataVersion></{p}:ProbeMatch></{p}:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>
""".encode()


HEROSPEED = gsoap(
    "onvif://www.onvif.org/type/NetworkVideoTransmitter onvif://www.onvif.org/type/video_encoder "
    "onvif://www.onvif.org/type/audio_encoder onvif://www.onvif.org/location/city/guangzhou "
    "onvif://www.onvif.org/hardware/IPCamera onvif://www.onvif.org/name/IPCamera "
    "onvif://www.onvif.org/manufacturer/HeroSpeed",
    "http://192.168.1.84:8999/onvif/device_service",
)
XIONGMAI = gsoap(
    "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/audio_encoder "
    "onvif://www.onvif.org/hardware/IPC-model onvif://www.onvif.org/location/country/china "
    "onvif://www.onvif.org/name/NVT onvif://www.onvif.org/Profile/Streaming",
    "http://192.168.202.77:8899/onvif/device_service",
    types="dn:NetworkVideoTransmitter tds:Device",
)
VIGI = gsoap(
    "onvif://www.onvif.org/name/VIGI-C350 onvif://www.onvif.org/hardware/VIGI-C350 "
    "onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/G onvif://www.onvif.org/Profile/T "
    "onvif://www.onvif.org/location/Hong%20Kong onvif://www.onvif.org/type/NetworkVideoTransmitter",
    "http://192.168.202.92:2020/onvif/device_service",
    discovery_prefix="tns",
)

WINDOWS_HELLO = b"""<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof" xmlns:pub="http://schemas.microsoft.com/windows/pub/2005/07"><soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</wsa:Action><wsa:MessageID>urn:uuid:d724454b-cdc1-48e7-925b-25a744e6c6ae</wsa:MessageID><wsd:AppSequence InstanceId="2755" SequenceId="urn:uuid:94506137-106b-43ed-ad34-6ba9c88d5209" MessageNumber="77"></wsd:AppSequence></soap:Header><soap:Body><wsd:Hello><wsa:EndpointReference><wsa:Address>urn:uuid:c69f7c8c-cfe5-44ce-8c9c-47a55d291d90</wsa:Address></wsa:EndpointReference><wsd:Types>wsdp:Device pub:Computer</wsd:Types><wsd:MetadataVersion>35</wsd:MetadataVersion></wsd:Hello></soap:Body></soap:Envelope>"""

HIKVISION_FAULT = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">
<env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>d:MatchingRuleNotSupported</env:Value></env:Subcode></env:Code>
<env:Reason><env:Text xml:lang="en">the xml format error</env:Text></env:Reason></env:Fault>
<d:ProbeMatch><d:XAddrs>http://192.168.1.64/onvif/device_service</d:XAddrs></d:ProbeMatch></env:Body></env:Envelope>"""

WSD_1_1 = b"""<s12:Envelope xmlns:s12="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"
 xmlns:wsd="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<s12:Header><wsa:Action>http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/ProbeMatches</wsa:Action></s12:Header>
<s12:Body><wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:98190dc2-0890-4ef8-ac9a-5940995e6119</wsa:Address></wsa:EndpointReference>
<wsd:Types>dn:NetworkVideoTransmitter</wsd:Types><wsd:Scopes>onvif://www.onvif.org/name/Garage</wsd:Scopes>
<wsd:XAddrs>https://10.0.0.5:443/onvif/device_service</wsd:XAddrs></wsd:ProbeMatch></wsd:ProbeMatches></s12:Body></s12:Envelope>"""

SAMPLES = {
    "ipycam": (IPYCAM, "127.0.0.1"),
    "tplink": (TPLINK_SC3130G, "192.168.1.20"),
    "hanwha": (HANWHA, "192.168.1.100"),
    "herospeed": (HEROSPEED, "192.168.1.84"),
    "xiongmai": (XIONGMAI, "192.168.202.77"),
    "vigi": (VIGI, "192.168.202.92"),
    "wsd11": (WSD_1_1, "10.0.0.5"),
}


def one(data: bytes, sender: str) -> DiscoveredDevice:
    found = parse_probe_matches(data, sender)
    assert len(found) == 1, found
    return found[0]


# -- real and quirky replies ------------------------------------------------------------------------
def test_ipycam_without_the_probematches_wrapper():
    assert one(IPYCAM, "127.0.0.1") == DiscoveredDevice(
        kind="onvif",
        name="LabCam",
        xaddr="http://127.0.0.1:8080/onvif/device_service",
        device="urn:uuid:3b3a059f-cf20-4bcc-85c9-c623c5ecdcc1",
        needs_auth=None,
    )


@pytest.mark.parametrize(
    ("sample", "name", "manufacturer", "model", "xaddr", "device"),
    [
        (
            "tplink",
            "TP-LINK TL-SC3130G",
            None,
            "TL-SC3130G",
            "http://192.168.1.20/onvif/device_service",
            "uuid:B926EB6A-CB4B-54DB-3130-0023CDE05FA7",
        ),
        (
            "hanwha",
            "XNV-6080R",
            None,
            "XNV-6080R",
            "http://192.168.1.100/onvif/device_service",
            "urn:uuid:4d2a1c3e-0000-4000-8000-00095b010203",
        ),
        (
            "herospeed",
            "IPCamera",
            "HeroSpeed",
            "IPCamera",
            "http://192.168.1.84:8999/onvif/device_service",
            "urn:uuid:2419d68a-2dd2-21b2-a205-ec8d59a3f0f2",
        ),
        (
            "xiongmai",
            "NVT",
            None,
            "IPC-model",
            "http://192.168.202.77:8899/onvif/device_service",
            "urn:uuid:2419d68a-2dd2-21b2-a205-ec8d59a3f0f2",
        ),
        (
            "vigi",
            "VIGI-C350",
            None,
            "VIGI-C350",
            "http://192.168.202.92:2020/onvif/device_service",
            "urn:uuid:2419d68a-2dd2-21b2-a205-ec8d59a3f0f2",
        ),
        (
            "wsd11",
            "Garage",
            None,
            None,
            "https://10.0.0.5:443/onvif/device_service",
            "urn:uuid:98190dc2-0890-4ef8-ac9a-5940995e6119",
        ),
    ],
)
def test_vendor_replies(sample, name, manufacturer, model, xaddr, device):
    data, sender = SAMPLES[sample]
    got = one(data, sender)
    assert (got.kind, got.name, got.manufacturer, got.model, got.xaddr, got.device) == (
        "onvif",
        name,
        manufacturer,
        model,
        xaddr,
        device,
    )


def test_the_standard_responder_reply():
    responder = WsdResponder(name="Front Door", epr="urn:uuid:00000000-0000-4000-8000-000000000001")
    got = one(responder.probe_matches("urn:uuid:1", responder.xaddrs), "127.0.0.1")
    assert (got.name, got.manufacturer, got.model) == ("Front Door", "Porchlight Labs", "SR-100")


def test_soap_1_1_envelope_and_ipv6_sender():
    data = gsoap(
        "onvif://www.onvif.org/name/Porch",
        "http://192.168.1.9/onvif/device_service http://[fe80::1]/onvif/device_service",
        soap="http://schemas.xmlsoap.org/soap/envelope/",
    )
    assert one(data, "192.168.1.9").xaddr == "http://192.168.1.9/onvif/device_service"
    assert one(data, "fe80::1%eth0").xaddr == "http://[fe80::1]/onvif/device_service"
    zoned = data.replace(b"[fe80::1]", b"[fe80::1%25eth0]")
    assert one(zoned, "fe80::1%eth0").xaddr == "http://[fe80::1%25eth0]/onvif/device_service"
    assert one(data, "::ffff:192.168.1.9").xaddr == "http://192.168.1.9/onvif/device_service"


def test_several_matches_in_one_reply():
    two = HANWHA.replace(
        b"</d:ProbeMatch>",
        b"</d:ProbeMatch>"
        + HANWHA.split(b"<d:ProbeMatches>")[1]
        .split(b"</d:ProbeMatches>")[0]
        .replace(b"4d2a1c3e", b"5e3b2d4f"),
        1,
    )
    assert [d.device[9:17] for d in parse_probe_matches(two, "192.168.1.100")] == ["4d2a1c3e", "5e3b2d4f"]


@pytest.mark.parametrize(
    ("data", "sender"),
    [
        (WINDOWS_HELLO, "192.168.1.30"),  # not a ProbeMatch (and no XAddrs)
        (HIKVISION_FAULT, "192.168.1.64"),  # a SOAP fault is an answer with nothing in it
        (IPYCAM, "127.0.0.2"),  # the XAddr is on another host than the one that answered
        (TPLINK_SC3130G, "not an address"),
        (
            IPYCAM.replace(b"dn:NetworkVideoTransmitter tds:Device", b"wsdp:Device wprt:PrintDeviceType"),
            "127.0.0.1",
        ),
        (IPYCAM.replace(b"http://127.0.0.1:8080", b"http://admin:secret@127.0.0.1:8080"), "127.0.0.1"),
        (IPYCAM.replace(b"http://127.0.0.1:8080", b"soap.udp://127.0.0.1:3702"), "127.0.0.1"),
        (IPYCAM.replace(b"http://127.0.0.1:8080", b"http://localhost:8080"), "127.0.0.1"),  # a name: never
        (IPYCAM.replace(b"http://127.0.0.1:8080", b"http://127.0.0.1:99999"), "127.0.0.1"),
        # An IPv4 address never has a zone (found by test_fuzz_mutated_replies).
        (IPYCAM.replace(b"http://127.0.0.1:8080", b"http://127.0.0.1%:8080"), "127.0.0.1"),
        (IPYCAM.replace(b"http://127.0.0.1:8080", b"http://127.0.0.1%25eth0:8080"), "127.0.0.1"),
        (
            IPYCAM.replace(b"<d:XAddrs>http://127.0.0.1:8080/onvif/device_service</d:XAddrs>", b""),
            "127.0.0.1",
        ),
    ],
)
def test_replies_that_are_dropped(data, sender):
    assert parse_probe_matches(data, sender) == []


def test_missing_optional_parts_are_tolerated():
    bare = b"<Envelope><Body><ProbeMatch><XAddrs>http://10.1.2.3/onvif/device_service</XAddrs></ProbeMatch></Body></Envelope>"
    assert one(bare, "10.1.2.3") == DiscoveredDevice(
        kind="onvif", name="ONVIF device at 10.1.2.3", xaddr="http://10.1.2.3/onvif/device_service"
    )
    undeclared = IPYCAM.replace(b' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"', b"").replace(
        b"dn:NetworkVideoTransmitter tds:Device", b"tds:Device"
    )
    assert one(undeclared, "127.0.0.1").name == "LabCam"
    hardware_only = IPYCAM.replace(b"name/LabCam", b"hardware/DS-2CD2043G2")
    assert (one(hardware_only, "127.0.0.1").name, one(hardware_only, "127.0.0.1").model) == (
        "DS-2CD2043G2",
    ) * 2


def test_scope_values_are_decoded_and_cleaned():
    def name_of(raw: bytes) -> str:
        return one(IPYCAM.replace(b"name/LabCam", b"name/" + raw), "127.0.0.1").name

    assert name_of(b"HIKVISION%20DS-2CD2143G2-I") == "HIKVISION DS-2CD2143G2-I"
    assert name_of(b"Caf%C3%A9%2FPorch") == "Café/Porch"
    assert name_of(b"%1B%5B2JEvil%E2%80%AEgnp") == "[2JEvilgnp"  # no terminal escape, no bidi override
    assert name_of(b"bad%zz%") == "bad%zz%"
    assert len(name_of(b"x" * 400)) == 80


# -- hostile input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        billion_laughs(),
        external_entity("http://127.0.0.1:9/evil.dtd"),
        external_entity("file:///etc/passwd"),
        oversized(65_000),
        IPYCAM.decode().replace("<soap:Env", "<!DOCTYPE x><soap:Env", 1).encode("utf-16"),
        b"<a>" * 20_000,
        b"",
        b"\xff\xfe",
        b"<?xml version='1.0' encoding='no-such-codec'?><a/>",
    ],
)
def test_hostile_replies_are_refused(data):
    assert parse_probe_matches(data, "127.0.0.1") == []


def test_the_size_cap_is_the_only_difference():
    assert one(oversized(MAX_REPLY_BYTES), "127.0.0.1").name == "Padded"
    assert parse_probe_matches(oversized(MAX_REPLY_BYTES + 1), "127.0.0.1") == []


def test_ten_megabytes_are_refused_at_once():
    for data in (b"\x00" * 10_000_000, IPYCAM + b" " * 10_000_000):
        start = time.perf_counter()
        assert parse_probe_matches(data, "127.0.0.1") == []
        assert time.perf_counter() - start < 0.05


def test_matches_per_reply_are_capped():
    match = IPYCAM.split(b"<soap:Body>")[1].split(b"</soap:Body>")[0]
    many = IPYCAM.replace(match, match * 100)
    assert len(many) < MAX_REPLY_BYTES and len(parse_probe_matches(many, "127.0.0.1")) == 16


def test_pathological_structures_are_cheap():
    nested = (
        b"<E>" + b"<ProbeMatch><XAddrs>x</XAddrs>" * 250 + b"<a/>" * 8000 + b"</ProbeMatch>" * 250 + b"</E>"
    )
    wide = b"<E>" + b"<ProbeMatch>" + b"<a/>" * 12_000 + b"</ProbeMatch>" * 1 + b"</E>"
    for data in (nested, wide):
        assert len(data) <= MAX_REPLY_BYTES
        start = time.perf_counter()
        assert parse_probe_matches(data, "127.0.0.1") == []
        assert time.perf_counter() - start < 0.05


def test_hostile_parsing_keeps_memory_bounded():
    process = psutil.Process()
    before = process.memory_info().rss
    for _ in range(50):
        for data in (billion_laughs(), b"<a>" * 20_000, IPYCAM.replace(b"LabCam", b"&#x41;" * 9000)):
            parse_probe_matches(data, "127.0.0.1")
    assert process.memory_info().rss - before < 20 * 2**20


# -- fuzzing ----------------------------------------------------------------------------------------
def check_invariants(found: list, sender: str) -> None:
    assert isinstance(found, list)
    for device in found:
        assert isinstance(device, DiscoveredDevice) and device.kind == "onvif"
        assert device.name and device.name.isprintable() and len(device.name) <= 80
        host = urlsplit(device.xaddr).hostname
        addr = ipaddress.ip_address(host)  # a valid address: a zone only after an IPv6 one
        assert ipaddress.ip_address(str(addr).split("%")[0]) == ipaddress.ip_address(sender.split("%")[0])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes(data):
    check_invariants(parse_probe_matches(data, "127.0.0.1"), "127.0.0.1")


@settings(max_examples=1500, deadline=None)
@given(sample=st.sampled_from(sorted(SAMPLES)), data=st.data())
def test_fuzz_mutated_replies(sample, data):
    raw, sender = SAMPLES[sample]
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf)))
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if op == "flip" and pos < len(buf):
            buf[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = data.draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"&amp;",
                        b"<!DOCTYPE a>",
                        b"]]>",
                        b"\x00",
                        b"<d:ProbeMatch>",
                        b"</d:XAddrs>",
                        b"%",
                        b"%00",
                        b"\xc3",
                    ]
                )
            )
        elif op == "delete":
            del buf[pos : pos + data.draw(st.integers(1, 64))]
        elif op == "truncate":
            del buf[pos:]
        else:
            buf[pos:pos] = raw[: data.draw(st.integers(0, len(raw)))]
    check_invariants(parse_probe_matches(bytes(buf), sender), sender)


xml_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)


@settings(max_examples=1000, deadline=None)
@given(
    name=xml_text,
    scopes=st.lists(xml_text, max_size=5),
    xaddrs=st.lists(xml_text, max_size=4),
    sender=st.sampled_from(["127.0.0.1", "192.168.1.20", "fe80::1", "::1"]),
    epr=xml_text,
)
def test_fuzz_generated_fields(name, scopes, xaddrs, sender, epr):
    def esc(s: str) -> str:
        return (
            "".join(ch for ch in s if ch in "\t\n\r" or ch >= " ").replace("&", "&amp;").replace("<", "&lt;")
        )

    host = f"[{sender}]" if ":" in sender else sender
    doc = (
        f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="{D}"><s:Body><d:ProbeMatch>'
        f"<EndpointReference><Address>{esc(epr)}</Address></EndpointReference>"
        f"<d:Scopes>onvif://www.onvif.org/name/{esc(name)} {' '.join(map(esc, scopes))}</d:Scopes>"
        f"<d:XAddrs>{' '.join(map(esc, xaddrs))} http://{host}:80/onvif/device_service</d:XAddrs>"
        "</d:ProbeMatch></s:Body></s:Envelope>"
    )
    found = parse_probe_matches(doc.encode(), sender)
    check_invariants(found, sender)
    assert len(found) == 1  # the valid XAddr on the sender is always found


# -- the probe we send, interfaces, no side effects ------------------------------------------------
def test_probe_messages_are_standard_and_small():
    ns = {
        "s": "http://www.w3.org/2003/05/soap-envelope",
        "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
        "d": D,
    }
    seen = set()
    for qname, expected in zip(
        PROBE_TYPES, [(NS_NETWORK, "NetworkVideoTransmitter"), (NS_DEVICE, "Device")], strict=True
    ):
        raw = probe_message(qname)
        assert len(raw) < 4096 and b"ProbeMatch" not in raw  # ipycam reads 4 KiB and skips "ProbeMatch"
        root = etree.fromstring(raw)
        assert root.findtext("s:Header/a:Action", namespaces=ns) == D + "/Probe"
        assert root.findtext("s:Header/a:To", namespaces=ns) == "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
        seen.add(root.findtext("s:Header/a:MessageID", namespaces=ns))
        types = root.find("s:Body/d:Probe/d:Types", namespaces=ns)
        prefix, local = types.text.split(":")
        assert (types.nsmap[prefix], local) == expected
    assert len(seen) == 2


def test_interface_choice():
    assert not _usable_interface("127.0.0.1", None) and _usable_interface("192.168.1.2", None)
    assert _usable_interface("127.0.0.1", 0x1 | 0x8 | 0x1000)  # lo with multicast on (the namespace)
    assert not _usable_interface("127.0.0.1", 0x1 | 0x8)  # lo as it usually is
    assert _usable_interface("169.254.3.4", 0x1 | 0x1000)  # a camera wired straight in
    assert not _usable_interface("192.168.1.2", 0x1000)  # down


def test_importing_sends_nothing():
    code = (
        "import socket, threading\n"
        "class NoSocket(socket.socket):\n"
        "    def __init__(self, *a, **k): raise AssertionError('socket at import')\n"
        "socket.socket = NoSocket\n"
        "threading.Thread.start = lambda self: (_ for _ in ()).throw(AssertionError('thread at import'))\n"
        "import drivers.onvif.discovery\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
