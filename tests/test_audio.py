"""Audio: G.711 from a doorbell-like camera is recorded as AAC that plays; 'drop' records none."""

from __future__ import annotations

import time

import av
import pytest

from tests.support.clips import ClipSpec
from tests.support.hubtools import (
    camera,
    configure,
    decode_file,
    ffprobe_ok,
    segments,
    start_hub,
    state_of,
    wait_for,
)

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def test_g711_is_recorded_as_aac_and_drop_records_none(rtsp_camera, tmp_path):
    spec = ClipSpec(seconds=20, passages=())
    # One server each: gst-rtsp-server's shared media may drop audio for every client once one
    # client sets up video only (a real camera serves each client independently).
    cam, cam2 = rtsp_camera(spec, audio=True), rtsp_camera(spec, audio=True)
    data = tmp_path / "data"
    keep, drop = configure(
        data,
        [
            camera("Door", cam.url, audio="keep", detect=False),
            camera("Quiet", cam2.url, audio="drop", detect=False),
        ],
        segment_seconds=4.0,
    )
    hub = start_hub(data)
    try:
        wait_for(lambda: all(state_of(hub, c.id) == "recording" for c in (keep, drop)), 20, "recording")
        # Stop half a segment after a cut, not near one: a file's audio lags its video, so the file
        # before a cut is still taking its last audio packets for a moment after the cut, and a stop
        # right then would truncate it (a sleep of three segment lengths used to land right there).
        wait_for(lambda: len(segments(data, keep.id)) >= 3, 30, "three closed segments")
        time.sleep(2.0)
    finally:
        hub.stop()
    kept = segments(data, keep.id)[:-1]  # the last file, cut by the stop, may end before audio came
    assert len(kept) >= 2
    for s in kept:
        probe = ffprobe_ok(data / "recordings" / s.path)
        codecs = {st["codec_type"]: st["codec_name"] for st in probe["streams"]}
        assert codecs == {"video": "h264", "audio": "aac"}, codecs
        f = decode_file(data / "recordings" / s.path, read_codes=False)
        assert s.has_audio and f.has_audio
        # 8 kHz AAC: 1024 samples per frame, ~7.8 frames per second of video.
        seconds = s.duration_ms / 1000
        assert f.audio_frames >= 7.8 * seconds * 0.8, (f.audio_frames, seconds)
    # No audio lost at the cuts (audio lags video, so packets due before a cut arrive after it):
    # the audio of all files adds up to the video's span. Dropping them would cost ~130 ms per cut.
    # Each file's audio starts within one AAC frame (128 ms) of its video. Under heavy load the test
    # rig itself can lose an RTP audio packet (the pusher sends RTP over UDP to the RTSP server), so
    # one file may start up to a frame later; a packet dropped at every cut still fails.
    spans = [_audio_span(data / "recordings" / s.path, 0) for s in kept]
    starts = [first for first, _last in spans]
    assert all(0 <= first <= 260 for first in starts), starts
    assert sum(first > 130 for first in starts) <= 1, f"audio starts late in several files: {starts}"
    audio_ms = sum(last - first for first, last in spans)
    video_ms = sum(s.duration_ms for s in kept)
    assert audio_ms >= video_ms - 150, f"{video_ms - audio_ms:.0f} ms of audio missing over {len(kept)} files"
    for s in segments(data, drop.id):
        probe = ffprobe_ok(data / "recordings" / s.path)
        assert [st["codec_type"] for st in probe["streams"]] == ["video"]
        assert not s.has_audio


def _audio_span(path, start_ms: int) -> tuple[float, float]:
    """Wall ms of the first audio packet's start and of the last audio packet's end."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        pkts = [(p.pts, p.duration) for p in c.demux(a) if p.size and p.pts is not None]
        tb = a.time_base
    first = start_ms + float(pkts[0][0] * tb) * 1000
    last = start_ms + float((pkts[-1][0] + pkts[-1][1]) * tb) * 1000
    return first, last
