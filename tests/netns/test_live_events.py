"""Turning a camera's own events on and off while it records: only the events subscription starts
and stops; the record stream keeps its connection and its segment (the events peer serves captured
public payloads)."""

from __future__ import annotations

import threading
import time

from hub.api.local import LocalHub
from hub.api.types import CameraChange
from tests.peers.onvif_events_peer import OnvifEventsPeer
from tests.support.clips import ClipSpec
from tests.support.hubtools import camera, configure, segments, wait_for


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_camera_events_turned_on_and_off_live(rtsp_camera, tmp_path):
    cam = rtsp_camera(ClipSpec(seconds=20, passages=()))
    data = tmp_path / "data"
    with OnvifEventsPeer() as peer:
        (cfg,) = configure(
            data,
            [
                camera(
                    "Door",
                    cam.url,
                    driver="onvif",
                    detect=False,
                    events="local",
                    device={"host": f"127.0.0.1:{peer.port}", "clock_offset_s": 0.0},
                )
            ],
            segment_seconds=3.0,
        )
        api = LocalHub.start(data)
        try:
            wait_for(lambda: api.status().cameras[0].state == "recording", 20, "recording")
            since = api.status().cameras[0].since_ms
            assert not _threads(f"porchlight-evt-{cfg.id}")

            api.update_camera("Door", CameraChange(events="camera"))
            pipeline = api.hub._supervisor.pipeline(cfg.id)
            wait_for(lambda: pipeline.events is not None and pipeline.events.state == "ok", 20, "subscribed")
            peer.push("onvif_spec_motionalarm_on")
            wait_for(lambda: api.events(kinds=["camera_motion"]), 15, "camera motion")
            peer.push("onvif_spec_motionalarm_off")
            wait_for(lambda: api.events(kinds=["camera_motion"])[0].end_ms, 15, "the motion event to end")

            api.update_camera("Door", CameraChange(events="local"))
            wait_for(lambda: not _threads(f"porchlight-evt-{cfg.id}"), 15, "the subscription to end")
            t_off = time.time() * 1000
            peer.push("onvif_spec_motionalarm_on")
            time.sleep(3)
            assert [e for e in api.events() if e.start_ms > t_off] == [], "events heard after they were off"
            assert api.hub._supervisor.pipeline(cfg.id) is pipeline
            row = api.status().cameras[0]
            assert (row.state, row.since_ms, row.stats["connects"]) == ("recording", since, 1), row
            wait_for(lambda: len(segments(data, cfg.id)) >= 3, 20, "three segments")
        finally:
            api.close()
    segs = segments(data, cfg.id)
    assert len(segs) >= 3
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs(b.start_ms - a.end_ms) <= 100, (a, b)
    assert all(s.duration_ms >= 2900 for s in segs[:-1]), "a segment was cut by the change"
