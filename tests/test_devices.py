"""Devices before they are cameras (hub.devices): a real RTSP camera described through the registry,
driver errors leaving as the hub's own (a refused password is an AuthError, anything else a
DeviceError), and discovery that asks every driver and reports the ones that could not look.

Discovery here only ever asks one loopback address, or drivers written for the test: the network-wide
probe runs in the namespace suite (tests/netns/test_discovery.py).
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from drivers import registry
from drivers.base import BaseDriver, Credentials, DiscoveredDevice, UnreachableError
from hub import devices
from hub.core.errors import AuthError, DeviceError, HubError
from tests.support.clips import ClipSpec
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli

SPEC = ClipSpec(seconds=20, passages=())


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.rtsp
def test_a_real_stream_is_described_with_both_of_its_streams(rtsp_camera):
    cam = rtsp_camera(SPEC)
    main = devices.describe("rtsp", {}, url=cam.url)
    sub = devices.describe("rtsp", {}, url=cam.sub_url)
    assert [(s.codec, s.width, s.height) for s in main.streams] == [("h264", SPEC.width, SPEC.height)]
    assert [(s.codec, s.width, s.height) for s in sub.streams] == [
        ("h264", SPEC.width // 2, SPEC.height // 2)
    ]
    # a plain stream has no named profiles, roles, events or clock of its own
    assert (main.profiles, dict(main.roles), main.events, main.clock_offset_s) == ((), {}, False, None)


@pytest.mark.rtsp
def test_a_refused_password_is_the_hubs_auth_error_and_never_echoed(rtsp_camera):
    cam = rtsp_camera(SPEC, user="admin", password="right-password")
    with pytest.raises(AuthError) as wrong:
        devices.describe("rtsp", {}, Credentials("admin", "not-the-password"), url=cam.url)
    assert isinstance(wrong.value, DeviceError) and isinstance(wrong.value, HubError)
    assert "refused the username or password" in str(wrong.value)
    assert "not-the-password" not in str(wrong.value)
    with pytest.raises(AuthError, match="requires a username and password"):
        devices.describe("rtsp", {}, url=cam.url)
    right = devices.describe("rtsp", {}, Credentials("admin", "right-password"), url=cam.url)
    assert [s.codec for s in right.streams] == ["h264"]
    assert all("right-password" not in (s.url or "") for s in right.streams)


def test_nothing_listening_is_a_device_error_not_an_auth_error():
    port = _free_port()
    with pytest.raises(DeviceError) as err:
        devices.describe("rtsp", {}, url=f"rtsp://127.0.0.1:{port}/stream")
    assert not isinstance(err.value, AuthError)
    assert err.value.__cause__ is None  # the driver's message, not its traceback, is what leaves
    assert f"127.0.0.1:{port}" in str(err.value)


def test_an_unknown_driver_is_a_device_error_naming_the_known_ones():
    with pytest.raises(DeviceError) as err:
        devices.describe("lidar", {})
    for kind in registry.KINDS:
        assert kind in str(err.value)


def test_asking_one_address_where_nobody_answers_finds_nothing_within_the_timeout():
    t0 = time.monotonic()
    found, problems = devices.discover(0.5, f"127.0.0.1:{_free_port(socket.SOCK_DGRAM)}")
    elapsed = time.monotonic() - t0
    assert (found, problems) == ([], [])
    assert elapsed < 5, elapsed


def test_an_address_that_is_not_one_is_reported_by_the_driver_that_read_it():
    found, problems = devices.discover(0.5, "a:b:c")
    assert found == []
    assert problems == [
        "onvif devices could not be listed: not a valid camera address: 'a:b:c' (expected host or host:port)"
    ]


def test_the_cli_says_so_in_one_line():
    result = run_cli(None, "discover", "--host", "a:b:c", "--timeout", "0.5")
    assert_one_line_error(result, "not a valid camera address", "'a:b:c'")


def test_discovery_makes_no_data_dir(tmp_path):
    """Discovering needs no index: the command leaves no data dir behind."""
    data = tmp_path / "never-made"
    result = run_cli(data, "discover", "--host", "127.0.0.1:9", "--timeout", "0.2", "--json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)
    assert not data.exists()


# --- one driver failing does not hide the others' devices (drivers written for the test) ---------


class EchoDriver(BaseDriver):
    """Finds one device, named after the address it was asked (or 'here')."""

    kind = "echo"
    title = "Echo camera"

    def discover(self, timeout_s: float, address: str | None = None) -> list[DiscoveredDevice]:
        return [DiscoveredDevice(kind="echo", name=address or "here")]


class BrokenDriver(BaseDriver):
    """Cannot look at all."""

    kind = "broken"
    title = "Broken camera"

    def discover(self, timeout_s: float, address: str | None = None) -> list[DiscoveredDevice]:
        raise UnreachableError("the bus is unplugged")


@pytest.fixture
def test_drivers(monkeypatch):
    """The registry with only the drivers above and one whose module is missing (no network)."""
    entries = (
        registry.DriverEntry("broken", __name__, "BrokenDriver"),
        registry.DriverEntry("ghost", "drivers.no_such_module", "GhostDriver"),
        registry.DriverEntry("echo", __name__, "EchoDriver"),
    )
    monkeypatch.setattr(registry, "DRIVERS", entries)
    monkeypatch.setattr(registry, "KINDS", tuple(e.kind for e in entries))
    monkeypatch.setattr(registry, "_loaded", {})


def test_one_driver_failing_to_look_does_not_hide_the_others(test_drivers):
    found, problems = devices.discover(0.1)
    assert [(d.kind, d.name) for d in found] == [("echo", "here")]
    assert problems == [
        "broken devices could not be listed: the bus is unplugged",
        "ghost devices could not be listed: the 'ghost' camera driver cannot be loaded: "
        "No module named 'drivers.no_such_module'",
    ]
    found, _ = devices.discover(0.1, "porch.example")  # handed to each driver; nothing is sent
    assert [d.name for d in found] == ["porch.example"]


@pytest.mark.rtsp
def test_cameras_probe_lists_the_main_and_sub_stream_of_a_url_camera(rtsp_camera, tmp_path):
    """``cameras probe --json`` for a camera without profiles: each of its URLs, with its role."""
    cam = rtsp_camera(SPEC)
    data = tmp_path / "data"
    ok(run_cli(data, "cameras", "add", "Porch", "--url", cam.url, "--sub-url", cam.sub_url))
    probe = cli_json(data, "cameras", "probe", "Porch")
    assert [(s["url"], s["codec"], s["width"], s["height"], s["role"]) for s in probe["streams"]] == [
        (cam.url, "h264", SPEC.width, SPEC.height, "record"),
        (cam.sub_url, "h264", SPEC.width // 2, SPEC.height // 2, "detect"),
    ]
