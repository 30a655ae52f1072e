"""The ONVIF probe against ipycam (a real ONVIF device) and against ports that refuse or stay silent.

Runs inside the loopback-only namespace (scripts/netns-run.sh). Every call is timed: it must end
within its own timeout, and the timings are printed (``-s``) for the record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import http.server
import socket
import threading
import time
import traceback
import types
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.base import AuthError, Credentials, StreamRequest, UnreachableError, UnsupportedError
from drivers.onvif import device as onvif_device
from drivers.onvif import loop
from drivers.onvif.device import device_needs_auth, probe_device
from drivers.onvif.driver import OnvifDriver
from drivers.registry import get_driver

PASSWORD = "Porch-Light_42"
RIGHT = Credentials("admin", PASSWORD)


@pytest.fixture(autouse=True)
def _stop_onvif_loop(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Stop the ONVIF loop thread after each test and fail on any aiohttp session left unclosed."""
    yield
    loop.shutdown()
    gc.collect()  # aiohttp reports an unclosed session when it is collected (logger "asyncio")
    leaks = [
        r.getMessage() for r in caplog.get_records("call") + caplog.records if "nclosed" in r.getMessage()
    ]
    assert not leaks, leaks


def timed(label: str, fn: Callable[[], Any], limit_s: float) -> tuple[Any, float]:
    """Run ``fn``; return (result or the exception it raised, seconds); fail beyond ``limit_s``."""
    t0 = time.monotonic()
    try:
        result: Any = fn()
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        result = exc
    elapsed = time.monotonic() - t0
    print(f"TIMING {label}: {elapsed:.3f} s (limit {limit_s:g} s) -> {type(result).__name__}")
    assert elapsed <= limit_s, f"{label} took {elapsed:.2f} s, more than its {limit_s:g} s timeout"
    return result, elapsed


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_ipycam(ipycam):
    device, _ = timed(
        "probe_device (no auth)", lambda: probe_device("127.0.0.1", 8080, None, timeout_s=10), 10
    )
    assert not isinstance(device, Exception), device
    assert (device.manufacturer, device.model, device.firmware, device.serial, device.hardware_id) == (
        "PythonCam",
        "VirtualCam-1",
        "1.3.0",
        "PY-000001",
        "PY-HW-01",
    )
    assert device.host == "127.0.0.1:8080" and device.xaddr == "http://127.0.0.1:8080/onvif/device_service"
    main, sub = device.profiles
    assert (main.token, main.encoding, main.width, main.height, main.fps, main.bitrate_kbps) == (
        "Profile_Main",
        "H264",
        640,
        360,
        10.0,
        1000,
    )
    assert (sub.token, sub.encoding, sub.width, sub.height, sub.fps, sub.bitrate_kbps) == (
        "Profile_Sub",
        "H264",
        320,
        180,
        10.0,
        300,
    )
    assert (device.record_profile, device.detect_profile) == ("Profile_Main", "Profile_Sub")
    assert main.stream_uri == "rtsp://127.0.0.1:8554/video_main"
    assert sub.stream_uri == "rtsp://127.0.0.1:8554/video_sub"
    assert main.snapshot_uri == "http://127.0.0.1:8080/snapshot.jpg"
    assert device.clock_offset_s is not None and abs(device.clock_offset_s) < 1.5, device.clock_offset_s
    assert not device.events_supported and device.event_topics == () and not device.doorbell
    assert device.warnings == ()
    with urllib.request.urlopen(main.snapshot_uri, timeout=10) as reply:  # ipycam without auth: open
        assert reply.read(3) == b"\xff\xd8\xff"  # a JPEG

    needs, _ = timed("device_needs_auth (no auth)", lambda: device_needs_auth("127.0.0.1", 8080, 5), 5)
    assert needs is False


