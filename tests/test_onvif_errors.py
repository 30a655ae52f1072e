"""ONVIF driver logic without a device: error translation, stream roles, URI cleaning, topic lists."""

from __future__ import annotations

import asyncio
import errno
import socket

import aiohttp
import pytest
import zeep.exceptions
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from drivers.base import AuthError, DriverError, MediaProfile, UnreachableError, UnsupportedError
from drivers.onvif.driver import split_host
from drivers.onvif.errors import ONVIFAuthError, ONVIFError, ONVIFTimeoutError, translate
from drivers.onvif.profiles import H265_ONLY, choose_roles, clean_uri
from drivers.onvif.topics import flatten_topics
from drivers.scrub import redact

WHERE = "the camera at 192.0.2.10:80"


def _key(host: str = "192.0.2.10", port: int = 80):
    from aiohttp.client_reqrep import ConnectionKey

    fields = dict.fromkeys(ConnectionKey._fields)
    fields.update(host=host, port=port, is_ssl=False, ssl=True)
    return ConnectionKey(**fields)


def _wrapped(inner: BaseException) -> ONVIFError:
    """What onvif's safe_func raises: ONVIFError(err) from err."""
    try:
        try:
            raise inner
        except Exception as err:
            raise ONVIFError(err) from err
    except ONVIFError as outer:
        return outer


# --- translate: exception -> typed error -> message --------------------------------------------

AUTH_CASES = [
    zeep.exceptions.Fault("Sender not authorized", code="s:Receiver", subcodes=[]),  # ipycam
    zeep.exceptions.Fault(
        "", code="env:Sender", subcodes=[etree.QName("http://www.onvif.org/ver10/error", "NotAuthorized")]
    ),
    zeep.exceptions.Fault("The action requested requires authorization and the sender is not authorized"),
    ONVIFAuthError("Failed to authenticate to http://192.0.2.10/snapshot.jpg"),
    zeep.exceptions.TransportError("Server returned HTTP status 401 (no content available)", status_code=401),
    aiohttp.ClientResponseError(None, (), status=401, message="Unauthorized"),  # type: ignore[arg-type]
    _wrapped(zeep.exceptions.Fault("Sender not authorized")),
]


@pytest.mark.parametrize("exc", AUTH_CASES, ids=lambda e: type(e).__name__)
def test_auth_failures_say_refused_or_requires(exc):
    refused = translate(exc, WHERE, has_credentials=True)
    assert isinstance(refused, AuthError)
    assert str(refused) == "The camera at 192.0.2.10:80 refused the username or password"
    required = translate(exc, WHERE, has_credentials=False)
    assert str(required) == "The camera at 192.0.2.10:80 requires a username and password"
    assert "username and password" in str(translate(exc, WHERE))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            aiohttp.ClientConnectorError(
                _key(), ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
            ),
            "refused the connection (nothing listens on that port)",
        ),
        (ConnectionRefusedError(), "refused the connection"),
        (
            aiohttp.ClientConnectorDNSError(
                _key("cam.invalid"), socket.gaierror(-2, "Name or service not known")
            ),
            "the host name could not be resolved",
        ),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable (no route to the host)"),
        (
            aiohttp.ClientConnectorError(_key(), OSError(errno.ENETUNREACH, "Network is unreachable")),
            "no route",
        ),
        (ONVIFTimeoutError("Timed out fetching http://192.0.2.10/snapshot.jpg"), "did not answer in time"),
        (asyncio.TimeoutError(), "did not answer in time"),  # noqa: UP041 - what older code raises
        (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), "did not answer in time"),
        (aiohttp.ServerDisconnectedError(), "closed the connection"),
        (
            _wrapped(aiohttp.ClientConnectorError(_key(), ConnectionRefusedError(errno.ECONNREFUSED, "x"))),
            "refused the connection",
        ),
    ],
)
def test_network_failures_are_unreachable(exc, expected):
    err = translate(exc, WHERE, has_credentials=True)
    assert isinstance(err, UnreachableError), err
    assert expected in str(err)
    assert str(err).startswith("The camera at 192.0.2.10:80 ")


