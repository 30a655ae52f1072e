"""ONVIF event parsing without a network: every captured public payload (tests/fixtures/onvif_events,
provenance in PROVENANCE.md) becomes the expected CameraEvent; the topic table; and hypothesis
fuzzing of the notification (and discovery) parsers: no crash, bounded work."""

from __future__ import annotations

import datetime as dt
import random
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.base import CameraEvent
from drivers.onvif.notifications import (
    MAX_BYTES,
    MAX_MESSAGES,
    MalformedNotification,
    Notification,
    parse_notifications,
    parse_utc,
)
from drivers.onvif.topics import (
    is_doorbell,
    normalize_topic,
    parse_bool,
    to_camera_event,
    topic_kind,
)

FIXTURES = Path(__file__).parent / "fixtures" / "onvif_events"


def ms(iso: str) -> int:
    """Independent of the parser under test: ISO-8601 (UTC) to epoch ms."""
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return round((moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp() * 1000)


def ev(kind, active, utc, topic, source, initialized=False) -> CameraEvent:
    return CameraEvent(
        kind=kind, active=active, utc_ms=ms(utc), topic=topic, source=source, initialized=initialized
    )


RECEIVED_MS = 1_700_000_000_000
#: file -> the CameraEvent (or None) of each NotificationMessage in it, in order.
EXPECTED: dict[str, list[CameraEvent | None]] = {
    "agsh_mockup_cellmotion": [  # no PropertyOperation: a change
        ev("motion", True, "2015-05-14T13:57:50.230Z", "tns1:RuleEngine/CellMotionDetector/Motion", "000")
    ],
    "reolink_doorbell_wifi_cellmotion_people": [
        ev("motion", True, "2025-03-12T12:39:19Z", "tns1:RuleEngine/CellMotionDetector/Motion", "000"),
        None,
    ],  # person detection: not one of Porchlight's topics
    "reolink_doorbell_visitor": [
        ev("doorbell", True, "2022-11-01T11:59:43Z", "tns1:RuleEngine/MyRuleDetector/Visitor", "000")
    ],
    "reolink_doorbell_poe_vehicle_initialized": [None],
    "nvr_motionalarm_state1": [  # State="1"
        ev("motion", True, "2020-12-19T22:26:37Z", "tns1:VideoSource/MotionAlarm", "00200")
    ],
    "hikvision_family_initialized": [  # zone-less UtcTime, "FALSE"
        ev(
            "motion",
            False,
            "2023-06-01T07:27:22Z",
            "tns1:VideoAnalytics/tnshik:MotionAlarm",
            "vstoken_ch0001",
            True,
        ),
        None,
        None,
    ],
    "axis_motionregion_initialized": [
        ev(
            "motion",
            False,
            "2021-01-06T17:46:45.115382Z",
            "tns1:RuleEngine/MotionRegionDetector/Motion",
            "0",
            True,
        )
    ],
    "axis_pir_initialized": [
        ev("motion", False, "2019-03-12T23:48:26.371215Z", "tns1:Device/tnsaxis:Sensor/PIR", "0", True)
    ],
    "axis_pir_change": [
        ev("motion", True, "2019-03-12T23:48:28.425164Z", "tns1:Device/tnsaxis:Sensor/PIR", "0")
    ],
    "axis_vmd4_change": [None],
    "axis_io_port_initialized": [
        ev("input", False, "2019-01-15T07:50:45.206264Z", "tns1:Device/tnsaxis:IO/Port", "1", True)
    ],
    "axis_relay_initialized": [None],
    "onvif_spec_pullmessages_linedetector": [None, None],
    "onvif_spec_motionalarm_on": [
        ev("motion", True, "2008-10-10T12:24:57.321Z", "tns1:VideoSource/MotionAlarm", "1")
    ],
    "onvif_spec_motionalarm_off": [
        ev("motion", False, "2008-10-10T12:24:57.321Z", "tns1:VideoSource/MotionAlarm", "1")
    ],
    "onvif_spec_digitalinput_on": [
        ev("input", True, "2008-10-10T12:24:57.321Z", "tns1:Device/Trigger/DigitalInput", "1")
    ],
    "onvif_spec_digitalinput_off": [
        ev("input", False, "2008-10-10T12:24:57.321Z", "tns1:Device/Trigger/DigitalInput", "1")
    ],
}


def test_every_fixture_is_listed_with_its_provenance():
    files = {p.stem for p in FIXTURES.glob("*.xml")}
    assert files == set(EXPECTED)
    provenance = (FIXTURES / "PROVENANCE.md").read_text()
    for name in files:
        assert f"`{name}.xml`" in provenance or f"`{name}" in provenance, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_payload_becomes_the_expected_event(name):
    notes = parse_notifications((FIXTURES / f"{name}.xml").read_bytes())
    assert [to_camera_event(n, RECEIVED_MS) for n in notes] == EXPECTED[name]


def test_device_clock_offset_is_removed():
    raw = (FIXTURES / "onvif_spec_motionalarm_on.xml").read_bytes()
    (note,) = parse_notifications(raw, clock_offset_s=90.0)
    assert note.utc_ms == ms("2008-10-10T12:24:57.321Z") - 90_000
    (late,) = parse_notifications(raw, clock_offset_s=-3600.5)
    assert late.utc_ms == ms("2008-10-10T12:24:57.321Z") + 3_600_500


def test_missing_or_broken_utctime_uses_the_arrival_time():
    raw = (FIXTURES / "onvif_spec_motionalarm_on.xml").read_text()
    for stamp in ("0000-00-00T00:00:00Z", "yesterday", "2008-10-10T12:24:57.3 21Z"):
        (note,) = parse_notifications(raw.replace("2008-10-10T12:24:57.321Z", stamp))
        assert note.utc_ms is None
        assert to_camera_event(note, RECEIVED_MS).utc_ms == RECEIVED_MS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-03-12T23:48:26.371215Z", "2019-03-12T23:48:26.371215+00:00"),
        ("2023-06-01T07:27:22", "2023-06-01T07:27:22+00:00"),
        ("2025-4-8T3:28:42Z", "2025-04-08T03:28:42+00:00"),
        ("2020-12-19T23:26:37+01:00", "2020-12-19T22:26:37+00:00"),
        ("2020-12-19T20:26:37-0200", "2020-12-19T22:26:37+00:00"),
    ],
)
def test_utc_time_variants(text, expected):
    assert parse_utc(text) == pytest.approx(dt.datetime.fromisoformat(expected).timestamp())


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("tns1:VideoSource/MotionAlarm", "motion"),
        ("  tns1:VideoSource/MotionAlarm\n ", "motion"),
        ("ns2:VideoSource/MotionAlarm", "motion"),
        ("{http://www.onvif.org/ver10/topics}VideoSource/MotionAlarm", "motion"),
        ("http://www.onvif.org/ver10/topics/RuleEngine/CellMotionDetector/Motion", "motion"),
        ("tns1:RuleEngine/CellMotionDetector/Motion", "motion"),
        ("tns1:RuleEngine/CellMotionDetector/Motion//.", "motion"),
        ("tns1:RuleEngine/MotionRegionDetector/Motion", "motion"),
        ("tns1:VideoAnalytics/tnshik:MotionAlarm", "motion"),
        ("tns1:Device/tnsaxis:Sensor/PIR", "motion"),
        ("tns1:RuleEngine/MyRuleDetector/Visitor", "doorbell"),
        ("tns1:RuleEngine/tnsvendor:MyRuleDetector/Visitor", "doorbell"),
        ("tnsvendor:Doorbell/CallButton", "doorbell"),
        ("tns1:Device/Trigger/DigitalInput", "input"),
        ("tns1:Device/tns1:Trigger/tnssamsung:DigitalInput", "input"),
        ("tns1:Device/tnsaxis:IO/Port", "input"),
        ("tns1:Device/Trigger/Relay", None),
        ("tns1:RuleEngine/MyRuleDetector/PeopleDetect", None),
        ("tns1:RuleEngine/LineDetector/Crossed", None),
        ("tns1:RuleEngine/TamperDetector/Tamper", None),
        ("tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY", None),
        ("", None),
        ("///", None),
    ],
)
def test_topic_kind_table(topic, kind):
    assert topic_kind(topic) == kind


