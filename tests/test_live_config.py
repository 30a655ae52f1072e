"""Changing a camera while it records, through the Hub API: what applies live and what reconnects.

A rename, the mode, pre/post-roll, motion settings and zones, and detection on or off reach the
running camera without a new connection or a cut segment; a new stream URL or new credentials
reconnect; adding another camera leaves this one alone. The camera is a real RTSP server on
127.0.0.1 behind a counting relay, so "no reconnection" is what the camera saw, and the segments
are the files the hub wrote.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.api import HubApi
from hub.api.local import LocalHub
from hub.api.types import CameraChange, Credentials, MotionChange, NewCamera, Secret, Zone
from hub.core.times import now_ms
from hub.hub import HubOptions
from tests.support.apitools import ServedHub
from tests.support.clips import ClipSpec
from tests.support.hubtools import configure, segments, wait_for
from tests.support.tcp_counter import CountingRelay

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

USER, PASSWORD = "owner", "porch-light-9"
# One passage of 4 s in every 12-s loop: a motion event about every 12 s. Detection watches the
# record stream, so no barcode there (its digits change every frame: motion that never ends).
SPEC = ClipSpec(seconds=12, passages=((2.0, 6.0),), barcode=False)
SEGMENT_S = 6.0  # cut at the first keyframe (every 2 s) after 6 s
WHOLE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _status(api: HubApi, camera_id: str):
    return next(c for c in api.status().cameras if c.camera_id == camera_id)


def _motion_after(api: HubApi, camera_id: str, t_ms: int) -> list:
    return [e for e in api.events(camera=camera_id, kinds=["motion"]) if e.start_ms >= t_ms]


def _check_uncut(data: Path, camera_id: str, until_ms: int) -> int:
    """The camera's segments that started before ``until_ms`` are contiguous and full length but the
    last (which the change at ``until_ms`` may cut); returns how many there are."""
    segs = [s for s in segments(data, camera_id) if s.start_ms < until_ms]
    assert len(segs) >= 4, segs
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs(b.start_ms - a.end_ms) <= 100, f"a hole or an overlap between {a.path} and {b.path}"
    short = [s.path for s in segs[:-1] if s.duration_ms < (SEGMENT_S - 0.5) * 1000]
    assert not short, f"segments cut short (a restart): {short}"
    return len(segs)


@pytest.mark.parametrize("backend", ["socket", "local"])
def test_changes_apply_live_and_only_the_stream_reconnects(rtsp_camera, tmp_path, backend):
    cam = rtsp_camera(SPEC, user=USER, password=PASSWORD)
    data = tmp_path / "data"
    # Motion mode keeps everything for an hour: retention deletes nothing while the test looks.
    configure(data, [], segment_seconds=SEGMENT_S, motion_grace_s=3600.0)
    with CountingRelay(cam.port) as relay:
        if backend == "socket":
            api: HubApi = ServedHub.start(data)
        else:
            api = LocalHub.start(data, options=HubOptions(open_timeout_s=5.0))
        try:
            added = api.add_camera(
                NewCamera(name="Porch", url=relay.url("main"), mode="continuous", audio="drop"),
                Credentials(username=USER, password=Secret(PASSWORD)),
            )
            cid = added.id
            wait_for(lambda: _status(api, cid).state == "recording", 40, "recording")
            recording_since = _status(api, cid).since_ms
            ended = wait_for(
                lambda: [e for e in _motion_after(api, cid, 0) if e.end_ms], 40, "a first motion event, ended"
            )
            assert all(e.end_ms - e.start_ms < 10_000 for e in ended), ended  # one passage each
            connections = relay.connections

            # 1. Everything that is not the stream, at once; a mask over the whole picture.
            t_mask = now_ms()
            changed = api.update_camera(
                "Porch",
                CameraChange(
                    name="Front door",
                    mode="motion",
                    pre_roll_s=2.0,
                    post_roll_s=3.0,
                    max_age_days=7.0,
                    doorbell=True,
                    motion=MotionChange(
                        sensitivity=70, gap_s=2.0, zones=(Zone(name="all", polygon=WHOLE, kind="mask"),)
                    ),
                ),
            )
            assert (changed.name, changed.mode, changed.pre_roll_s) == ("Front door", "motion", 2.0)
            row = _status(api, cid)
            assert (row.name, row.state, row.since_ms) == ("Front door", "recording", recording_since)
            time.sleep(SPEC.seconds + 2)  # a whole loop: one passage went by under the mask
            assert _motion_after(api, cid, t_mask + 1500) == [], "the mask did not apply at once"

            # 2. The mask goes: the next passage is an event again (the check above could fail).
            t_open = now_ms()
            api.update_camera("Front door", CameraChange(motion=MotionChange(zones=())))
            wait_for(lambda: _motion_after(api, cid, t_open), SPEC.seconds + 8, "motion after the mask went")

            # 3. Detection off and on, then on a sub stream of its own: its thread is replaced (and
            # connects to the sub stream), the record stream is not.
            api.update_camera("Front door", CameraChange(detect=False))
            api.update_camera("Front door", CameraChange(detect=True))
            api.update_camera("Front door", CameraChange(sub_url=relay.url("sub")))
            wait_for(lambda: relay.connections == connections + 1, 15, "the detect stream's connection")
            wait_for(lambda: _status(api, cid).stats["detect"]["connects"] == 1, 15, "detection on the sub")
            connections += 1

            # 4. Another camera: this one is left alone.
            api.add_camera(NewCamera(name="Side", driver="demo", mode="continuous", detect=False))
            side = next(c.camera_id for c in api.status().cameras if c.name == "Side")
            wait_for(lambda: _status(api, side).state == "recording", 20, "the second camera recording")
            time.sleep(2 * SEGMENT_S)  # at least one more whole segment after all of that
            row = _status(api, cid)
            assert (row.state, row.since_ms) == ("recording", recording_since), row
            assert row.stats["connects"] == 1, row.stats
            assert relay.connections == connections, "a live change reconnected the camera"

            # 5. New credentials reconnect (the keyring, not the index, holds them).
            t_creds = now_ms()
            api.update_camera(
                "Front door", CameraChange(), Credentials(username=USER, password=Secret(PASSWORD))
            )
            wait_for(lambda: relay.connections > connections, 15, "a new connection with the credentials")
            wait_for(lambda: _status(api, cid).since_ms > t_creds, 30, "recording again")
            wait_for(lambda: _status(api, cid).state == "recording", 30, "recording again")
            connections = relay.connections

            # 6. A new stream URL reconnects.
            api.update_camera("Front door", CameraChange(url=relay.url("sub")))
            wait_for(lambda: relay.connections > connections, 15, "a connection to the new URL")
            wait_for(lambda: _status(api, cid).state == "recording", 30, "recording the new URL")
        finally:
            api.close()

    # Before the credentials changed, the camera's files are one unbroken run of whole segments.
    assert _check_uncut(data, cid, t_creds) >= 5
    after = [s for s in segments(data, cid) if s.start_ms >= t_creds]
    assert after, "nothing recorded after the reconnections"