def test_timeout_message_names_the_deadline_and_the_step():
    err = translate(TimeoutError(), WHERE, action="GetProfiles", timeout_s=3)
    assert str(err) == "The camera at 192.0.2.10:80 did not answer within 3 s (GetProfiles)"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ONVIFError(
                "Device doesn`t support service: media with namespace http://www.onvif.org/ver10/media/wsdl"
            ),
            "does not offer the ONVIF media service",
        ),
        (zeep.exceptions.TransportError("Server returned HTTP status 404", status_code=404), "HTTP 404"),
        (
            zeep.exceptions.TransportError(
                "Server returned response (200) with invalid XML", status_code=200, content=b"<html>"
            ),
            "is this the camera's ONVIF port?",
        ),
        (zeep.exceptions.Fault("Unknown fault occured", detail="<html/>"), "not ONVIF (SOAP)"),  # zeep's typo
        (
            zeep.exceptions.XMLSyntaxError(
                "The XML returned by the server does not contain a valid envelope"
            ),
            "malformed ONVIF reply",
        ),
        (
            zeep.exceptions.Fault("Action not supported: GetEventProperties", code="s:Receiver"),
            "does not support GetProfiles",
        ),
        (AttributeError("'NoneType' object has no attribute 'Uri'"), "does not understand"),
    ],
)
def test_unusable_replies_are_unsupported(exc, expected):
    err = translate(exc, WHERE, has_credentials=True, action="GetProfiles")
    assert isinstance(err, UnsupportedError), err
    assert expected in str(err)


def test_other_faults_are_plain_driver_errors_with_the_device_text():
    err = translate(
        zeep.exceptions.Fault("Configuration token does not exist", code="env:Sender"),
        WHERE,
        has_credentials=True,
        action="GetStreamUri",
    )
    assert type(err) is DriverError
    assert str(err) == (
        "The camera at 192.0.2.10:80 reported an error (GetStreamUri): Configuration token does not exist"
    )


def test_driver_errors_pass_through_and_unknown_ones_stay_readable():
    mine = UnsupportedError("already typed")
    assert translate(mine, WHERE) is mine
    err = translate(RuntimeError("boom at rtsp://admin:hunter2@192.0.2.10/live"), WHERE)
    assert type(err) is DriverError and "boom" in str(err) and "hunter2" not in str(err)


@given(
    password=st.text(
        alphabet=st.characters(categories=("L", "N"), include_characters="-_.!~*"), min_size=6, max_size=30
    )
)
@example(password="camera")  # a word of the message itself (found by a CI run)
def test_no_password_from_any_url_reaches_a_message(password):
    """The password shows no more often than in the same message about a password that is not in
    the alphabet (so a password like "camera", which the message's own words contain, still counts)."""
    templates = (
        "failed: rtsp://admin:{}@192.0.2.10:554/live",
        "failed: http://192.0.2.10/snap.jpg?user=admin&password={}",
        "failed: http://192.0.2.10/cgi?usr=admin&pwd={}&x=1",
    )
    for template in templates:
        text, neutral = template.format(password), template.format("\x00")
        for make in (zeep.exceptions.Fault, RuntimeError, lambda t: _wrapped(RuntimeError(t))):
            shown = str(translate(make(text), WHERE, has_credentials=True))
            baseline = str(translate(make(neutral), WHERE, has_credentials=True))
            assert shown.count(password) == baseline.count(password), shown
        assert redact(text).count(password) == redact(neutral).count(password)


# --- stream roles ---------------------------------------------------------------------------------


def _p(token, enc="H264", w=1920, h=1080, fps=15.0, kbps=None, uri=True) -> MediaProfile:
    return MediaProfile(
        token=token,
        name=token,
        encoding=enc,
        width=w,
        height=h,
        fps=fps,
        bitrate_kbps=kbps,
        stream_uri=f"rtsp://192.0.2.10/{token}" if uri else None,
    )


def test_largest_records_smallest_detects_in_any_order():
    main, sub, third = _p("main"), _p("sub", w=640, h=360), _p("third", w=1280, h=720)
    assert choose_roles([main, sub, third]) == ("main", "sub")
    assert choose_roles([sub, third, main]) == ("main", "sub")


def test_one_profile_records_and_nothing_detects():
    assert choose_roles([_p("only")]) == ("only", None)


def test_ties_prefer_fps_then_bitrate_then_h264_then_device_order():
    assert choose_roles([_p("a", fps=10), _p("b", fps=25)]) == ("b", None)
    assert choose_roles([_p("a", kbps=2000), _p("b", kbps=4000)]) == ("b", None)
    assert choose_roles([_p("hevc", enc="H265"), _p("avc")]) == ("avc", None)
    assert choose_roles([_p("first"), _p("second")]) == ("first", None)
    # two equally small sub streams: the one with more frames per second detects
    small = [_p("s1", w=640, h=360, fps=5), _p("s2", w=640, h=360, fps=10)]
    assert choose_roles([_p("main"), *small]) == ("main", "s2")


def test_non_recordable_profiles_are_ignored():
    profiles = [_p("mjpeg", enc="JPEG", w=3840, h=2160), _p("main", w=1280, h=720), _p("nouri", uri=False)]
    assert choose_roles(profiles) == ("main", None)