def test_doorbell_detected_from_published_topics():
    assert is_doorbell(["tns1:VideoSource/MotionAlarm", "tns1:RuleEngine/MyRuleDetector/Visitor"])
    assert not is_doorbell(["tns1:VideoSource/MotionAlarm", "tns1:Device/Trigger/DigitalInput"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        ("active", True),
        (" true ", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("inactive", False),
        ("maybe", None),
        ("", None),
        (None, None),
    ],
)
def test_vendor_booleans(value, expected):
    assert parse_bool(value) is expected


def note(topic, data, operation="Changed", source=(("Source", "0"),), utc_ms=1000) -> Notification:
    return Notification(
        topic=topic, utc_ms=utc_ms, operation=operation, source=tuple(source), data=tuple(data)
    )


def test_property_operations():
    motion = "tns1:VideoSource/MotionAlarm"
    assert to_camera_event(note(motion, [("State", "true")], None)).active is True  # missing: a change
    assert to_camera_event(note(motion, [("State", "true")], "Deleted")).active is False
    assert to_camera_event(note(motion, [("State", "true")], "Initialized")).initialized is True
    assert to_camera_event(note(motion, [("State", "sort of")])) is None
    assert to_camera_event(note(motion, [])) is None


def test_doorbell_presses_only():
    visitor = "tns1:RuleEngine/MyRuleDetector/Visitor"
    assert to_camera_event(note(visitor, [("State", "false")])) is None  # a release
    assert to_camera_event(note(visitor, [("State", "true")], "Deleted")) is None
    press = to_camera_event(note(visitor, [("State", "true")], "Initialized"))
    assert press.active and press.initialized  # flagged: the hub does not ring for it
    bell = to_camera_event(note("tnsvendor:Doorbell/CallButton", [], None))  # an event topic without data
    assert bell.kind == "doorbell" and bell.active
    assert to_camera_event(note("tnsvendor:Doorbell/CallButton", [], "Initialized")) is None


def test_digital_input_level_spelling():
    event = to_camera_event(
        note(
            "tns1:Device/tns1:Trigger/tnssamsung:DigitalInput",
            [("Level", "1")],
            source=[("InputToken", "DI_1")],
        )
    )
    assert (event.kind, event.active, event.source) == ("input", True, "DI_1")


# -- robustness ----------------------------------------------------------------------------------


def _parse_or_refuse(data: bytes) -> None:
    try:
        notes = parse_notifications(data)
    except MalformedNotification:
        return
    assert len(notes) <= MAX_MESSAGES
    for n in notes:
        event = to_camera_event(n, RECEIVED_MS)
        assert event is None or isinstance(event, CameraEvent)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes(data):
    _parse_or_refuse(data)


PAYLOADS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.xml"))]


@st.composite
def mutated(draw) -> bytes:
    """A captured payload with a few random byte-level edits (HANDMADE mutations)."""
    data = bytearray(draw(st.sampled_from(PAYLOADS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "flip"]))
        if op == "delete":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"\x00",
                        b"\xff\xfe",
                        b'"',
                        b"<!--",
                        b"]]>",
                        b'<tt:SimpleItem Name="State"/>',
                        b"&lol;",
                        b"\n",
                    ]
                )
            )
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]
        elif data:
            data[min(pos, len(data) - 1)] ^= draw(st.integers(1, 255))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_payloads(data):
    _parse_or_refuse(data)