def test_driver_probe_and_streams_open_with_pyav(ipycam):
    driver = get_driver("onvif")
    assert isinstance(driver, OnvifDriver) and driver.kind == "onvif"
    result, _ = timed(
        "OnvifDriver.probe",
        lambda: driver.probe(StreamRequest(url=None, options={"host": "127.0.0.1:8080"}, open_timeout_s=10)),
        10,
    )
    assert [(s.url, s.codec, s.width, s.height, s.fps) for s in result.streams] == [
        ("rtsp://127.0.0.1:8554/video_main", "h264", 640, 360, 10.0),
        ("rtsp://127.0.0.1:8554/video_sub", "h264", 320, 180, 10.0),
    ]
    assert (result.manufacturer, result.model) == ("PythonCam", "VirtualCam-1")
    # the description carries what a camera made from it needs: roles, profiles, clock, events
    assert result.address == "127.0.0.1:8080"
    record, detect = result.profile("record"), result.profile("detect")
    assert (
        record
        and detect
        and (record.stream_uri, detect.stream_uri)
        == (
            "rtsp://127.0.0.1:8554/video_main",
            "rtsp://127.0.0.1:8554/video_sub",
        )
    )
    assert {p.token for p in result.profiles} >= {record.token, detect.token}
    assert result.clock_offset_s is not None and abs(result.clock_offset_s) < 5
    assert result.settings["host"] == "127.0.0.1:8080"
    assert result.settings["record_profile"] == record.token
    assert result.settings["detect_profile"] == detect.token
    assert result.settings["events_supported"] is result.events
    assert all(v is not None for v in result.settings.values())
    # a camera that stored its own choice of profiles gets those roles back
    swapped = driver.probe(
        StreamRequest(
            url=None,
            options={"host": "127.0.0.1:8080", "record_profile": detect.token},
            open_timeout_s=10,
        )
    )
    assert dict(swapped.roles) == {"record": detect.token}
    assert swapped.role_of(record.token) is None

    # the stored URI (record role) ...
    src, _ = timed(
        "open_stream (record URI)",
        lambda: driver.open_stream(
            StreamRequest(url=result.streams[0].url, want_audio=False, open_timeout_s=20, read_timeout_s=10)
        ),
        20,
    )
    try:
        packets = [p for p, _ in zip(src.packets(), range(10), strict=False)]
        assert len(packets) == 10 and src.video.codec_context.width == 640
    finally:
        src.close()
    # ... and no URI at all: the driver probes and opens the detect profile
    src, _ = timed(
        "open_stream (probe, detect)",
        lambda: driver.open_stream(
            StreamRequest(
                url=None,
                role="detect",
                want_audio=False,
                open_timeout_s=20,
                read_timeout_s=10,
                options={"host": "127.0.0.1:8080"},
            )
        ),
        30,
    )
    try:
        packets = [p for p, _ in zip(src.packets(), range(10), strict=False)]
        assert len(packets) == 10 and src.video.codec_context.width == 320
    finally:
        src.close()


def test_auth(ipycam_auth):
    device, _ = timed(
        "probe_device (right password)", lambda: probe_device("127.0.0.1", 8080, RIGHT, timeout_s=10), 10
    )
    assert not isinstance(device, Exception), device
    assert (device.record_profile, device.detect_profile) == ("Profile_Main", "Profile_Sub")
    assert all("@" not in (p.stream_uri or "") for p in device.profiles)
    # ipycam demands credentials even for GetSystemDateAndTime: the clock comes from HTTP Date
    assert device.clock_offset_s is not None and abs(device.clock_offset_s) < 1.5

    wrong = Credentials("admin", "Wrong-Pass_99")
    err, _ = timed(
        "probe_device (wrong password)", lambda: probe_device("127.0.0.1", 8080, wrong, timeout_s=10), 10
    )
    assert isinstance(err, AuthError)
    assert str(err) == "The camera at 127.0.0.1:8080 refused the username or password"
    text = "".join(traceback.format_exception(err))
    assert "Wrong-Pass_99" not in text and PASSWORD not in text
    assert err.__cause__ is None and err.__context__ is None

    err, _ = timed(
        "probe_device (no credentials)", lambda: probe_device("127.0.0.1", 8080, None, timeout_s=10), 10
    )
    assert isinstance(err, AuthError)
    assert str(err) == "The camera at 127.0.0.1:8080 requires a username and password"

    needs, _ = timed("device_needs_auth (auth)", lambda: device_needs_auth("127.0.0.1", 8080, 5), 5)
    assert needs is True


def test_refused_port_is_unreachable_at_once():
    port = free_port()
    err, elapsed = timed(
        "probe_device (refused)", lambda: probe_device("127.0.0.1", port, None, timeout_s=5), 5
    )
    assert isinstance(err, UnreachableError)
    assert str(err) == f"The camera at 127.0.0.1:{port} refused the connection (nothing listens on that port)"
    assert elapsed < 1.0
    err, _ = timed("device_needs_auth (refused)", lambda: device_needs_auth("127.0.0.1", port, 5), 5)
    assert isinstance(err, UnreachableError)


