"""Recording from a real RTSP server on 127.0.0.1: playable segments, no frame lost or repeated."""

from __future__ import annotations

import time

import pytest

from tests.support.clips import ClipSpec
from tests.support.hubtools import (
    camera,
    configure,
    decode_file,
    ffprobe_ok,
    final_stats,
    segments,
    start_hub,
    state_of,
    wait_for,
)

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def test_record_contiguous_segments(rtsp_camera, tmp_path):
    spec = ClipSpec(seconds=20, passages=())
    cam = rtsp_camera(spec)
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Porch", cam.url, detect=False)], segment_seconds=10.0)
    hub = start_hub(data)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        time.sleep(24)
    finally:
        hub.stop()

    segs = segments(data, cfg.id)
    assert len(segs) >= 3, segs
    root = data / "recordings"
    files = [decode_file(root / s.path) for s in segs]
    frame_s = 1 / spec.fps
    for seg, f in zip(segs, files, strict=True):
        ffprobe_ok(f.path)
        assert f.keyframe_first, f"{seg.path} does not start with a keyframe"
        assert len(f.times) == seg.frames > 0
        assert None not in f.codes, f"unreadable frame numbers in {seg.path}"
        steps = [b - a for a, b in zip(f.times, f.times[1:], strict=False)]
        assert all(abs(s - frame_s) < 0.002 for s in steps), f"timestamp hole inside {seg.path}"
    # Full segments are ~10 s, cut at keyframes (GOP 2 s).
    for seg in segs[1:-1]:
        assert 9.5 <= seg.duration_ms / 1000 <= 10.6, seg

    # Across file boundaries: decoded stream time and burned-in frame numbers both continue.
    for a, b in zip(files, files[1:], strict=False):
        assert abs(b.times[0] - (a.times[-1] + frame_s)) < 0.002, (
            f"gap or overlap between {a.path} and {b.path}"
        )
    codes = [c for f in files for c in f.codes]
    n = spec.frame_count
    breaks = [(i, x, y) for i, (x, y) in enumerate(zip(codes, codes[1:], strict=False)) if (x + 1) % n != y]
    assert not breaks, f"frames missing or repeated at {breaks[:5]}"

    stats = final_stats(data, cfg.id)
    assert stats["packets_received"] == stats["packets_written"] == len(codes)
    assert stats["repaired_ts"] == 0

    # Wall clock: consecutive segments butt up against each other (within a frame).
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs(b.start_ms - a.end_ms) <= 70, (a, b)
