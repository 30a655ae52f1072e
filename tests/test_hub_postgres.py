"""A hub can keep its index in PostgreSQL (several hubs sharing one index): record, detect,
index and query exactly as with SQLite."""

from __future__ import annotations

import dataclasses
import time

from sqlalchemy.engine import Engine

from hub.core.model import CameraConfig, Zone
from hub.core.times import now_ms
from hub.db import repo_config, repo_media
from hub.db.engine import open_engine
from hub.db.tx import run_write
from hub.db.upgrade import migrate
from hub.hub import Hub
from tests.support.hubtools import state_of, wait_for

pytest_plugins = ["tests.support.postgres"]


def _index_with_demo_camera(postgres_url: str, **device: str) -> tuple[Engine, CameraConfig]:
    """A migrated PostgreSQL index with one demo camera "Porch" recording 2-s segments."""
    engine = open_engine(postgres_url)
    migrate(engine)
    cam = run_write(
        engine,
        repo_config.add_camera,
        CameraConfig(id="", name="Porch", driver="demo", mode="continuous", device=device),
    )
    settings = repo_config.load_settings(engine)
    run_write(
        engine,
        repo_config.save_settings,
        dataclasses.replace(settings, segment_seconds=2.0, min_free_bytes=64 * 1024**2),
    )
    return engine, cam


def test_hub_records_into_a_postgresql_index(postgres_url, tmp_path):
    engine, cam = _index_with_demo_camera(postgres_url)
    hub = Hub(tmp_path / "data", db_url=postgres_url)
    hub.start()
    try:
        wait_for(lambda: state_of(hub, cam.id) == "recording", 20, "recording")
        time.sleep(7)
    finally:
        hub.stop()
    segs = repo_media.list_segments(engine, camera_id=cam.id)
    assert len(segs) >= 3 and all(s.frames > 0 for s in segs)
    for s in segs:
        assert (tmp_path / "data" / "recordings" / s.path).stat().st_size == s.bytes
    status = {st.camera_id: st for st in repo_media.list_status(engine)}[cam.id]
    assert status.state == "stopped" and status.stats["packets_written"] == sum(s.frames for s in segs)
    assert not (tmp_path / "data" / "porchlight.db").exists()  # nothing went to a local SQLite file
    engine.dispose()


def test_a_change_another_process_writes_to_the_shared_index_applies_live(postgres_url, tmp_path):
    """The polling path (another hub or client writes the shared index): a rename and new zones
    reach the running camera within the poll, without a restart or a cut segment; a disabled camera
    stops."""
    engine, cam = _index_with_demo_camera(postgres_url, visit_s="0")
    hub = Hub(tmp_path / "data", db_url=postgres_url)
    hub.start()
    try:
        wait_for(lambda: state_of(hub, cam.id) == "recording", 20, "recording")
        since = next(s.since_ms for s in hub.statuses() if s.camera_id == cam.id)
        time.sleep(3)
        mask = Zone("street", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)), kind="mask")
        motion = dataclasses.replace(cam.motion, sensitivity=75, zones=(mask,))
        run_write(engine, repo_config.update_camera, cam.id, name="Front door", pre_roll_s=2.0, motion=motion)
        wait_for(lambda: [c.name for c in hub.cameras()] == ["Front door"], 5, "the rename to be picked up")
        assert hub.cameras()[0].motion == motion
        time.sleep(4)  # two more segments
        (status,) = hub.statuses()
        assert (status.state, status.since_ms, status.stats["connects"]) == ("recording", since, 1)
        changed_ms = now_ms()
        run_write(engine, repo_config.update_camera, cam.id, enabled=False)
        wait_for(lambda: state_of(hub, cam.id) == "stopped", 10, "the disabled camera to stop")
    finally:
        hub.stop()
    segs = repo_media.list_segments(engine, camera_id=cam.id)
    assert len(segs) >= 4
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs(b.start_ms - a.end_ms) <= 100, (a, b)
    # Whole 2-s segments (the demo camera's keyframes are 2 s apart) until the camera was disabled.
    assert all(s.duration_ms >= 1900 for s in segs[:-1] if s.end_ms < changed_ms), segs
    engine.dispose()
