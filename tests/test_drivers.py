"""Drivers describe themselves: the registry finds each by kind, every driver meets the whole protocol,
camera events are part of it, and a camera whose driver this build lacks is shown offline while the
others record (a real hub on a real index)."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from drivers import registry
from drivers.base import BaseDriver, Credentials, Driver, UnsupportedError
from drivers.onvif import loop as onvif_loop
from hub.db.engine import open_engine
from tests.support.hubtools import camera, configure, segments, start_hub, state_of, wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The members every driver must have: the Protocol's methods and class attributes.
PROTOCOL_MEMBERS = sorted({n for n in vars(Driver) if not n.startswith("_")} | set(Driver.__annotations__))


def _ignore(*_args: object) -> None:
    pass


@pytest.mark.parametrize("kind", registry.KINDS)
def test_each_registered_driver_loads_and_meets_the_protocol(kind):
    driver = registry.get_driver(kind)
    assert driver.kind == kind
    assert driver.title and driver.title[0].isupper()
    missing = [m for m in PROTOCOL_MEMBERS if not hasattr(driver, m)]
    assert not missing, f"{type(driver).__name__} lacks {missing}"
    assert registry.get_driver(kind) is driver  # one instance serves every camera


def test_protocol_members_are_the_ones_the_hub_uses():
    """The list above is read from the Protocol, so it cannot silently be empty."""
    assert {"kind", "title", "discover", "probe", "open_stream", "has_events", "open_events", "close"} <= set(
        PROTOCOL_MEMBERS
    )


def test_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(UnsupportedError) as err:
        registry.get_driver("lidar")
    assert "'lidar'" in str(err.value)
    for kind in registry.KINDS:
        assert kind in str(err.value)


def test_a_driver_whose_library_is_missing_is_unsupported(monkeypatch):
    entry = registry.DriverEntry("ghost", "drivers.no_such_module", "GhostDriver")
    monkeypatch.setattr(registry, "DRIVERS", (*registry.DRIVERS, entry))
    with pytest.raises(UnsupportedError, match="'ghost' camera driver cannot be loaded"):
        registry.get_driver("ghost")


@pytest.mark.parametrize("kind", [k for k in registry.KINDS if k != "onvif"])
def test_drivers_without_events_say_so_and_refuse_to_subscribe(kind):
    driver = registry.get_driver(kind)
    assert isinstance(driver, BaseDriver)
    assert not driver.has_events({"host": "127.0.0.1:80"})
    with pytest.raises(UnsupportedError, match="no events of their own"):
        driver.open_events({}, None, _ignore, _ignore)


def test_onvif_events_need_the_device_address_and_do_no_io_until_started():
    driver = registry.get_driver("onvif")
    assert not driver.has_events({})
    assert driver.has_events({"host": "127.0.0.1:8080"})
    with pytest.raises(UnsupportedError, match="address is not known"):
        driver.open_events({}, None, _ignore, _ignore)
    with pytest.raises(UnsupportedError, match="clock offset"):
        driver.open_events({"host": "127.0.0.1:8080", "clock_offset_s": "soon"}, None, _ignore, _ignore)
    with pytest.raises(UnsupportedError, match="clock offset"):
        driver.open_events({"host": "127.0.0.1:8080", "clock_offset_s": "nan"}, None, _ignore, _ignore)
    creds = Credentials("admin", "hunter2")
    sub = driver.open_events({"host": "[::1]:8080", "clock_offset_s": "-1.5"}, creds, _ignore, _ignore)
    # Not started: nothing was asked of the camera yet.
    assert (sub.host, sub.port, sub.clock_offset_s, sub.state) == ("::1", 8080, -1.5, "idle")
    assert sub.credentials is creds
    sub.stop()


def test_each_driver_says_whether_its_device_describes_a_new_camera():
    """ONVIF and USB cameras are asked when added; a stream URL need not answer to be added."""
    described = {kind: registry.get_driver(kind).described_by_device for kind in registry.KINDS}
    assert described == {"rtsp": False, "onvif": True, "usb": True, "demo": False}


def test_close_all_stops_the_threads_drivers_share():
    registry.get_driver("onvif")
    onvif_loop.submit(_noop()).result(5)
    assert any(t.name == "porchlight-onvif" for t in threading.enumerate())
    registry.close_all()
    assert not any(t.name == "porchlight-onvif" and t.is_alive() for t in threading.enumerate())


def test_shared_threads_live_until_the_last_holder_releases():
    """A hub and an index client in one process: the first to finish keeps the other's ONVIF loop."""

    def loop_alive() -> bool:
        return any(t.name == "porchlight-onvif" and t.is_alive() for t in threading.enumerate())

    registry.hold()  # a hub
    registry.hold()  # an index client
    registry.get_driver("onvif")
    onvif_loop.submit(_noop()).result(5)
    registry.release()
    assert loop_alive()
    onvif_loop.submit(_noop()).result(5)  # still answers
    registry.release()
    assert not loop_alive()
    registry.release()  # one release too many does no harm, nor counts ahead
    registry.hold()
    onvif_loop.submit(_noop()).result(5)
    registry.release()
    assert not loop_alive()


async def _noop() -> None:
    return None