def test_silent_port_is_unreachable_within_the_timeout():
    with silent_port() as port:
        err, elapsed = timed(
            "probe_device (silent, 2 s)", lambda: probe_device("127.0.0.1", port, RIGHT, timeout_s=2), 2.5
        )
        assert isinstance(err, UnreachableError)
        assert str(err) == f"The camera at 127.0.0.1:{port} did not answer within 2 s (GetSystemDateAndTime)"
        assert elapsed >= 1.9
        err, _ = timed(
            "device_needs_auth (silent, 1.5 s)", lambda: device_needs_auth("127.0.0.1", port, 1.5), 2.0
        )
        assert isinstance(err, UnreachableError)
        err, _ = timed(
            "OnvifDriver.probe (silent, 2 s)",
            lambda: OnvifDriver().probe(
                StreamRequest(
                    url=None, credentials=RIGHT, options={"host": f"127.0.0.1:{port}"}, open_timeout_s=2
                )
            ),
            2.5,
        )
        assert isinstance(err, UnreachableError)


def test_a_web_server_that_is_not_onvif_is_unsupported():
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        err, _ = timed(
            "probe_device (HTTP 404)", lambda: probe_device("127.0.0.1", port, None, timeout_s=5), 5
        )
        assert isinstance(err, UnsupportedError)
        assert str(err) == (
            f"The camera at 127.0.0.1:{port} answered (GetDeviceInformation) with something "
            "that is not ONVIF (SOAP): is this the camera's ONVIF port?"
        )
    finally:
        server.shutdown()
        server.server_close()


def test_clock_skew_is_compensated(ipycam_auth, monkeypatch):
    """The host's clock runs 10 minutes behind the camera's (ipycam accepts 5 minutes of skew).

    ipycam's clock is the host's, so the skew is made on the host side: the clock the probe
    measures the offset with, and the clock onvif-zeep-async stamps WS-UsernameToken with.
    """
    import onvif.client

    shift = dt.timedelta(minutes=-10)

    class BehindDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return dt.datetime.now(tz) + shift

    monkeypatch.setattr(
        onvif.client,
        "dt",
        types.SimpleNamespace(datetime=BehindDatetime, timezone=dt.timezone, timedelta=dt.timedelta),
    )

    def behind() -> float:
        return time.time() + shift.total_seconds()

    # Control: without compensation the skewed token is refused ...
    monkeypatch.setattr(onvif_device, "CLOCK_COMPENSATE_S", float("inf"))
    err, _ = timed(
        "probe_device (skew, uncompensated)",
        lambda: probe_device("127.0.0.1", 8080, RIGHT, timeout_s=10, clock=behind),
        10,
    )
    assert isinstance(err, AuthError), err
    # ... with it, the same credentials work and the owner is told to fix the clock.
    monkeypatch.setattr(onvif_device, "CLOCK_COMPENSATE_S", 2.0)
    device, _ = timed(
        "probe_device (skew, compensated)",
        lambda: probe_device("127.0.0.1", 8080, RIGHT, timeout_s=10, clock=behind),
        10,
    )
    assert not isinstance(device, Exception), device
    assert device.clock_offset_s is not None and abs(device.clock_offset_s - 600) < 1.5, device.clock_offset_s
    assert (
        "the camera's clock is 10 minutes off (ahead of this computer): set NTP on the camera"
        in device.warnings
    )
    assert device.record_profile == "Profile_Main"


# --- A scripted device for what ipycam cannot show -------------------------------------------------
# ipycam has no events, no Media2, a correct clock and clean URIs. This small SOAP responder (replies
# written for this test, in the shapes of the ONVIF Core/Media specs) has a clock of its own, checks
# WS-UsernameToken digests and their freshness like a strict camera (60 s, GetSystemDateAndTime
# exempt as the spec says), and puts credentials into the URIs it hands out, as some cameras do.

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:ter="http://www.onvif.org/ver10/error"><s:Body>{}</s:Body></s:Envelope>'
)
NOT_AUTHORIZED = (
    "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value>"
    '</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not Authorized</s:Text></s:Reason>'
    "</s:Fault>"
)
STUB_PASSWORD = "Stub-Pass_7"
TOPICS = (
    '<wstop:TopicSet><tns1:RuleEngine><CellMotionDetector><Motion wstop:topic="true"/></CellMotionDetector>'
    '<MyRuleDetector><Visitor wstop:topic="true"/></MyRuleDetector></tns1:RuleEngine>'
    '<tns1:VideoSource><MotionAlarm wstop:topic="true"/></tns1:VideoSource></wstop:TopicSet>'
)


def vec(encoding: str, width: int, height: int) -> str:
    return (
        f'<tt:VideoEncoderConfiguration token="vec_{width}"><tt:Name>v</tt:Name><tt:UseCount>1</tt:UseCount>'
        f"<tt:Encoding>{encoding}</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width>"
        f"<tt:Height>{height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality><tt:RateControl>"
        "<tt:FrameRateLimit>15</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>"
        "<tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl></tt:VideoEncoderConfiguration>"
    )


