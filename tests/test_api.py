"""The Hub API suite on cameras, settings, storage and status: the same tests against every backend
(tests/support/apitools.py). Backend-specific behaviour (a change reaching running cameras at once;
the status of a hub that is not running) has its own tests at the end. Recordings, events, exports
and devices: tests/test_api_media.py."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.api import HubApi, connect
from hub.api.errors import DeviceError, NotFoundError, StorageError, UnavailableError, ValidationError
from hub.api.local import LocalHub
from hub.api.types import (
    CameraChange,
    Credentials,
    MotionChange,
    MotionSettings,
    NewCamera,
    Secret,
    SettingsChange,
    Zone,
)
from hub.core import secrets
from hub.db import repo_config
from tests.support import e2e
from tests.support.apitools import BACKENDS, open_api, without_keyring
from tests.support.hubtools import configure, wait_for

SECRET = "pa55-not-in-any-log"
UNREACHABLE = "rtsp://127.0.0.1:9/main"  # the discard port: nothing answers


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, HubApi, Path]]:
    """(kind, api, data dir) on a fresh data dir; the api is closed (a local hub stopped) at the end."""
    data = tmp_path / "data"
    configure(data, [])  # a free-space margin a test machine has
    api = open_api(request.param, data)
    try:
        yield request.param, api, data
    finally:
        api.close()


def _porch(**kw: object) -> NewCamera:
    fields: dict[str, object] = dict(name="Porch", url=UNREACHABLE, enabled=False)
    fields.update(kw)
    return NewCamera(**fields)  # type: ignore[arg-type]


def _index_id(data: Path) -> str:
    with e2e.index(data) as engine:
        return repo_config.index_id(engine)


# -- cameras --------------------------------------------------------------------------------------------


def test_add_list_find_and_remove(backend):
    _kind, api, data = backend
    creds = Credentials(username="admin", password=Secret(SECRET))
    cam = api.add_camera(_porch(sub_url="rtsp://127.0.0.1:9/sub", mode="motion", pre_roll_s=3.0), creds)
    assert (cam.id, cam.name, cam.driver, cam.mode, cam.pre_roll_s) == (
        "porch",
        "Porch",
        "rtsp",
        "motion",
        3.0,
    )
    assert cam.has_credentials and cam.url == UNREACHABLE and cam.events == "local" and not cam.doorbell
    assert api.cameras() == [cam]
    assert api.camera("  PORCH ") == cam and api.camera("porch") == cam  # a name in any case, or the id
    stored = secrets.get_camera_credentials(_index_id(data), cam.id)
    assert stored is not None and (stored.username, stored.password) == ("admin", SECRET)

    second = api.add_camera(_porch(name="Porch 2"))
    assert second.id == "porch-2" and not second.has_credentials
    assert [c.name for c in api.cameras()] == ["Porch", "Porch 2"]

    assert api.remove_camera("Porch") == cam
    assert secrets.get_camera_credentials(_index_id(data), cam.id) is None
    with pytest.raises(NotFoundError, match=r"no camera named 'Porch' \(cameras: Porch 2\)"):
        api.camera("Porch")
    with pytest.raises(NotFoundError):
        api.update_camera("porch", CameraChange(mode="continuous"))
    # The removed camera's id is never reused: its recordings keep their folder.
    assert api.add_camera(_porch()).id == "porch-3"


def test_a_change_is_a_patch(backend):
    _kind, api, _data = backend
    zones = (Zone(name="path", polygon=((0.1, 0.5), (0.6, 0.5), (0.6, 1.0))),)
    cam = api.add_camera(
        _porch(
            sub_url="rtsp://127.0.0.1:9/sub", motion=MotionSettings(zones=zones, gap_s=7.0), max_age_days=3.0
        )
    )
    changed = api.update_camera("Porch", CameraChange(motion=MotionChange(sensitivity=85), sub_url=None))
    assert changed.motion.sensitivity == 85 and changed.motion.zones == zones and changed.motion.gap_s == 7.0
    assert changed.sub_url is None and changed.max_age_days == 3.0 and changed.url == cam.url
    renamed = api.update_camera("porch", CameraChange(name="Front door", max_age_days=None))
    assert (renamed.id, renamed.name, renamed.max_age_days) == ("porch", "Front door", None)
    assert api.camera("front DOOR") == renamed
    mask = Zone(name="street", polygon=((0, 0), (1, 0), (1, 0.3)), kind="mask")
    assert api.update_camera("porch", CameraChange(motion=MotionChange(zones=(mask,)))).motion.zones == (
        mask,
    )


@pytest.mark.parametrize(
    "new, field, rule",
    [
        (_porch(motion=MotionSettings(sensitivity=500)), "motion.sensitivity", "max"),
        (_porch(pre_roll_s=-1.0), "pre_roll_s", "min"),
        (_porch(name="   "), "name", "required"),
        (_porch(driver="lidar"), "driver", "one_of"),
        (
            _porch(motion=MotionSettings(zones=(Zone(name="z", polygon=((0, 0), (2, 0), (1, 1))),))),
            "motion.zones[0].polygon",
            "format",
        ),
        (_porch(url=f"rtsp://admin:{SECRET}@127.0.0.1:9/main"), "url", "no_credentials"),
        (_porch(driver="usb", url=None), "device", "required"),
        (_porch(driver="onvif", url=None), "device", "required"),
    ],
    ids=[
        "sensitivity",
        "pre-roll",
        "name",
        "driver",
        "polygon",
        "url-credentials",
        "usb-device",
        "onvif-host",
    ],
)
def test_a_refused_camera_names_its_field_and_adds_nothing(backend, new, field, rule):
    _kind, api, _data = backend
    with pytest.raises(ValidationError) as info:
        api.add_camera(new)
    assert (info.value.field, info.value.rule) == (field, rule), str(info.value)
    assert SECRET not in str(info.value)
    assert api.cameras() == []


def test_a_device_that_does_not_answer_adds_nothing(backend, tmp_path):
    """ONVIF and USB cameras are asked what they offer before anything is stored."""
    _kind, api, _data = backend
    with pytest.raises(DeviceError) as info:
        api.add_camera(_porch(driver="usb", url=str(tmp_path / "video9")))
    assert "video9" in str(info.value)
    with pytest.raises(DeviceError):
        api.add_camera(
            _porch(driver="onvif", url=None, device={"host": "127.0.0.1:9"}),
            Credentials(username="admin", password=Secret(SECRET)),
        )
    assert api.cameras() == []


def test_a_refused_change_changes_nothing(backend):
    _kind, api, data = backend
    api.add_camera(_porch())
    before = api.add_camera(_porch(name="Garden"))
    creds = Credentials(username="gardener", password=Secret(SECRET))
    with pytest.raises(ValidationError) as info:
        api.update_camera("Garden", CameraChange(name="porch"), creds)  # taken, in another case
    assert (info.value.field, info.value.rule) == ("name", "unique")
    with pytest.raises(ValidationError) as info:
        api.update_camera("Garden", CameraChange(motion=MotionChange(min_frames=0)), creds)
    assert info.value.field == "motion.min_frames"
    assert api.camera("Garden") == before
    assert secrets.get_camera_credentials(_index_id(data), before.id) is None  # not stored either


def test_credentials_replace_and_never_show(backend, caplog):
    _kind, api, data = backend
    cam = api.add_camera(_porch())
    with caplog.at_level(logging.DEBUG):
        changed = api.update_camera(
            "Porch",
            CameraChange(url="rtsp://127.0.0.1:9/other"),
            Credentials(username="u", password=Secret(SECRET)),
        )
        with pytest.raises(ValidationError) as info:
            api.add_camera(_porch(), Credentials(username="u", password=Secret(SECRET)))  # name taken
    assert changed.has_credentials and changed.url == "rtsp://127.0.0.1:9/other"
    stored = secrets.get_camera_credentials(_index_id(data), cam.id)
    assert stored is not None and stored.password == SECRET
    assert SECRET not in caplog.text and SECRET not in str(info.value)


def test_no_secure_keyring_adds_nothing(backend):
    kind, api, data = backend
    with without_keyring(kind, api, data) as bare:
        with pytest.raises(UnavailableError, match="password store"):
            bare.add_camera(_porch(), Credentials(username="u", password=Secret(SECRET)))
        assert bare.cameras() == []
        assert bare.add_camera(_porch()).name == "Porch"  # without credentials, no keyring is needed


# -- settings and storage -------------------------------------------------------------------------------


def test_settings_change_only_what_is_set(backend):
    _kind, api, _data = backend
    before = api.settings()
    after = api.update_settings(SettingsChange(quota_bytes=3 * 1024**3, max_age_days=None))
    assert (after.quota_bytes, after.max_age_days) == (3 * 1024**3, None)
    assert after.min_free_bytes == before.min_free_bytes and after.segment_seconds == before.segment_seconds
    assert api.settings() == after
    with pytest.raises(ValidationError) as info:
        api.update_settings(SettingsChange(quota_bytes=1024))
    assert info.value.field == "quota_bytes" and "Disk quota" in str(info.value)
    with pytest.raises(ValidationError) as info:
        api.update_settings(SettingsChange(storage_path="relative/folder"))
    assert (info.value.field, info.value.rule) == ("storage_path", "format")
    assert api.settings() == after


def test_storage_reports_folder_and_use(backend):
    kind, api, data = backend
    info = api.storage()
    assert info.path == str(data / "recordings") and info.used_bytes == 0
    if kind == "index":  # a hub makes and marks its folder when it first starts; the index says so
        assert (info.state, info.free_bytes, info.total_bytes) == ("not initialized", None, None), info
        LocalHub.start(data).close()
        info = api.storage()
    assert info.state == "ok", info
    assert info.free_bytes and info.total_bytes and info.free_bytes <= info.total_bytes


def test_storage_folder_moves_only_without_orphans(backend, tmp_path):
    kind, api, data = backend
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"x")
    if kind == "index":  # mark the folder as a hub would on its first start
        LocalHub.start(data).close()
    with pytest.raises(StorageError, match="not empty"):
        api.update_settings(SettingsChange(storage_path=str(busy)))
    assert api.settings().storage_path is None
    fresh = tmp_path / "disk" / "porchlight"
    assert api.update_settings(SettingsChange(storage_path=str(fresh))).storage_path == str(fresh)
    assert (fresh / ".porchlight-storage").is_file()
    assert api.storage().path == str(fresh)


# -- what differs between backends -----------------------------------------------------------------------


def test_live_hub_applies_changes_at_once(tmp_path):
    """Through the in-process hub a camera starts, stops and goes as the call returns (no poll)."""
    data = tmp_path / "data"
    configure(data, [])
    with LocalHub.start(data) as api:
        cam = api.add_camera(NewCamera(name="Demo", driver="demo", mode="continuous"))
        assert [c.id for c in api.hub.cameras()] == [cam.id]
        wait_for(lambda: _state(api, "Demo") == "recording", 20, "the demo camera recording")
        api.update_camera("Demo", CameraChange(enabled=False))
        assert _state(api, "Demo") == "stopped"
        api.remove_camera("Demo")
        assert api.hub.cameras() == [] and api.status().cameras == ()
        st = api.status()
        assert st.hub.running and st.hub.pid == os.getpid() and st.hub.started_ms


def _state(api: HubApi, name: str) -> str:
    return next(c.state for c in api.status().cameras if c.name == name)


def test_index_only_status_without_and_with_a_running_hub(tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    with connect(data) as api:
        api.add_camera(NewCamera(name="Demo", driver="demo"))
        st = api.status()
        assert not st.hub.running and st.hub.pid is None
        assert [(c.name, c.state) for c in st.cameras] == [("Demo", "stopped")]
        with LocalHub.start(data) as live:
            wait_for(lambda: _state(live, "Demo") == "recording", 20, "the demo camera recording")
            wait_for(lambda: _state(api, "Demo") == "recording", 10, "the stored status")
            st = api.status()
            assert st.hub.running and st.hub.pid == os.getpid() and st.hub.started_ms
        assert _state(api, "Demo") == "stopped" and not api.status().hub.running