_NAME = st.sampled_from(
    ["State", "IsMotion", "LogicalState", "Level", "Source", "InputToken", "state", ""]
) | st.text(max_size=12)
_VALUE = st.sampled_from(["true", "false", "1", "0", "TRUE", "active", ""]) | st.text(max_size=12)
_TOPIC = st.sampled_from(
    [
        "tns1:VideoSource/MotionAlarm",
        "tns1:RuleEngine/MyRuleDetector/Visitor",
        "tns1:Device/Trigger/DigitalInput",
        "x:Y/Z",
        " / : // ",
    ]
) | st.text(max_size=40)


def _xml_attr(text: str) -> str:
    return (
        "".join(c for c in text if c.isprintable())
        .replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
    )


@settings(max_examples=300, deadline=None)
@given(
    _TOPIC,
    st.lists(st.tuples(_NAME, _VALUE), max_size=5),
    st.lists(st.tuples(_NAME, _VALUE), max_size=5),
    st.sampled_from(["Changed", "Initialized", "Deleted", "", "garbage"]),
    st.text(max_size=30),
)
def test_fuzz_structured_notifications(topic, source, data, operation, utc):
    def items(pairs):
        return "".join(f'<tt:SimpleItem Name="{_xml_attr(n)}" Value="{_xml_attr(v)}"/>' for n, v in pairs)

    doc = (
        f'<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
        f'xmlns:tt="http://www.onvif.org/ver10/schema"><wsnt:Topic>{_xml_attr(topic)}</wsnt:Topic>'
        f'<wsnt:Message><tt:Message UtcTime="{_xml_attr(utc)}" PropertyOperation="{operation}">'
        f"<tt:Source>{items(source)}</tt:Source><tt:Data>{items(data)}</tt:Data></tt:Message></wsnt:Message>"
        "</wsnt:NotificationMessage>"
    ).encode()
    _parse_or_refuse(doc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_text_helpers(text):
    topic_kind(text)
    normalize_topic(text)
    parse_bool(text)
    parse_utc(text)


def test_huge_and_hostile_inputs_are_refused_quickly():
    started = time.monotonic()
    with pytest.raises(MalformedNotification, match="too large"):
        parse_notifications(b"<a>" + b"x" * (64 * 1024 * 1024) + b"</a>")
    with pytest.raises(MalformedNotification):  # 100 000 nested elements: lxml's depth limit
        parse_notifications(b"<a>" * 100_000 + b"</a>" * 100_000)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b"<wsnt:NotificationMessage xmlns:wsnt='http://docs.oasis-open.org/wsn/b-2'>&d;</wsnt:NotificationMessage>"
    )
    with pytest.raises(MalformedNotification, match="document type"):
        parse_notifications(laughs)
    with pytest.raises(MalformedNotification):
        parse_notifications(b'<!DOCTYPE x SYSTEM "http://192.0.2.1/x.dtd"><x/>')
    with pytest.raises(MalformedNotification):
        parse_notifications(b'<?xml version="1.0" encoding="no-such-encoding"?><x/>')
    assert time.monotonic() - started < 3.0