def test_only_mjpeg_is_unsupported_with_the_encodings_named():
    with pytest.raises(UnsupportedError) as info:
        choose_roles([_p("a", enc="JPEG"), _p("b", enc="MPEG4", w=640, h=480)], WHERE)
    assert str(info.value) == (
        "The camera at 192.0.2.10:80 offers only MJPEG, MPEG-4 video, which Porchlight "
        "cannot record: switch its streams to H.264 in the camera's settings"
    )


def test_h265_only_says_to_add_it_by_url():
    with pytest.raises(UnsupportedError) as info:
        choose_roles([_p("a", enc="H265", uri=False)], WHERE)
    assert str(info.value) == f"The camera at 192.0.2.10:80 {H265_ONLY}"
    assert "only H.265" in str(info.value) and "--url" in str(info.value)
    with pytest.raises(UnsupportedError, match="only H.265"):
        choose_roles([], WHERE, media2=True)  # video only through Media2
    # H.265 with a stream address (some cameras list it in Media1) records like H.264
    assert choose_roles([_p("a", enc="H265"), _p("b", enc="H265", w=640, h=360)]) == ("a", "b")


def test_no_profiles_and_no_stream_address_are_explained():
    with pytest.raises(UnsupportedError, match="offers no video profiles"):
        choose_roles([], WHERE)
    with pytest.raises(UnsupportedError, match=r"no stream address \(GetStreamUri\)"):
        choose_roles([_p("a", uri=False), _p("b", enc="JPEG")], WHERE)


# --- URIs and addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "clean", "had"),
    [
        (
            "rtsp://192.0.2.10:554/Streaming/Channels/101",
            "rtsp://192.0.2.10:554/Streaming/Channels/101",
            False,
        ),
        ("rtsp://admin:s3cret@192.0.2.10:554/live", "rtsp://192.0.2.10:554/live", True),
        (
            "rtsp://192.0.2.10/cam/realmonitor?channel=1&subtype=0&user=admin&password=s3cret",
            "rtsp://192.0.2.10/cam/realmonitor?channel=1&subtype=0",
            True,
        ),
        (
            "http://192.0.2.10:80:80/snapshot.cgi?usr=admin&pwd=s3cret",
            "http://192.0.2.10:80/snapshot.cgi",
            True,
        ),
        ("", None, False),
    ],
)
def test_clean_uri(uri, clean, had):
    assert clean_uri(uri) == (clean, had)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.10", ("192.0.2.10", 80)),
        ("192.0.2.10:8080", ("192.0.2.10", 8080)),
        ("[2001:db8::1]:8000", ("2001:db8::1", 8000)),
        ("cam.local", ("cam.local", 80)),
        ("http://192.0.2.10:2020/onvif/device_service", ("192.0.2.10", 2020)),
    ],
)
def test_split_host(text, expected):
    assert split_host(text) == expected


@pytest.mark.parametrize("text", ["", "192.0.2.10:port", "http://"])
def test_split_host_rejects_nonsense(text):
    with pytest.raises(UnsupportedError):
        split_host(text)


# --- event topics -----------------------------------------------------------------------------------

# Written for this test in the shape of the ONVIF Core spec's TopicSet (topic elements flagged with
# wstop:topic, MessageDescription children describing the payload, a vendor namespace alongside).
TOPIC_SET = b"""<wstop:TopicSet xmlns:wstop="http://docs.oasis-open.org/wsn/t-1"
    xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tt="http://www.onvif.org/ver10/schema"
    xmlns:tnsvendor="http://example.com/topics">
  <tns1:RuleEngine>
    <CellMotionDetector><Motion wstop:topic="true"><tt:MessageDescription IsProperty="true">
      <tt:Data><tt:SimpleItemDescription Name="IsMotion" Type="xs:boolean"/></tt:Data>
    </tt:MessageDescription></Motion></CellMotionDetector>
  </tns1:RuleEngine>
  <tns1:VideoSource><MotionAlarm wstop:topic="true"/></tns1:VideoSource>
  <tns1:Device><Trigger><DigitalInput wstop:topic="true"/></Trigger>
    <tnsvendor:Sensor><PIR wstop:topic="true"/></tnsvendor:Sensor></tns1:Device>
  <tnsvendor:Doorbell><Pressed/></tnsvendor:Doorbell>
</wstop:TopicSet>"""


def test_flatten_topics():
    root = etree.fromstring(TOPIC_SET)
    assert flatten_topics(list(root)) == (
        "tns1:RuleEngine/CellMotionDetector/Motion",
        "tns1:VideoSource/MotionAlarm",
        "tns1:Device/Trigger/DigitalInput",
        "tns1:Device/tnsvendor:Sensor/PIR",
        "tnsvendor:Doorbell/Pressed",
    )
    assert len(flatten_topics(list(root), limit=2)) == 2
    assert flatten_topics(None) == ()
