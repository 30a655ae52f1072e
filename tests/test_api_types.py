"""The Hub API's values (hub.api.types): what they load, how they decode, and that they stay in step
with the hub's own data types, which the backends convert from and to."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import typing

import msgspec
import pytest

from drivers import base as driver_base
from hub.api import convert
from hub.api import types as api
from hub.core import model
from hub.core import settings as hub_settings
from hub.core.secrets import Credentials as HubCredentials
from tests.test_layering import REPO_ROOT

SECRET = "hunter2-do-not-show"


def test_values_load_nothing_of_the_engine():
    """A client holding API values (and catching its errors), or talking to a hub over its socket,
    loads no index, media or Qt library."""
    code = (
        "import sys, json; import hub.api.types, hub.api.protocol, hub.api.errors, hub.api.client; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=True
    )
    loaded = set(json.loads(r.stdout))
    heavy = ("sqlalchemy", "av", "cv2", "numpy", "PySide6", "keyring", "drivers", "hub.db", "hub.hub")
    found = sorted(m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy))
    assert not found, found
    assert "msgspec" in loaded and "hub.api.types" in loaded


@pytest.mark.parametrize(
    "api_type, model_type",
    [
        (api.Mode, model.Mode),
        (api.AudioPolicy, model.AudioPolicy),
        (api.EventSource, model.EventSource),
        (api.CameraState, model.CameraState),
        (api.ZoneKind, model.ZoneKind),
        (api.EventKind, model.EventKind),
        (api.ProtectReason, model.ProtectReason),
        (api.Role, driver_base.Role),
    ],
)
def test_choices_agree_with_the_hub(api_type, model_type):
    assert typing.get_args(api_type) == typing.get_args(model_type)


@pytest.mark.parametrize(
    "api_type, model_type",
    [
        (api.Camera, model.CameraConfig),
        (api.MotionSettings, model.MotionSettings),
        (api.Zone, model.Zone),
        (api.Settings, hub_settings.Settings),
    ],
)
def test_fields_and_defaults_agree_with_the_hub(api_type, model_type):
    """Same field names, and the same defaults where the hub has one: a field added on one side only
    fails here before it fails a conversion."""
    api_fields = {f.name: f for f in msgspec.structs.fields(api_type)}
    model_fields = {f.name: f for f in dataclasses.fields(model_type)}
    assert set(api_fields) == set(model_fields)
    compared = 0
    for name, mf in model_fields.items():
        ours, theirs = _default(api_fields[name]), _model_default(mf)
        if ours is not _NONE and theirs is not _NONE:  # the API may require what the hub defaults
            assert msgspec.to_builtins(ours) == msgspec.to_builtins(theirs), name
            compared += 1
    assert compared >= len(model_fields) - 3  # id, name and driver: required by the API


_NONE = object()


def _default(f: msgspec.structs.FieldInfo) -> object:
    if f.default is not msgspec.NODEFAULT:
        return f.default
    return f.default_factory() if f.default_factory is not msgspec.NODEFAULT else _NONE


def _model_default(f: dataclasses.Field) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else _NONE


def test_camera_round_trip_through_the_hub_types():
    zones = (
        model.Zone("porch", ((0.1, 0.5), (0.6, 0.5), (0.6, 1.0))),
        model.Zone("street", ((0, 0), (1, 0), (1, 0.3)), "mask"),
    )
    cfg = model.CameraConfig(
        id="porch",
        name="Porch",
        url="rtsp://127.0.0.1:8554/main",
        sub_url="rtsp://127.0.0.1:8554/sub",
        mode="motion",
        max_age_days=3.5,
        motion=model.MotionSettings(sensitivity=72, zones=zones),
        has_credentials=True,
        events="both",
        doorbell=True,
        device={"host": "127.0.0.1:8080", "record_profile": "p0"},
    )
    cam = convert.camera(cfg)
    assert cam.motion.zones[1].kind == "mask" and cam.device["record_profile"] == "p0"
    assert convert.to_model(cam, model.CameraConfig) == cfg
    for codec in (msgspec.json, msgspec.msgpack):
        assert codec.decode(codec.encode(cam), type=api.Camera) == cam


def test_values_ignore_unknown_fields_and_requests_refuse_them():
    """A newer hub may add fields to what it answers; a hub never drops part of a request."""
    raw = msgspec.json.encode(api.HubInfo(running=True, pid=7))
    newer = json.loads(raw) | {"uptime_s": 12.5}
    assert msgspec.json.decode(json.dumps(newer), type=api.HubInfo) == api.HubInfo(running=True, pid=7)
    with pytest.raises(msgspec.ValidationError, match="unknown field `colour`"):
        msgspec.json.decode(b'{"name": "Porch", "colour": "red"}', type=api.NewCamera)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.motion\.sensitivity"):
        msgspec.json.decode(b'{"motion": {"sensitivity": "high"}}', type=api.CameraChange)


def test_a_change_tells_unset_from_none():
    change = api.CameraChange(sub_url=None, motion=api.MotionChange(sensitivity=80))
    assert msgspec.json.decode(msgspec.json.encode(change), type=api.CameraChange) == change
    assert json.loads(msgspec.json.encode(change)) == {"sub_url": None, "motion": {"sensitivity": 80}}
    cfg = model.CameraConfig(
        id="c", name="C", sub_url="rtsp://127.0.0.1/sub", motion=model.MotionSettings(gap_s=9)
    )
    fields = convert.camera_changes(cfg, change)
    assert fields == {"sub_url": None, "motion": model.MotionSettings(sensitivity=80, gap_s=9)}
    assert convert.changes(api.SettingsChange()) == {}


def test_secret_never_shows(caplog):
    creds = api.Credentials(username="admin", password=api.Secret(SECRET))
    request = (api.NewCamera(name="Porch"), creds)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").warning("sending %s %r %s", creds, request, creds.password)
    shown = " ".join([repr(creds), str(creds), f"{creds}", repr(request), caplog.text])
    assert SECRET not in shown and "admin" in shown
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.json.decode(
            json.dumps({"username": "admin", "password": {"value": SECRET}, "x": 1}), type=api.Credentials
        )
    assert SECRET not in str(info.value)
    # The hub's side reveals it for the keyring, and its type hides it too.
    hub_creds = convert.credentials(creds)
    assert hub_creds == HubCredentials("admin", SECRET) and SECRET not in repr(hub_creds)


def test_a_new_camera_becomes_the_hubs_camera():
    """A request's defaults are the hub's, and every field it sets arrives (nested ones too)."""
    assert convert.new_camera(api.NewCamera(name="Porch")) == model.CameraConfig(id="", name="Porch")
    zone = api.Zone(name="path", polygon=((0.1, 0.5), (0.6, 0.5), (0.6, 1.0)))
    new = api.NewCamera(
        name="Door",
        driver="onvif",
        device={"host": "127.0.0.1:8080"},
        mode="motion",
        pre_roll_s=2.0,
        audio="drop",
        motion=api.MotionSettings(gap_s=9.0, zones=(zone,)),
        doorbell=True,
    )
    cfg = convert.new_camera(new)
    assert (cfg.driver, cfg.mode, cfg.pre_roll_s, cfg.audio, cfg.doorbell) == (
        "onvif",
        "motion",
        2.0,
        "drop",
        True,
    )
    assert cfg.device == {"host": "127.0.0.1:8080"} and cfg.motion.gap_s == 9.0
    assert cfg.motion.zones == (model.Zone("path", ((0.1, 0.5), (0.6, 0.5), (0.6, 1.0))),)
