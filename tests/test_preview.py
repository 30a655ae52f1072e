"""Live view on demand: with detection off, nothing is decoded unless somebody watches."""

from __future__ import annotations

import threading
import time

from hub.pipeline import camera as camera_module
from tests.support.hubtools import camera, configure, start_hub, state_of, wait_for


def _det_threads(cam_id: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == f"porchlight-det-{cam_id}" and t.is_alive()]


def test_preview_decoder_runs_only_while_watched(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Yard", None, driver="demo", detect=False)])
    hub = start_hub(data)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        time.sleep(2)
        assert _det_threads(cfg.id) == [], "a decoder runs although nobody watches"
        assert hub.latest_frame(cfg.id) is None  # the first request starts the live view
        frame = wait_for(lambda: hub.latest_frame(cfg.id), 10, "a live frame")
        ts, img = frame
        assert img.width == 640 and abs(ts - time.time() * 1000) < 5000
        assert _det_threads(cfg.id)
        pipeline = hub._supervisor.pipeline(cfg.id)
        monkeypatch.setattr(camera_module, "PREVIEW_IDLE_S", 0.5)
        time.sleep(1.0)  # nobody asks any more
        pipeline.reap_idle_preview()
        wait_for(lambda: not _det_threads(cfg.id), 10, "the live view to stop")
        assert state_of(hub, cfg.id) == "recording"  # recording never depended on it
        assert wait_for(lambda: hub.latest_frame(cfg.id) or hub.latest_frame(cfg.id), 10, "the view again")
    finally:
        hub.stop()