def profile(token: str, encoder: str = "") -> str:
    return f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>{encoder}</trt:Profiles>'


class StubCamera:
    """The scripted device on 127.0.0.1 (a random port), in a thread."""

    def __init__(
        self, profiles: str, *, clock_shift_s: float = 0.0, media2: bool = False, events: bool | str = False
    ):
        self.profiles, self.clock_shift_s, self.media2, self.events = profiles, clock_shift_s, media2, events
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:
                return super().date_time_string(time.time() + stub.clock_shift_s)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                status, reply = stub.answer(body)
                data = ENVELOPE.format(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def authorized(self, body: str) -> bool:
        import base64
        import hashlib
        import re

        def field(tag: str) -> str:
            match = re.search(rf"<(?:\w+:)?{tag}\b[^>]*>([^<]*)<", body)
            return match.group(1) if match else ""

        created, nonce = field("Created"), field("Nonce")
        if not created or not nonce:
            return False
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        if abs(when - (time.time() + self.clock_shift_s)) > 60:
            return False
        digest = base64.b64encode(
            hashlib.sha1(base64.b64decode(nonce) + created.encode() + STUB_PASSWORD.encode()).digest()
        ).decode()
        return field("Username") == "admin" and field("Password") == digest

    def answer(self, body: str) -> tuple[int, str]:
        if "GetSystemDateAndTime" in body:
            now = dt.datetime.fromtimestamp(time.time() + self.clock_shift_s, dt.UTC)
            return 200, (
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual"
                "</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time>"
                f"<tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}"
                f"</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}"
                f"</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
            )
        if not self.authorized(body):
            return 400, NOT_AUTHORIZED
        base = f"http://127.0.0.1:{self.port}/onvif"
        token = next((t for t in ("main", "sub", "jpeg") if f">{t}<" in body), "main")
        if "GetDeviceInformation" in body:
            return 200, (
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>Stub</tds:Manufacturer><tds:Model>"
                "Quirky-1</tds:Model><tds:FirmwareVersion>0.1</tds:FirmwareVersion><tds:SerialNumber>S1"
                "</tds:SerialNumber><tds:HardwareId>H1</tds:HardwareId></tds:GetDeviceInformationResponse>"
            )
        if "GetServices" in body:
            services = [
                ("http://www.onvif.org/ver10/device/wsdl", "device_service"),
                ("http://www.onvif.org/ver10/media/wsdl", "media_service"),
            ]
            services += [("http://www.onvif.org/ver20/media/wsdl", "media2_service")] if self.media2 else []
            services += [("http://www.onvif.org/ver10/events/wsdl", "event_service")] if self.events else []
            return 200, "<tds:GetServicesResponse>{}</tds:GetServicesResponse>".format(
                "".join(
                    f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}/{path}</tds:XAddr><tds:Version>"
                    "<tt:Major>2</tt:Major><tt:Minor>6</tt:Minor></tds:Version></tds:Service>"
                    for ns, path in services
                )
            )
        if "GetProfiles" in body:
            return 200, f"<trt:GetProfilesResponse>{self.profiles}</trt:GetProfilesResponse>"
        if "GetStreamUri" in body:  # credentials in the URI, as some cameras do
            uri = (
                f"rtsp://admin:{STUB_PASSWORD}@127.0.0.1:8554/{token}?channel=1&amp;password={STUB_PASSWORD}"
            )
            return 200, (
                f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri><tt:InvalidAfterConnect>"
                "false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
            )
        if "GetSnapshotUri" in body:
            uri = f"http://127.0.0.1:{self.port}/snap/{token}.jpg?user=admin&amp;pwd={STUB_PASSWORD}"
            return 200, (
                f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri><tt:InvalidAfterConnect>"
                "false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>"
            )
        if "GetEventProperties" in body and self.events == "stall":
            time.sleep(5)  # a camera whose event service hangs
        if "GetEventProperties" in body and self.events:
            return 200, (
                "<tev:GetEventPropertiesResponse><tev:TopicNamespaceLocation>"
                "http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>"
                f"<wsnt:FixedTopicSet xmlns:wsnt='http://docs.oasis-open.org/wsn/b-2'>true</wsnt:FixedTopicSet>"
                f"{TOPICS}<wstop:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/"
                "ConcreteSet</wstop:TopicExpressionDialect></tev:GetEventPropertiesResponse>"
            )
        return 400, (
            '<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang="en">'
            "Action not supported</s:Text></s:Reason></s:Fault>"
        )


