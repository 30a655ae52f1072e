"""What only a running hub does, through the Hub API: manual events (a default length, ended early,
extended, ended at the hub's stop), snapshots, footage recorded into a protected window, protection
notices, and retention keeping a manual event's footage in motion mode.

The shared part runs against the live hub in this process and a real ``porchlight serve`` over its
socket, recording the demo camera; index-only refuses what needs a running hub.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import msgspec
import numpy as np
import pytest

from hub.api import HubApi
from hub.api.errors import ConflictError, NotFoundError, UnavailableError, ValidationError
from hub.api.index import IndexOnly
from hub.api.local import LocalHub
from hub.api.types import (
    MAX_SNAPSHOT_BYTES,
    CameraChange,
    EventEnded,
    EventStarted,
    NewCamera,
    ProtectionChanged,
    RecordingAdded,
)
from hub.core.times import now_ms
from hub.db import repo_media
from hub.hub import HubOptions
from hub.live import snapshot
from tests.support.apitools import ServedHub, open_api
from tests.support.e2e import assert_plays
from tests.support.hubtools import camera, configure, wait_for
from tests.test_api_notices import collect, of

# Detection off: no motion event mixes with the manual ones (and a snapshot must start decoding).
QUIET = NewCamera(name="Demo", driver="demo", mode="continuous", detect=False)


@pytest.fixture(params=["local", "socket"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[HubApi, Path]]:
    """(api, data dir) of a running hub recording the quiet demo camera in 2-s segments."""
    data = tmp_path / "data"
    configure(data, [], segment_seconds=2.0)
    api = open_api(request.param, data)
    try:
        api.add_camera(QUIET)
        yield api, data
    finally:
        api.close()


# -- manual events ---------------------------------------------------------------------------------------


def test_a_manual_event_ends_by_itself_after_its_length_and_is_published_with_its_id(live):
    api, data = live
    with api.subscribe(["event_started", "event_ended"]) as sub:
        started = api.start_event("Demo", duration_s=2)
        assert (started.kind, started.camera, started.source, started.end_ms) == (
            "manual",
            "Demo",
            "local",
            None,
        )
        assert started.id > 0 and abs(started.start_ms - now_ms()) < 5_000
        assert api.events(kinds=["manual"]) == [started]  # stored before the call returned
        got = collect(sub, lambda g: bool(of(EventEnded, g)), 15)
    assert [n.event.id for n in of(EventStarted, got)] == [started.id]
    (ended,) = [n.event for n in of(EventEnded, got)]
    assert ended.id == started.id and ended.end_ms == started.start_ms + 2_000  # exactly its length
    assert api.events(kinds=["manual"]) == [ended]
    with pytest.raises(NotFoundError, match=f"no manual event {started.id} is going on"):
        api.end_event(started.id)


def test_a_manual_event_is_extended_ended_early_and_refused_politely(live):
    api, _data = live
    first = api.start_event("demo", 30)
    again = api.start_event("Demo", 5)  # one at a time per camera: the same event, not a second one
    assert again.id == first.id and again.end_ms is None
    ended = api.end_event(first.id)
    assert ended.id == first.id and ended.end_ms is not None and 0 <= ended.end_ms - first.start_ms < 10_000
    assert [(e.id, e.end_ms) for e in api.events(kinds=["manual"])] == [(first.id, ended.end_ms)]
    for duration, rule in ((0.5, "min"), (3601, "max")):
        with pytest.raises(ValidationError) as info:
            api.start_event("Demo", duration)
        assert (info.value.field, info.value.rule) == ("duration_s", rule)
    with pytest.raises(NotFoundError):
        api.end_event(first.id + 1000)
    with pytest.raises(NotFoundError, match="Garden"):
        api.start_event("Garden")
    api.update_camera("Demo", CameraChange(enabled=False))
    with pytest.raises(ConflictError, match="Demo is disabled"):
        api.start_event("Demo")
    assert len(api.events(kinds=["manual"])) == 1  # nothing was stored by a refusal


def test_stopping_the_hub_ends_an_open_manual_event(live):
    api, data = live
    started = api.start_event("Demo", 600)
    api.stop()
    if isinstance(api, ServedHub):
        assert api.serve.wait(30) == 0
    with IndexOnly.open(data) as index:
        (ended,) = index.events(kinds=["manual"])
    assert ended.id == started.id and ended.end_ms is not None
    assert 0 <= ended.end_ms - started.start_ms < 60_000


# -- snapshots ---------------------------------------------------------------------------------------------


def test_a_snapshot_is_the_camera_s_picture_now(live):
    api, _data = live
    api.add_camera(msgspec.structs.replace(QUIET, name="Side", detect=True))
    for name in ("Demo", "Side"):  # Demo decodes nothing until the snapshot asks
        shot = api.snapshot(name)
        picture = cv2.imdecode(np.frombuffer(shot.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None, f"{name}: not a JPEG"
        assert picture.shape[:2] == (shot.height, shot.width) and shot.width >= 160
        assert shot.camera == name and abs(shot.taken_ms - now_ms()) < 10_000
        assert float(picture.std()) > 5, "a flat picture: the demo scene has texture"
    api.update_camera("Side", CameraChange(enabled=False))
    wait_for(lambda: api.camera("Side").enabled is False, 5, "Side disabled")
    with pytest.raises(UnavailableError, match="no picture from Side"):
        api.snapshot("Side")
    with pytest.raises(NotFoundError):
        api.snapshot("Garden")


# -- protection while recording ------------------------------------------------------------------------


def test_footage_recorded_into_a_protected_window_is_kept_from_the_start(live):
    api, _data = live
    with api.subscribe(["recording", "protection"]) as sub:
        hold = api.protect("Demo", now_ms(), now_ms() + 600_000, "hold", "request 42")
        got = collect(sub, lambda g: len(of(RecordingAdded, g)) >= 2, 30)
        released = api.release(hold.id)
        tail = collect(sub, lambda g: bool(of(ProtectionChanged, g)), 10)
    (added,) = of(ProtectionChanged, got)
    assert added.protection == hold and not added.released
    (gone,) = of(ProtectionChanged, tail)
    assert gone.protection == released == hold and gone.released
    new = [n.recording for n in of(RecordingAdded, got) if n.recording.end_ms > hold.start_ms]
    assert new and all(r.kept_for == ("hold",) and r.protected for r in new), new
    assert not api.recordings(start_ms=new[-1].start_ms)[0].kept_for  # released: no longer kept


# -- index-only --------------------------------------------------------------------------------------------


def test_index_only_refuses_what_needs_a_running_hub(tmp_path):
    data = tmp_path / "data"
    configure(data, [camera("Demo", None, driver="demo")])
    with IndexOnly.open(data) as api:
        for call in (lambda: api.start_event("Demo"), lambda: api.end_event(1), lambda: api.snapshot("Demo")):
            with pytest.raises(UnavailableError, match="no hub runs on .* start one"):
                call()
        kept = api.protect("Demo", 0, 10_000, "star")  # protection is the index's: it works here
        assert api.protections() == [kept]


# -- retention ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_motion_mode_keeps_a_manual_event_s_footage(tmp_path):
    """Motion mode with no visitor in the scene: only the manual event's footage (with pre- and
    post-roll) is kept, and what detection did not watch."""
    pre_s, post_s, grace_s = 1.0, 1.0, 5.0
    data = tmp_path / "data"
    empty_porch = {"period_s": "600", "visit_s": "0"}  # nobody crosses: no motion event
    configure(
        data,
        [
            camera(
                "Porch",
                None,
                driver="demo",
                mode="motion",
                pre_roll_s=pre_s,
                post_roll_s=post_s,
                device=empty_porch,
            )
        ],
        segment_seconds=2.0,
        retention_interval_s=3600.0,
        motion_grace_s=grace_s,
    )
    with LocalHub.start(data, options=HubOptions(open_timeout_s=5.0)) as api:
        wait_for(lambda: len(api.recordings()) >= 3, 30, "three segments before the event")
        ev = api.start_event("Porch", duration_s=2)
        wait_for(lambda: api.events(kinds=["manual"])[0].end_ms is not None, 10, "the event's end")
        ended = api.events(kinds=["manual"])[0]
        assert ended.end_ms is not None
        wait_for(
            lambda: sum(r.start_ms > ended.end_ms + post_s * 1000 for r in api.recordings()) >= 3,
            30,
            "three segments after the event",
        )
        api.update_camera("Porch", CameraChange(enabled=False))
        wait_for(lambda: api.status().cameras[0].state == "stopped", 10, "the camera stopped")
        time.sleep(0.5)  # its last segment is indexed
        segs = repo_media.list_segments(api.hub.engine)
        later = max(s.end_ms for s in segs) + round((pre_s + grace_s) * 1000) + 1000
        plan = api.hub.retention.run_once(now=later)
        kept = {r.id for r in api.recordings()}
        assert [e.kind for e in api.events()] == ["manual"]
    lo, hi = ev.start_ms - pre_s * 1000, ended.end_ms + post_s * 1000
    needed = {s.id for s in segs if s.start_ms <= hi and s.end_ms > lo}
    unwatched = {s.id for s in segs if s.unobserved}
    assert needed and plan is not None and plan.deletions
    assert kept == needed | unwatched, (sorted(needed), sorted(unwatched), sorted(kept))
    assert len(kept) < len(segs) - 2, "footage before and after the event went"
    for s in segs:
        if s.id in kept:
            assert_plays(data / "recordings" / s.path, frames=s.frames)


def test_a_snapshot_too_big_for_a_reply_is_made_smaller_until_it_fits():
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)  # JPEG's worst case
    frame = av.VideoFrame.from_ndarray(noise, format="bgr24")
    full, w, h = snapshot.encode(frame, 10**8)
    assert (w, h) == (1920, 1080) and len(full) > MAX_SNAPSHOT_BYTES
    small, w, h = snapshot.encode(frame, MAX_SNAPSHOT_BYTES)
    assert len(small) <= MAX_SNAPSHOT_BYTES and w < 1920 and abs(w / h - 16 / 9) < 0.02
    picture = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (h, w)
    with pytest.raises(ValueError, match="does not fit"):
        snapshot.encode(frame, 1000)
