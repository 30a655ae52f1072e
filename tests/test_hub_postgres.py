"""A hub can keep its index in PostgreSQL (several hubs sharing one index): record, detect,
index and query exactly as with SQLite."""

from __future__ import annotations

import dataclasses
import time

from hub.core.model import CameraConfig
from hub.db import repo_config, repo_media
from hub.db.engine import open_engine
from hub.db.tx import run_write
from hub.db.upgrade import migrate
from hub.hub import Hub
from tests.support.hubtools import state_of, wait_for

pytest_plugins = ["tests.support.postgres"]


def test_hub_records_into_a_postgresql_index(postgres_url, tmp_path):
    engine = open_engine(postgres_url)
    migrate(engine)
    cam = run_write(
        engine, repo_config.add_camera, CameraConfig(id="", name="Porch", driver="demo", mode="continuous")
    )
    settings = repo_config.load_settings(engine)
    run_write(
        engine,
        repo_config.save_settings,
        dataclasses.replace(settings, segment_seconds=2.0, min_free_bytes=64 * 1024**2),
    )
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