@pytest.fixture
def stub_camera() -> Iterator[Callable[..., StubCamera]]:
    made: list[StubCamera] = []

    def make(profiles: str, **kwargs: Any) -> StubCamera:
        made.append(StubCamera(profiles, **kwargs))
        return made[-1]

    yield make
    for cam in made:
        cam.close()


STUB_PROFILES = (
    profile("main", vec("H264", 1920, 1080))
    + profile("sub", vec("H264", 640, 360))
    + profile("jpeg", vec("JPEG", 1280, 720))
)
STUB_CREDS = Credentials("admin", STUB_PASSWORD)


def test_camera_clock_an_hour_ahead_credentials_in_uris_events(stub_camera, monkeypatch):
    cam = stub_camera(STUB_PROFILES, clock_shift_s=3600, media2=True, events=True)
    monkeypatch.setattr(onvif_device, "CLOCK_COMPENSATE_S", float("inf"))  # control: no compensation
    err, _ = timed(
        "probe_device (device 1 h ahead, uncompensated)",
        lambda: probe_device("127.0.0.1", cam.port, STUB_CREDS, timeout_s=10),
        10,
    )
    assert isinstance(err, AuthError) and "refused the username or password" in str(err)
    monkeypatch.setattr(onvif_device, "CLOCK_COMPENSATE_S", 2.0)
    device, _ = timed(
        "probe_device (device 1 h ahead)",
        lambda: probe_device("127.0.0.1", cam.port, STUB_CREDS, timeout_s=10),
        10,
    )
    assert not isinstance(device, Exception), device
    assert abs(device.clock_offset_s - 3600) < 1.5, device.clock_offset_s
    assert (device.manufacturer, device.model) == ("Stub", "Quirky-1")
    assert [(p.token, p.encoding, p.width, p.recordable) for p in device.profiles] == [
        ("main", "H264", 1920, True),
        ("sub", "H264", 640, True),
        ("jpeg", "JPEG", 1280, False),
    ]
    assert (device.record_profile, device.detect_profile) == ("main", "sub")
    assert device.profiles[0].stream_uri == "rtsp://127.0.0.1:8554/main?channel=1"
    assert device.profiles[1].snapshot_uri == f"http://127.0.0.1:{cam.port}/snap/sub.jpg"
    assert STUB_PASSWORD not in repr(device)
    assert device.events_supported
    assert device.event_topics == (
        "tns1:RuleEngine/CellMotionDetector/Motion",
        "tns1:RuleEngine/MyRuleDetector/Visitor",
        "tns1:VideoSource/MotionAlarm",
    )
    assert device.doorbell  # the Reolink visitor topic (drivers.onvif.topics)
    assert device.warnings[0] == (
        "the camera's clock is 60 minutes off (ahead of this computer): set NTP on the camera"
    )
    assert any("removed them" in w for w in device.warnings)
    assert any("Media2" in w for w in device.warnings)


def test_camera_with_only_media2_video_is_h265_only(stub_camera):
    cam = stub_camera(profile("main") + profile("sub"), media2=True)  # Media1 profiles without video
    err, _ = timed("probe_device (Media2 only)", lambda: probe_device("127.0.0.1", cam.port, STUB_CREDS), 10)
    assert isinstance(err, UnsupportedError)
    assert str(err) == (
        f"The camera at 127.0.0.1:{cam.port} offers only H.265, which Porchlight can record "
        "from its RTSP URL but not yet set up through ONVIF: add it with --url"
    )


def test_camera_with_only_mjpeg_is_unsupported(stub_camera):
    cam = stub_camera(profile("jpeg", vec("JPEG", 1280, 720)))
    err, _ = timed("probe_device (MJPEG only)", lambda: probe_device("127.0.0.1", cam.port, STUB_CREDS), 10)
    assert isinstance(err, UnsupportedError)
    assert "offers only MJPEG video, which Porchlight cannot record" in str(err)


def test_a_stalling_event_service_costs_a_warning_not_the_probe(stub_camera):
    cam = stub_camera(STUB_PROFILES, events="stall")
    device, elapsed = timed(
        "probe_device (events stall, 3 s)",
        lambda: probe_device("127.0.0.1", cam.port, STUB_CREDS, timeout_s=3),
        3,
    )
    assert not isinstance(device, Exception), device
    assert device.events_supported and device.event_topics == () and elapsed < 2.0
    assert "the camera did not list its events: motion and doorbell events may not work" in device.warnings