def _kind_comparisons(source: str) -> list[int]:
    """Lines of ``source`` that compare something with a driver kind (``driver != "onvif"``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = (node.left, *node.comparators)
            if any(isinstance(s, ast.Constant) and s.value in registry.KINDS for s in sides):
                lines.append(node.lineno)
    return lines


def test_the_hub_compares_no_value_with_a_driver_kind():
    """The hub reaches drivers through the protocol: no ``cfg.driver == "onvif"`` anywhere in hub/
    (the import contract in pyproject.toml forbids importing a driver's own package)."""
    assert _kind_comparisons('if cfg.driver != "onvif" or x:\n    pass\n') == [1]  # the check can fail
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in sorted((REPO_ROOT / "hub").rglob("*.py"))
        for line in _kind_comparisons(path.read_text())
    ]
    assert not offenders, offenders


def test_camera_with_a_driver_this_build_lacks_is_offline_and_the_others_record(tmp_path):
    """An index shared with a newer hub may hold a camera of a kind this build does not know."""
    data = tmp_path / "data"
    good, alien = configure(
        data,
        [
            camera("Yard", None, driver="demo", detect=False),
            camera("Roof", None, driver="demo", detect=False),
        ],
        segment_seconds=2.0,
    )
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    with engine.begin() as conn:  # what a newer version wrote: validation here would refuse it
        conn.execute(sa.text("UPDATE camera SET driver = 'lidar' WHERE id = :id"), {"id": alien.id})
    engine.dispose()
    hub = start_hub(data)
    try:
        status = next(s for s in hub.statuses() if s.camera_id == alien.id)
        assert status.state == "offline"
        assert "no 'lidar' camera driver" in (status.last_error or "")
        wait_for(lambda: segments(data, good.id), 20, "the other camera's first segment")
        assert state_of(hub, good.id) == "recording"
    finally:
        hub.stop()
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT state, last_error FROM camera_status WHERE camera_id = :id"), {"id": alien.id}
            ).one()
    finally:
        engine.dispose()
    assert row.state == "offline" and "lidar" in row.last_error


# --- the ONVIF driver's description of a device (pure: built from what a probe learned) ---------


def _onvif_device(**kw):
    from drivers.base import MediaProfile
    from drivers.onvif.model import OnvifDevice

    profiles = (
        MediaProfile("main", "Main", "H264", 1920, 1080, 15.0, 4096, "rtsp://cam/main", "http://cam/snap"),
        MediaProfile("sub", "Sub", "H264", 640, 360, 15.0, 512, "rtsp://cam/sub"),
        MediaProfile("jpeg", "Stills", "JPEG", 640, 360, 1.0, None, "http://cam/mjpeg"),
    )
    fields = dict(
        host="127.0.0.1:8080",
        xaddr="http://127.0.0.1:8080/onvif/device_service",
        manufacturer="PythonCam",
        model="VirtualCam-1",
        serial=None,
        profiles=profiles,
        record_profile="main",
        detect_profile="sub",
        clock_offset_s=-1.25,
        events_supported=True,
        event_topics=tuple(f"tns1:Device/Trigger/Relay{i}" for i in range(100)),
        doorbell=True,
        warnings=("the camera's clock is off",),
    )
    fields.update(kw)
    return OnvifDevice(**fields)


def test_onvif_description_has_every_profile_with_its_role_and_what_a_camera_stores():
    from drivers.onvif.driver import describe

    desc = describe(_onvif_device(), {})
    assert [p.token for p in desc.profiles] == ["main", "sub", "jpeg"]  # not only the recordable ones
    assert [s.url for s in desc.streams] == ["rtsp://cam/main", "rtsp://cam/sub"]
    assert dict(desc.roles) == {"record": "main", "detect": "sub"}
    assert [desc.role_of(t) for t in ("main", "sub", "jpeg")] == ["record", "detect", None]
    assert desc.profile("detect") is desc.profiles[1]
    assert (desc.address, desc.clock_offset_s, desc.events, desc.doorbell) == (
        "127.0.0.1:8080",
        -1.25,
        True,
        True,
    )
    assert len(desc.event_topics) == 100
    # the settings a camera made from it stores: today's CameraConfig.device keys, no None values
    assert desc.settings == {
        "host": "127.0.0.1:8080",
        "xaddr": "http://127.0.0.1:8080/onvif/device_service",
        "manufacturer": "PythonCam",
        "model": "VirtualCam-1",
        "record_profile": "main",
        "detect_profile": "sub",
        "clock_offset_s": -1.25,
        "snapshot_uri": "http://cam/snap",
        "events_supported": True,
        "event_topics": [f"tns1:Device/Trigger/Relay{i}" for i in range(64)],  # at most 64 stored
        "warnings": ["the camera's clock is off"],
    }


def test_onvif_roles_follow_the_profiles_a_camera_stored():
    from drivers.onvif.driver import describe

    stored = describe(_onvif_device(), {"host": "127.0.0.1:8080", "record_profile": "sub"})
    assert dict(stored.roles) == {"record": "sub"}  # no detect profile stored: none is guessed
    assert stored.profile("detect") is None
    gone = describe(_onvif_device(), {"record_profile": "removed-on-the-camera"})
    assert gone.profile("record") is None and [gone.role_of(p.token) for p in gone.profiles] == [None] * 3
    single = describe(_onvif_device(detect_profile=None), {})
    assert dict(single.roles) == {"record": "main"}
