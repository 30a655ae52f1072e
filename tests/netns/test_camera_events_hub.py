"""A camera's own events drive the hub: camera-events-only motion mode, doorbell presses, and
footage kept while the event source is down (the events peer serves captured public payloads)."""

from __future__ import annotations

import threading
import time

from hub.core.bus import EventStarted
from hub.db import repo_media
from hub.db.engine import open_engine
from tests.peers.onvif_events_peer import OnvifEventsPeer
from tests.support.clips import ClipSpec
from tests.support.hubtools import camera, configure, segments, start_hub, state_of, wait_for


def _events(data):
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    try:
        return repo_media.list_events(engine)
    finally:
        engine.dispose()


def test_camera_events_drive_motion_mode_and_doorbell(rtsp_camera, tmp_path):
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
                    mode="motion",
                    events="camera",
                    doorbell=True,
                    pre_roll_s=2.0,
                    post_roll_s=2.0,
                    device={"host": f"127.0.0.1:{peer.port}", "clock_offset_s": 0.0},
                )
            ],
            segment_seconds=3.0,
            motion_grace_s=5.0,
        )
        hub = start_hub(data)
        seen: list = []
        hub.bus.subscribe(lambda e: seen.append(e), EventStarted)
        try:
            wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
            pipeline = hub._supervisor.pipeline(cfg.id)
            wait_for(lambda: pipeline.events.state == "ok", 20, "the camera's event subscription")
            t_ok = time.time() * 1000
            # Camera-events-only: nothing decodes the video for detection.
            assert not [t for t in threading.enumerate() if t.name == f"porchlight-det-{cfg.id}"]

            t_on = time.time() * 1000
            peer.push("onvif_spec_motionalarm_on")
            wait_for(lambda: any(e.kind == "camera_motion" for e in _events(data)), 15, "camera motion")
            time.sleep(2)
            peer.push("onvif_spec_motionalarm_off")
            t_off = time.time() * 1000
            wait_for(
                lambda: any(e.kind == "camera_motion" and e.end_ms for e in _events(data)),
                15,
                "the camera motion event to end",
            )
            t_press = time.time() * 1000
            peer.push("reolink_doorbell_visitor")
            wait_for(lambda: any(e.kind == "doorbell" for e in _events(data)), 15, "a doorbell event")
            time.sleep(6)  # steady, watched recording (segments are ~4 s: cuts wait for a keyframe)

            # The camera's event source goes away: footage recorded meanwhile is kept (unobserved).
            peer.stop()
            t_down = time.time() * 1000
            wait_for(lambda: pipeline.events.state != "ok", 40, "the event source reported down")
            t_seen_down = time.time() * 1000
            time.sleep(12)  # several segments long
            peer.start()
            wait_for(lambda: pipeline.events.state == "ok", 60, "the event source back")
            t_up = time.time() * 1000
            # Until a whole segment recorded after the source came back is in the index: a fixed
            # sleep of one segment length could end before any cut after t_up + 500 ms.
            wait_for(
                lambda: any(s.start_ms > t_up + 500 for s in segments(data, cfg.id)),
                20,
                "a segment recorded after the source came back",
            )
        finally:
            hub.stop()

    events = _events(data)
    (motion,) = [e for e in events if e.kind == "camera_motion"]
    assert abs(motion.start_ms - t_on) < 1500, motion.start_ms - t_on
    assert abs(motion.end_ms - t_off) < 1500, motion.end_ms - t_off
    assert motion.source == "camera"
    (bell,) = [e for e in events if e.kind == "doorbell"]
    assert abs(bell.start_ms - t_press) < 1500 and bell.end_ms == bell.start_ms
    assert any(isinstance(e, EventStarted) and e.event.kind == "doorbell" for e in seen)  # for the pop-up
    segs = segments(data, cfg.id)
    # t_up is taken by a poll (every 0.2 s) after the source came back: a segment cut in between
    # starts watched, so only those that started a second before t_up surely began in the outage.
    during = [s for s in segs if s.end_ms > t_seen_down and s.start_ms < t_up - 1000]
    assert during and all(s.unobserved for s in during), "footage of the outage is not marked unobserved"
    steady = [s for s in segs if s.start_ms > t_ok + 500 and s.end_ms < t_down - 500]
    assert steady and all(not s.unobserved for s in steady), "footage watched by camera events is unobserved"
    after = [s for s in segs if s.start_ms > t_up + 500]
    assert after and all(not s.unobserved for s in after), "footage after the source came back is unobserved"