def test_many_messages_are_capped_and_memory_stays_bounded():
    one = (FIXTURES / "onvif_spec_motionalarm_on.xml").read_text().split("?>", 1)[1]
    body = "".join([one] * 3000)  # ~2 MB, just under the size cap
    doc = f"<r>{body}</r>".encode()
    assert len(doc) < MAX_BYTES
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    notes = parse_notifications(doc)
    assert len(notes) == MAX_MESSAGES
    assert time.monotonic() - started < 5.0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"parsing a capped reply grew the process by {grown_mb:.0f} MB"


def test_wrong_namespaces_are_tolerated():
    raw = (
        (FIXTURES / "reolink_doorbell_visitor.xml")
        .read_bytes()
        .replace(b"http://docs.oasis-open.org/wsn/b-2", b"urn:example:not-wsnt")
        .replace(b"http://www.onvif.org/ver10/schema", b"urn:example:not-tt")
    )
    (n,) = parse_notifications(raw)
    assert to_camera_event(n).kind == "doorbell"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096) | mutated())
def test_fuzz_discovery_replies(data):
    """The WS-Discovery reply parser (drivers/onvif/discovery.py) under the same fuzzing."""
    discovery = pytest.importorskip("drivers.onvif.discovery")
    assert isinstance(discovery.parse_probe_matches(data, "127.0.0.1"), list)


def test_seeded_random_soup_is_cheap():
    rng = random.Random(7)
    alphabet = b'<>/=" :abcdefgtnsNotificationMessageTopicSimpleItem&;!-[]?'
    started = time.monotonic()
    for _ in range(2000):
        _parse_or_refuse(bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 600))))
    assert time.monotonic() - started < 20
