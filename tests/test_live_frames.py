"""Live frames through shared memory: a lease names a slot the hub fills with the watched stream's
newest picture; the hub decodes only what is watched and removes its slots when it stops, or at the
next start after a kill. Real hubs (in-process and a ``porchlight serve``), real decoders."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from hub.api.client import SocketHub
from hub.api.errors import UnavailableError
from hub.api.frames import FrameReader, SlotWriter, slot_path
from hub.api.local import LocalHub
from hub.pipeline import camera as camera_module
from tests.support.apitools import ServedHub, frames_for
from tests.support.clips import ClipSpec
from tests.support.hubtools import camera, configure, start_hub, state_of, wait_for


def _decoders(cam_id: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == f"porchlight-det-{cam_id}" and t.is_alive())


def test_a_watched_camera_shows_the_frames_detection_decodes(tmp_path):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Porch", None, driver="demo")])  # detection on, 10 fps
    hub = start_hub(data)
    api = LocalHub(hub)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        assert _decoders(cfg.id) == 1
        lease = api.watch("Porch")
        assert lease.frames == str(slot_path(data, cfg.id, "detect"))
        assert api.status().cameras[0].watched == ("detect",)
        with FrameReader(lease.frames) as reader:
            wait_for(lambda: reader.read() is not None, 10, "a first picture")
            got = frames_for(reader, 2.5)
        assert len(got) >= 8, len(got)  # a poll finds a newer picture (10 fps camera, 10 polls/s)
        assert all(b.seq > a.seq for a, b in zip(got, got[1:], strict=False))
        assert {(f.width, f.height) for f in got} == {(640, 360)}
        assert abs(got[-1].ts_ms - time.time() * 1000) < 3000
        assert len({f.data for f in got}) > 1  # the picture moves (the demo's clock)
        assert _decoders(cfg.id) == 1  # the tiles reuse detection's frames: no second decoder
        # A second client of the same stream shares the slot; it stays until the last lease ends.
        again = api.watch("Porch")
        assert again.frames == lease.frames
        api.unwatch(lease.id)
        assert Path(lease.frames).exists()
        api.unwatch(again.id)
        assert not Path(lease.frames).exists()
        # No room for a slot (here: something else in its place): a clear error, no lease, no leftovers.
        Path(lease.frames).mkdir()
        try:
            with pytest.raises(UnavailableError, match="cannot open a live view of Porch"):
                api.watch("Porch")
            assert hub.viewers.leases() == [] and api.status().cameras[0].watched == ()
            assert [p.name for p in Path(lease.frames).parent.glob(Path(lease.frames).name + "*")] == [
                Path(lease.frames).name
            ]
        finally:
            Path(lease.frames).rmdir()
        assert state_of(hub, cfg.id) == "recording"
    finally:
        hub.stop()


def test_without_detection_every_frame_is_decoded_only_while_watched(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Yard", None, driver="demo", detect=False)])
    hub = start_hub(data)
    api = LocalHub(hub)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        time.sleep(1)
        assert _decoders(cfg.id) == 0, "a decoder runs although nobody watches"
        lease = api.watch("Yard")
        assert _decoders(cfg.id) == 1
        with FrameReader(lease.frames) as reader:
            wait_for(lambda: reader.read() is not None, 10, "a first picture")
            got = frames_for(reader, 2.5)
        # Every frame, not the keyframes a snapshot would settle for (one each 2 s).
        assert len(got) >= 8, len(got)
        api.unwatch(lease.id)
        assert not Path(lease.frames).exists()
        pipeline = hub._supervisor.pipeline(cfg.id)
        assert pipeline.detect is not None and pipeline.detect.roles == ()  # back to keyframes
        monkeypatch.setattr(camera_module, "PREVIEW_IDLE_S", 0.3)
        time.sleep(0.5)
        pipeline.reap_idle_preview()
        wait_for(lambda: _decoders(cfg.id) == 0, 10, "the decoder to stop")
        assert state_of(hub, cfg.id) == "recording"
    finally:
        hub.stop()


@pytest.mark.rtsp
def test_the_record_stream_is_decoded_only_while_a_full_size_view_is_open(rtsp_camera, tmp_path):
    cam = rtsp_camera(ClipSpec(width=320, height=180, seconds=10))  # sub stream: 160x90
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Drive", cam.url, sub_url=cam.sub_url)])
    hub = start_hub(data)
    api = LocalHub(hub)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        wait_for(lambda: _decoders(cfg.id) == 1, 10, "detection on the sub stream")
        tile = api.watch("Drive")
        full = api.watch("Drive", "record")
        assert full.frames != tile.frames and full.frames.endswith(".record")
        assert _decoders(cfg.id) == 2  # detection's, and one for the record stream while it is watched
        with FrameReader(tile.frames) as small, FrameReader(full.frames) as big:
            s = wait_for(small.read, 10, "a tile picture")
            b = wait_for(big.read, 10, "a full-size picture")
            assert (s.width, s.height, b.width, b.height) == (160, 90, 320, 180)
            assert len(frames_for(big, 2.5)) >= 8  # 15 fps: every frame decoded, not keyframes
        api.unwatch(full.id)
        wait_for(lambda: _decoders(cfg.id) == 1, 10, "the full-size decoder to stop")
        assert Path(tile.frames).exists() and not Path(full.frames).exists()
        api.unwatch(tile.id)
        assert state_of(hub, cfg.id) == "recording"
    finally:
        hub.stop()


@pytest.mark.slow
def test_slots_end_with_their_client_and_a_killed_hubs_slots_go_at_the_next_start(tmp_path):
    data = tmp_path / "data"
    configure(data, [camera("Porch", None, driver="demo")])
    api = ServedHub.start(data)
    try:
        lease = api.watch("Porch")
        path = Path(lease.frames)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        with FrameReader(path) as reader:
            wait_for(reader.read, 15, "a picture from the serve")  # another process's slot
        other = SocketHub.open(data)  # a second client, whose connection just ends
        second = other.watch("Porch", "record")
        assert Path(second.frames).exists()
        other.close()
        wait_for(lambda: not Path(second.frames).exists(), 10, "the slot of the client that left to go")
        stray = SlotWriter(slot_path(data, "gone-camera", "detect"), 64)  # as a killed hub leaves one
        stray.close(unlink=False)
        api.serve.send(signal.SIGKILL)
        api.serve.proc.wait(10)
        assert path.exists(), "a killed hub cannot remove its slots"
    finally:
        api.close()  # (the serve is dead already: its socket is closed, its log too)
    again = ServedHub.start(data)
    try:
        assert not path.exists() and not slot_path(data, "gone-camera", "detect").exists()
        lease = again.watch("Porch")
        assert Path(lease.frames).exists()
    finally:
        again.close()  # stops the serve: its slots go with it
    assert not Path(lease.frames).exists()
