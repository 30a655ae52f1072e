"""The hub's error family: each refusal is a HubError of its cause, a validation error names the field
and the rule, a refused write changes nothing, and the CLI turns any of them into one line, exit 1."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.core import errors, secrets
from hub.core.errors import (
    ConflictError,
    HubError,
    NotFoundError,
    StorageError,
    StorageUnavailable,
    ValidationError,
)
from hub.core.model import CameraConfig, MotionSettings, Zone
from hub.core.settings import Settings, parse_size
from hub.core.times import parse_rfc3339
from hub.db import repo
from hub.db.tx import run_write
from hub.media.export import export_clip
from hub.storage.lock import HubLock, HubLockedError
from hub.storage.marker import initialize_storage
from tests.support.clitools import assert_one_line_error, ok, run_cli

pytest_plugins = ["tests.support.postgres"]

OK_ZONE = Zone("porch", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)))

#: A change to the camera "Porch" -> (field, rule) of the ValidationError it must raise.
BAD_CAMERA_CHANGES: dict[str, tuple[dict[str, object], str, str]] = {
    "empty name": ({"name": "   "}, "name", "required"),
    "long name": ({"name": "x" * 201}, "name", "too_long"),
    "name taken": ({"name": "GARAGE"}, "name", "unique"),
    "no driver": ({"driver": ""}, "driver", "required"),
    "long driver": ({"driver": "d" * 33}, "driver", "too_long"),
    "unknown driver": ({"driver": "lidar"}, "driver", "one_of"),
    "mode": ({"mode": "sometimes"}, "mode", "one_of"),
    "audio": ({"audio": "loud"}, "audio", "one_of"),
    "events": ({"events": "cloud"}, "events", "one_of"),
    "device": ({"device": ["not", "a", "dict"]}, "device", "type"),
    "pre-roll": ({"pre_roll_s": -1.0}, "pre_roll_s", "min"),
    "post-roll": ({"post_roll_s": -0.5}, "post_roll_s", "min"),
    "max age": ({"max_age_days": 0.0}, "max_age_days", "min"),
    "motion": ({"motion": {"sensitivity": 50}}, "motion", "type"),
    "url secret": ({"url": "rtsp://admin:hunter2@127.0.0.1/live"}, "url", "no_credentials"),
    "sub-url secret": ({"sub_url": "rtsp://admin:hunter2@127.0.0.1/sub"}, "sub_url", "no_credentials"),
    "sensitivity": ({"motion": MotionSettings(sensitivity=0)}, "motion.sensitivity", "min"),
    "min area": ({"motion": MotionSettings(min_area=0.0)}, "motion.min_area", "min"),
    "fps": ({"motion": MotionSettings(analysis_fps=float("nan"))}, "motion.analysis_fps", "type"),
    "gap": ({"motion": MotionSettings(gap_s=1e9)}, "motion.gap_s", "max"),
    "short polygon": (
        {"motion": MotionSettings(zones=(OK_ZONE, Zone("b", ((0, 0), (1, 0)))))},
        "motion.zones[1].polygon",
        "min",
    ),
    "polygon outside": (
        {"motion": MotionSettings(zones=(Zone("a", ((0, 0), (1.5, 0), (1, 1))),))},
        "motion.zones[0].polygon",
        "format",
    ),
    "zone kind": (
        {"motion": MotionSettings(zones=(Zone("a", OK_ZONE.polygon, "window"),))},
        "motion.zones[0].kind",
        "one_of",
    ),  # type: ignore[arg-type]
    "zone name": (
        {"motion": MotionSettings(zones=(Zone(" ", OK_ZONE.polygon),))},
        "motion.zones[0].name",
        "required",
    ),
    "unknown field": ({"colour": "red", "zzz": 1}, "colour", "unknown"),
    "id": ({"id": "other"}, "id", "immutable"),
}


@pytest.mark.parametrize("case", list(BAD_CAMERA_CHANGES))
def test_camera_validation_names_field_and_rule_and_changes_nothing(db_engine: Engine, case: str) -> None:
    changes, field, rule = BAD_CAMERA_CHANGES[case]
    porch = run_write(db_engine, repo.add_camera, CameraConfig(id="", name="Porch", url="rtsp://127.0.0.1/a"))
    run_write(db_engine, repo.add_camera, CameraConfig(id="", name="Garage", url="rtsp://127.0.0.1/b"))
    rev = repo.config_rev(db_engine)
    with pytest.raises(ValidationError) as info:
        run_write(db_engine, repo.update_camera, porch.id, **changes)
    assert (info.value.field, info.value.rule) == (field, rule), str(info.value)
    assert isinstance(info.value, HubError) and isinstance(info.value, ValueError)
    assert "hunter2" not in str(info.value)
    assert repo.get_camera(db_engine, porch.id) == porch
    assert repo.config_rev(db_engine) == rev

    # The same value is refused the same way when the camera is added with it.
    if field not in ("id", "colour"):
        new = dataclasses.replace(porch, **{"name": "Shed", **changes})
        with pytest.raises(ValidationError) as info:
            run_write(db_engine, repo.add_camera, new)
        assert (info.value.field, info.value.rule) == (field, rule), str(info.value)
        assert [c.name for c in repo.list_cameras(db_engine)] == ["Garage", "Porch"]


def test_missing_and_removed_cameras_are_not_found(db_engine: Engine) -> None:
    porch = run_write(db_engine, repo.add_camera, CameraConfig(id="", name="Porch"))
    with pytest.raises(NotFoundError, match="no camera with id 'nope'"):
        run_write(db_engine, repo.update_camera, "nope", name="X")
    run_write(db_engine, repo.remove_camera, porch.id)
    with pytest.raises(NotFoundError, match="was removed") as info:
        run_write(db_engine, repo.remove_camera, porch.id)
    assert isinstance(info.value, HubError) and isinstance(info.value, LookupError)


BOUNDED = [f for f in dataclasses.fields(Settings) if f.metadata.get("min") is not None]


@pytest.mark.parametrize("f", BOUNDED, ids=[f.name for f in BOUNDED])
def test_settings_bounds_name_the_field(db_engine: Engine, f: dataclasses.Field) -> None:
    saved = repo.load_settings(db_engine)
    too_low = dataclasses.replace(saved, **{f.name: f.metadata["min"] - 1})
    with pytest.raises(ValidationError) as info:
        run_write(db_engine, repo.save_settings, too_low)
    assert (info.value.field, info.value.rule) == (f.name, "min")
    assert str(info.value).startswith(f.metadata["title"] + " must be at least")
    if f.metadata.get("max") is not None:
        with pytest.raises(ValidationError) as info:
            dataclasses.replace(saved, **{f.name: f.metadata["max"] + 1}).validate()
        assert (info.value.field, info.value.rule) == (f.name, "max")
    assert repo.load_settings(db_engine) == saved


def test_parsers_name_the_field_they_were_given() -> None:
    with pytest.raises(ValidationError, match="not an RFC 3339 time") as info:
        parse_rfc3339("yesterday", field="start")
    assert (info.value.field, info.value.rule) == ("start", "format")
    with pytest.raises(ValidationError, match="not a valid time") as info:
        parse_rfc3339("2026-02-30T00:00:00Z", field="end")
    assert (info.value.field, info.value.rule) == ("end", "format")
    with pytest.raises(ValidationError, match="not a size") as info:
        parse_size("lots", field="quota_bytes")
    assert (info.value.field, info.value.rule) == ("quota_bytes", "format")


def test_the_hubs_other_errors_belong_to_the_family(tmp_path: Path) -> None:
    # A second hub on one data folder: a conflict.
    lock = HubLock(tmp_path / "data").acquire()
    try:
        with pytest.raises(ConflictError, match="already running") as info:
            HubLock(tmp_path / "data").acquire()
        assert isinstance(info.value, HubLockedError)
    finally:
        lock.release()
    # A recordings folder of another index: a storage error.
    initialize_storage(tmp_path / "rec", "9b7c8d5e-1f2a-4b3c-8d4e-5f6a7b8c9d0e")
    with pytest.raises(StorageError, match="another Porchlight"):
        initialize_storage(tmp_path / "rec", "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
    # Exports: nothing recorded is "not found", nothing readable a storage error; no file either way.
    out = tmp_path / "clip.mp4"
    with pytest.raises(NotFoundError, match="nothing was recorded"):
        export_clip(tmp_path / "rec", [], 0, 10_000, out)
    assert not out.exists()
    assert issubclass(StorageUnavailable, StorageError)
    assert issubclass(secrets.SecretsUnavailable, errors.UnavailableError)
    assert issubclass(errors.AuthError, errors.DeviceError)
    causes = [NotFoundError, ConflictError, ValidationError, StorageError, errors.UnavailableError]
    causes.append(errors.DeviceError)
    for a in causes:
        assert issubclass(a, HubError)
        assert not any(issubclass(a, b) for b in causes if b is not a), f"{a.__name__} overlaps"


def test_cli_prints_a_hub_error_as_one_line(tmp_path: Path) -> None:
    """A refusal raised deep in the hub reaches the user as the CLI always printed it: one line, exit 1."""
    data = tmp_path / "data"
    result = run_cli(data, "storage", "set", "--quota", "1K")
    assert result.returncode == 1
    assert assert_one_line_error(result) == "porchlight: error: Disk quota must be at least 67108864 bytes"
    ok(run_cli(data, "demo-camera", "add", "--name", "Porch"))
    result = run_cli(data, "demo-camera", "add", "--name", "PORCH")
    assert (result.returncode, result.stderr) == (
        1,
        "porchlight: error: a camera named 'PORCH' already exists\n",
    )
    result = run_cli(data, "recordings", "list", "--start", "soon")
    assert result.returncode == 1
    assert assert_one_line_error(result).startswith("porchlight: error: --start: not an RFC 3339 time")
