"""Motion detection end to end: real RTSP main + sub streams with a known motion schedule."""

from __future__ import annotations

import time

import pytest

from hub.core.model import Event
from hub.db import repo_media
from hub.db.engine import open_engine
from tests.support.clips import ClipSpec
from tests.support.hubtools import camera, configure, decode_file, segments, start_hub, state_of, wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def _events(data) -> list[Event]:
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    try:
        return repo_media.list_events(engine)
    finally:
        engine.dispose()


def _recorded_frames(data, camera_id):
    """[(wall ms, clip frame number)] of every recorded frame, mapped through the recorded timestamps."""
    out = []
    for seg in segments(data, camera_id):
        f = decode_file(data / "recordings" / seg.path)
        t0 = f.times[0]
        out += [
            (seg.start_ms + round((t - t0) * 1000), code) for t, code in zip(f.times, f.codes, strict=True)
        ]
    return out


def _appearances(frames, spec: ClipSpec) -> list[tuple[int, int]]:
    """(appear ms, disappear ms) of each passage seen completely or partly in the recording."""
    out = []
    first_frames = {spec._frames_in(s, e)[0]: spec._frames_in(s, e)[-1] for s, e in spec.passages}
    for i, (wall, code) in enumerate(frames):
        if code in first_frames and i > 0:
            last = first_frames[code]
            end = next((w for w, c in frames[i:] if c == last), frames[-1][0])
            out.append((wall, end))
    return out


def test_each_passage_is_one_event_on_time_and_motion_mode_keeps_pre_and_post_roll(rtsp_camera, tmp_path):
    # One passage per 40 s loop, so motion-mode retention has quiet footage to drop.
    spec = ClipSpec(seconds=40, passages=((6.0, 11.0),))
    cam = rtsp_camera(spec)
    data = tmp_path / "data"
    pre, post = 3.0, 4.0
    (cfg,) = configure(
        data,
        [camera("Porch", cam.url, sub_url=cam.sub_url, mode="motion", pre_roll_s=pre, post_roll_s=post)],
        segment_seconds=4.0,
        motion_grace_s=5.0,
        retention_interval_s=2.0,
    )
    hub = start_hub(data)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        time.sleep(62)  # at least one full passage, plus quiet footage older than the grace time
        hub.retention.run_once()  # one last pass with everything flushed
        kept = segments(data, cfg.id)
        # Before stopping: every event is closed and nothing else touches the index.
    finally:
        hub.stop()

    events = [e for e in _events(data) if e.camera_id == cfg.id]
    # Map passages through what was recorded *before* retention deleted anything: use the kept
    # segments, which (motion mode) are exactly the ones around events.
    frames = _recorded_frames(data, cfg.id)
    seen = _appearances(frames, spec)
    assert seen, "no passage appeared in the kept footage"
    for appear, _gone in seen:
        matches = [e for e in events if abs(e.start_ms - appear) <= 500]
        assert len(matches) == 1, f"passage at {appear}: events {[(e.start_ms - appear) for e in events]}"
    # One passage = one event: every event belongs to a passage.
    for e in events:
        assert any(abs(e.start_ms - a) <= 500 for a, _ in seen), f"event {e} matches no passage"
        assert e.end_ms is not None and e.end_ms > e.start_ms
        assert e.thumbnail and (data / e.thumbnail).stat().st_size > 0

    # Motion mode: footage around each event is kept (pre-roll to one GOP, post-roll), the rest dropped.
    assert kept, "motion mode kept nothing"
    rec_start, rec_end = kept[0].start_ms, kept[-1].end_ms
    for e in events:
        if e.start_ms - pre * 1000 < rec_start + 100 or e.end_ms + post * 1000 > rec_end:
            continue  # the window was cut by the start or the end of the recording
        covering = [
            s for s in kept if s.end_ms > e.start_ms - pre * 1000 and s.start_ms < e.end_ms + post * 1000
        ]
        first = min(s.start_ms for s in covering)
        last = max(s.end_ms for s in covering)
        assert first <= e.start_ms - pre * 1000 + 50, (
            f"pre-roll missing: kept from {first}, event {e.start_ms}"
        )
        assert first >= e.start_ms - pre * 1000 - spec.gop_s * 1000 - 4000 - 100  # at most one extra segment
        assert last >= e.end_ms + post * 1000 - 50, "post-roll missing"
        # Contiguous: no hole inside the kept window.
        covering.sort(key=lambda s: s.start_ms)
        for a, b in zip(covering, covering[1:], strict=False):
            assert b.start_ms - a.end_ms <= 100, (a, b)
    # Quiet footage (far from any event and older than the grace time) was deleted.
    windows = [(e.start_ms - pre * 1000, e.end_ms + post * 1000) for e in events]
    for s in kept:
        inside = any(s.end_ms > a and s.start_ms < b for a, b in windows)
        young = s.end_ms > kept[-1].end_ms - (pre + 5.0 + 3.0) * 1000
        assert inside or young or s.unobserved, f"segment {s.path} should have been deleted"


def test_noise_and_lighting_give_no_event_but_a_big_object_does(rtsp_camera, tmp_path):
    quiet = ClipSpec(seconds=24, passages=(), noise=8, brightness_steps=((6.0, 45), (14.0, -45)))
    big = ClipSpec(seconds=24, passages=(), noise=6, big_object=((8.0, 13.0),))
    cam_q, cam_b = rtsp_camera(quiet), rtsp_camera(big)
    data = tmp_path / "data"
    cq, cb = configure(
        data,
        [
            camera("Quiet", cam_q.url, sub_url=cam_q.sub_url, mode="motion"),
            camera("Big", cam_b.url, sub_url=cam_b.sub_url, mode="motion"),
        ],
    )
    hub = start_hub(data)
    try:
        wait_for(lambda: all(state_of(hub, c.id) == "recording" for c in (cq, cb)), 20, "recording")
        time.sleep(30)  # more than one full loop of each clip
    finally:
        hub.stop()
    events = _events(data)
    assert [e for e in events if e.camera_id == cq.id] == [], "noise or a lighting change made an event"
    big_events = [e for e in events if e.camera_id == cb.id]
    assert 1 <= len(big_events) <= 2, big_events  # one per loop of the clip seen
