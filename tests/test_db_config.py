"""Cameras, settings and meta in the index (SQLite file and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, update

from hub.core.model import CameraConfig, MotionSettings, Zone
from hub.core.settings import Settings
from hub.db import repo
from hub.db.schema import CameraRow, SettingRow
from hub.db.tx import run_write

pytest_plugins = ["tests.support.postgres"]


def cam(name: str, **fields: object) -> CameraConfig:
    return CameraConfig(id="ignored", name=name, **fields)  # type: ignore[arg-type]


def test_slug_ids_derived_from_names(db_engine: Engine) -> None:
    assert run_write(db_engine, repo.add_camera, cam("Front Door")).id == "front-door"
    assert run_write(db_engine, repo.add_camera, cam("  Café Über/Garage #2 ")).id == "cafe-uber-garage-2"
    assert run_write(db_engine, repo.add_camera, cam("***")).id == "camera"
    long = run_write(db_engine, repo.add_camera, cam("A very long camera name that goes on and on and on"))
    assert len(long.id) <= 40 and not long.id.endswith("-")
    assert set(long.id) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_names_are_unique_case_insensitively(db_engine: Engine) -> None:
    run_write(db_engine, repo.add_camera, cam("Porch"))
    with pytest.raises(ValueError, match="^a camera named 'PORCH' already exists$"):
        run_write(db_engine, repo.add_camera, cam("PORCH"))
    assert repo.config_rev(db_engine) == 1  # the refused add changed nothing
    assert repo.find_camera(db_engine, "pOrCh").id == "porch"  # type: ignore[union-attr]
    assert repo.find_camera(db_engine, "garden") is None


def test_soft_delete_never_reuses_ids(db_engine: Engine) -> None:
    first = run_write(db_engine, repo.add_camera, cam("Garden"))
    run_write(db_engine, repo.remove_camera, first.id)
    assert repo.list_cameras(db_engine) == []
    assert repo.find_camera(db_engine, "Garden") is None
    again = run_write(db_engine, repo.add_camera, cam("Garden"))  # the name is free again, the id is not
    assert again.id == "garden-2"
    run_write(db_engine, repo.remove_camera, again.id)
    assert run_write(db_engine, repo.add_camera, cam("garden")).id == "garden-3"
    assert [c.id for c in repo.list_cameras(db_engine, include_removed=True)] == [
        "garden",
        "garden-2",
        "garden-3",
    ]
    assert repo.removed_camera_ids(db_engine) == {"garden", "garden-2"}
    assert repo.get_camera(db_engine, "garden") == first  # still readable for its recordings
    with pytest.raises(repo.NotFoundError):
        run_write(db_engine, repo.remove_camera, "garden")
    with pytest.raises(repo.NotFoundError):
        run_write(db_engine, repo.update_camera, "garden", enabled=False)
    with pytest.raises(repo.NotFoundError):
        run_write(db_engine, repo.remove_camera, "nope")


def test_slug_suffix_respects_the_length_limit(db_engine: Engine) -> None:
    name = "x" * 60
    first = run_write(db_engine, repo.add_camera, cam(name))
    run_write(db_engine, repo.remove_camera, first.id)
    second = run_write(db_engine, repo.add_camera, cam(name))
    assert first.id == "x" * 40 and second.id == "x" * 38 + "-2"


def test_list_is_ordered_by_name(db_engine: Engine) -> None:
    for name in ("beta", "Alpha", "gamma"):
        run_write(db_engine, repo.add_camera, cam(name))
    assert [c.name for c in repo.list_cameras(db_engine)] == ["Alpha", "beta", "gamma"]


def test_config_rev_bumps_on_every_config_write(db_engine: Engine) -> None:
    assert repo.config_rev(db_engine) == 0
    c = run_write(db_engine, repo.add_camera, cam("Porch"))
    assert repo.config_rev(db_engine) == 1
    run_write(db_engine, repo.update_camera, c.id, mode="motion")
    assert repo.config_rev(db_engine) == 2
    run_write(db_engine, repo.save_settings, Settings(segment_seconds=6))
    assert repo.config_rev(db_engine) == 3
    run_write(db_engine, repo.remove_camera, c.id)
    assert repo.config_rev(db_engine) == 4
    with pytest.raises(ValueError):
        run_write(db_engine, repo.save_settings, Settings(segment_seconds=1))  # out of bounds: no write
    assert repo.config_rev(db_engine) == 4
    assert repo.get_meta(db_engine, repo.CONFIG_REV) == "4"


def test_update_camera(db_engine: Engine) -> None:
    c = run_write(db_engine, repo.add_camera, cam("Porch"))
    run_write(db_engine, repo.add_camera, cam("Garage"))
    new = run_write(
        db_engine,
        repo.update_camera,
        c.id,
        name="PORCH",
        pre_roll_s=2.5,
        max_age_days=7.0,
        url="rtsp://127.0.0.1/main",
    )
    assert new == repo.get_camera(db_engine, c.id)
    assert (new.id, new.name, new.pre_roll_s, new.max_age_days) == ("porch", "PORCH", 2.5, 7.0)
    with pytest.raises(ValueError, match="unknown camera field"):
        run_write(db_engine, repo.update_camera, c.id, colour="red")
    with pytest.raises(ValueError, match="never changes"):
        run_write(db_engine, repo.update_camera, c.id, id="other")
    with pytest.raises(ValueError, match="already exists"):
        run_write(db_engine, repo.update_camera, c.id, name="garage")
    with pytest.raises(ValueError, match="mode"):
        run_write(db_engine, repo.update_camera, c.id, mode="sometimes")


def test_credentials_never_reach_the_index(db_engine: Engine) -> None:
    with pytest.raises(ValueError, match="credentials") as info:
        run_write(db_engine, repo.add_camera, cam("Porch", url="rtsp://admin:hunter2@127.0.0.1/live"))
    assert "hunter2" not in str(info.value)
    c = run_write(db_engine, repo.add_camera, cam("Porch", url="rtsp://127.0.0.1/live", has_credentials=True))
    with pytest.raises(ValueError, match="credentials"):
        run_write(db_engine, repo.update_camera, c.id, sub_url="rtsp://admin:pw@127.0.0.1/sub")
    assert repo.get_camera(db_engine, c.id).has_credentials is True  # type: ignore[union-attr]


def test_camera_json_round_trip(db_engine: Engine) -> None:
    motion = MotionSettings(
        sensitivity=75,
        min_area=0.01,
        analysis_fps=2.5,
        zones=(
            Zone("drive", ((0.1, 0.2), (0.9, 0.2), (0.5, 0.95))),
            Zone("street", ((0.0, 0.0), (1.0, 0.0), (1.0, 0.1), (0.0, 0.1)), kind="mask"),
        ),
    )
    original = cam(
        "Drive",
        driver="demo",
        url="demo://1",
        sub_url="demo://1/sub",
        mode="motion",
        pre_roll_s=3.0,
        post_roll_s=12.5,
        enabled=False,
        audio="drop",
        detect=False,
        max_age_days=14.5,
        motion=motion,
        has_credentials=True,
    )
    stored = run_write(db_engine, repo.add_camera, original)
    assert stored == dataclasses.replace(original, id="drive")
    loaded = repo.get_camera(db_engine, "drive")
    assert loaded == stored
    assert isinstance(loaded.motion.zones, tuple)  # type: ignore[union-attr]
    assert isinstance(loaded.motion.zones[0].polygon[0], tuple)  # type: ignore[union-attr]
    updated = run_write(db_engine, repo.update_camera, "drive", motion=MotionSettings(zones=motion.zones[:1]))
    assert repo.get_camera(db_engine, "drive") == updated
    assert updated.motion.zones == motion.zones[:1]


def _add_at_once(db_engine: Engine, names: list[str]) -> list[CameraConfig | Exception]:
    """Add one camera per name from as many threads, released together; each own transaction."""
    start = threading.Barrier(len(names))

    def add(name: str) -> CameraConfig | Exception:
        start.wait()
        try:
            return run_write(db_engine, repo.add_camera, cam(name))
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(add, names))


def test_concurrent_adds_get_distinct_ids(db_engine: Engine) -> None:
    # Different names, one slug: without the config write lock, two PostgreSQL transactions would
    # both read "no camera yet", both choose "porch" and one would fail on the primary key.
    names = ["Porch" + "!" * i for i in range(6)]
    added = _add_at_once(db_engine, names)
    assert all(isinstance(a, CameraConfig) for a in added), added
    assert sorted(a.id for a in added) == ["porch", "porch-2", "porch-3", "porch-4", "porch-5", "porch-6"]
    assert repo.config_rev(db_engine) == 6


def test_concurrent_adds_of_one_name_keep_one(db_engine: Engine) -> None:
    results = _add_at_once(db_engine, ["Porch"] * 4)
    assert sum(isinstance(r, CameraConfig) for r in results) == 1
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 3 and all("already exists" in str(r) for r in refused)
    assert [c.id for c in repo.list_cameras(db_engine)] == ["porch"]


def test_unknown_motion_key_is_an_error(db_engine: Engine) -> None:
    run_write(db_engine, repo.add_camera, cam("Porch"))
    run_write(db_engine, lambda s: s.execute(update(CameraRow).values(motion_json='{"turbo": true}')))
    with pytest.raises(ValueError, match="turbo"):
        repo.get_camera(db_engine, "porch")


def test_settings_round_trip(db_engine: Engine) -> None:
    assert repo.load_settings(db_engine) == Settings()
    settings = Settings(
        storage_path="/srv/rec",
        quota_bytes=500 * 1024**3,
        max_age_days=None,
        motion_grace_s=120.0,
        segment_seconds=4.0,
    )
    run_write(db_engine, repo.save_settings, settings)
    assert repo.load_settings(db_engine) == settings
    run_write(db_engine, repo.save_settings, Settings())
    assert repo.load_settings(db_engine) == Settings()


def test_unknown_setting_key_is_an_error(db_engine: Engine) -> None:
    run_write(db_engine, lambda s: s.add(SettingRow(key="warp_drive", value="true")))
    with pytest.raises(ValueError, match="warp_drive"):
        repo.load_settings(db_engine)


def test_meta(db_engine: Engine) -> None:
    assert repo.get_meta(db_engine, "storage_id") is None
    run_write(db_engine, repo.set_meta, "storage_id", "abc")
    run_write(db_engine, repo.set_meta, "storage_id", "def")
    assert repo.get_meta(db_engine, "storage_id") == "def"
