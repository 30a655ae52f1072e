"""The issue's "done when", end to end through the CLI with no URL typed: a video doorbell (the
events peer with a media service, fed by a real RTSP camera, announced by a WS-Discovery responder)
is discovered, added by ONVIF (roles chosen, doorbell detected from its event topics, motion from
the camera's own events), and ``porchlight serve`` records motion-triggered footage from the
camera's motion events and lists a doorbell press. Inside the loopback-only namespace."""

from __future__ import annotations

import time
from pathlib import Path

from tests.peers.onvif_events_peer import OnvifEventsPeer
from tests.peers.wsd_responder import WsdResponder
from tests.support.clips import ClipSpec
from tests.support.clitools import Serve, cli_json, ok, parse_z, run_cli, wait_state, wait_until
from tests.support.hubtools import decode_file, ffprobe_ok


def test_doorbell_discover_add_and_record_from_camera_events(rtsp_camera, tmp_path):
    cam = rtsp_camera(ClipSpec(seconds=20, passages=()))  # a still scene: local detection would see nothing
    data = tmp_path / "data"
    streams = {"main": (cam.url, 1280, 720), "sub": (cam.sub_url, 640, 360)}
    with (
        OnvifEventsPeer(streams=streams) as peer,
        WsdResponder(name="Front Door", xaddrs=(f"http://127.0.0.1:{peer.port}/onvif/device_service",)),
    ):
        rows = [r for r in cli_json(data, "discover", "--timeout", "2") if r["kind"] == "onvif"]
        assert [(r["name"], r["needs_auth"]) for r in rows] == [("Front Door", False)], rows
        host = rows[0]["xaddr"].split("/")[2]

        ok(run_cli(data, "storage", "set", "--min-free", "64M"))
        out = ok(
            run_cli(
                data,
                "cameras",
                "add",
                "Door",
                "--onvif",
                host,
                "--mode",
                "motion",
                "--events",
                "camera",
                "--pre-roll",
                "2",
                "--post-roll",
                "2",
            )
        ).stdout
        assert "doorbell" in out
        (row,) = cli_json(data, "cameras", "list")
        assert (row["url"], row["sub_url"]) == (cam.url, cam.sub_url)
        assert row["doorbell"] is True and row["events"] == "camera" and row["mode"] == "motion"
        probe = cli_json(data, "cameras", "probe", "Door")
        assert {p["role"]: p["token"] for p in probe["profiles"] if p["role"]} == {
            "record": "main",
            "detect": "sub",
        }
        assert "tns1:RuleEngine/MyRuleDetector/Visitor" in probe["event_topics"]

        with Serve(data, log=tmp_path / "serve.log") as serve:
            wait_state(data, "Door", "recording", 60)
            wait_until(lambda: peer.active_subscriptions, 30, "the camera's event subscription")
            time.sleep(6)  # footage that nobody marked: motion mode keeps none of it
            t_on = time.time()
            peer.push("onvif_spec_motionalarm_on")
            time.sleep(4)
            peer.push("onvif_spec_motionalarm_off")
            t_off = time.time()
            peer.push("reolink_doorbell_visitor")
            t_press = time.time()
            wait_until(
                lambda: (
                    {"camera_motion", "doorbell"} <= {e["kind"] for e in cli_json(data, "events", "list")}
                ),
                20,
                "the motion and doorbell events",
            )
            time.sleep(10)  # post-roll, and the segment after it closes
            assert serve.stop() == 0, serve.output()
        assert "Traceback" not in serve.output()

    events = cli_json(data, "events", "list", "--camera", "Door")
    (motion,) = [e for e in events if e["kind"] == "camera_motion"]
    (bell,) = [e for e in events if e["kind"] == "doorbell"]
    assert abs(parse_z(motion["start"]) - t_on) < 1.5 and abs(parse_z(motion["end"]) - t_off) < 1.5
    assert abs(parse_z(bell["start"]) - t_press) < 1.5

    segs = cli_json(data, "recordings", "list", "--camera", "Door")
    assert segs, "nothing recorded"
    covered = [s for s in segs if parse_z(s["start"]) <= t_on - 1 and parse_z(s["end"]) >= t_on]
    assert covered, f"the motion's pre-roll is not in any kept segment: {segs}"
    quiet = [s for s in segs if parse_z(s["end"]) < t_on - 4]
    assert not quiet, f"motion mode kept footage from before any event: {quiet}"
    for s in segs:
        ffprobe_ok(Path(s["path"]))
        f = decode_file(Path(s["path"]), read_codes=False)
        assert f.keyframe_first and len(f.times) == s["frames"] > 0
