"""USB cameras end to end through a real Hub: capture -> H.264 encode -> segments + motion.

The capture path is the one V4L2 uses (``UsbSource``: ``av.open(device, format=..., options=...)``,
decode, yuv420p, libx264), fed by real raw-frame inputs: FFmpeg's ``lavfi`` test source, and a
FIFO "device node" that a writer thread fills with raw frames and removes to simulate unplugging.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pytest

from drivers.base import StreamRequest
from hub.core.model import CameraConfig
from hub.db import repo_media
from hub.db.engine import open_engine
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

pytestmark = pytest.mark.slow

FPS = 15


def _thread_cpu(names: set[str]) -> float:
    ids = {t.native_id for t in threading.enumerate() if t.name in names}
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)


def _events(data: Path, cam_id: str):
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    try:
        return repo_media.list_events(engine, camera_id=cam_id)
    finally:
        engine.dispose()


def _check_segments(data: Path, segs, fps: float = FPS) -> tuple[int, float]:
    frames, seconds = 0, 0.0
    for seg in segs:
        path = data / "recordings" / seg.path
        probe = ffprobe_ok(path)
        assert [s["codec_name"] for s in probe["streams"]] == ["h264"]
        dec = decode_file(path, read_codes=False)
        assert dec.keyframe_first and len(dec.times) == seg.frames
        steps = np.diff(dec.times)
        assert (steps > 0).all(), "timestamps must increase"
        if len(steps) >= 3:  # (the last file may hold a single keyframe cut just before stopping)
            assert abs(float(np.median(steps)) - 1 / fps) < 0.2 / fps
        frames += seg.frames
        seconds += seg.duration_ms / 1000
    return frames, seconds


def test_usb_camera_records_playable_h264_and_runs_motion(tmp_path):
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [
            camera(
                "Desk",
                f"testsrc2=size=640x360:rate={FPS}",
                driver="usb",
                device={"format": "lavfi", "size": "640x360", "fps": FPS},
            )
        ],
        segment_seconds=4.0,
    )
    hub = start_hub(data)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        names = {f"porchlight-rec-{cfg.id}", f"porchlight-det-{cfg.id}"}
        rec0, det0 = _thread_cpu({f"porchlight-rec-{cfg.id}"}), _thread_cpu({f"porchlight-det-{cfg.id}"})
        proc0, t0 = sum(psutil.Process().cpu_times()[:2]), time.monotonic()
        time.sleep(14)
        elapsed = time.monotonic() - t0
        rec = _thread_cpu({f"porchlight-rec-{cfg.id}"}) - rec0
        det = _thread_cpu({f"porchlight-det-{cfg.id}"}) - det0
        proc = sum(psutil.Process().cpu_times()[:2]) - proc0
        assert names <= {t.name for t in threading.enumerate()}
        assert state_of(hub, cfg.id) == "recording"
    finally:
        hub.stop()
    print(
        f"\nUSB 640x360@{FPS} CPU, % of one core: capture+encode+mux thread {100 * rec / elapsed:.1f}, "
        f"detect thread {100 * det / elapsed:.1f}, whole process {100 * proc / elapsed:.1f}"
    )
    segs = segments(data, cfg.id)
    assert len(segs) >= 3
    frames, seconds = _check_segments(data, segs)
    assert abs(frames / seconds - FPS) < 0.1 * FPS, (frames, seconds)
    assert abs(frames - FPS * (segs[-1].end_ms - segs[0].start_ms) / 1000) <= 0.1 * frames
    assert abs(segs[0].start_ms - time.time() * 1000) < 60_000  # wall-clock stamped, not media time
    stats = final_stats(data, cfg.id)
    assert stats["detect"]["analysed"] > 20 and stats["detect"]["dropped"] == 0
    assert stats["detect"]["decoded"] == 0  # detection took the raw pictures: no H.264 decoded again
    assert [e.kind for e in _events(data, cfg.id)][:1] == ["motion"]  # testsrc2 moves


class FifoCamera:
    """A device node that comes and goes: a FIFO fed with raw yuv420p frames by a writer thread."""

    def __init__(self, path: Path, width: int = 320, height: int = 240, fps: int = FPS) -> None:
        self.path, self.width, self.height, self.fps = path, width, height, fps
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared: the device hangs (open, but sends nothing)
        self._running.set()
        self._thread: threading.Thread | None = None
        self.frames = 0

    def plug(self) -> None:
        os.mkfifo(self.path)
        self._stop.clear()
        self._thread = threading.Thread(target=self._feed, name="usb-test-fifo", daemon=True)
        self._thread.start()

    def hang(self) -> None:
        """Stay plugged in and open but deliver nothing (a hung camera: the reader blocks)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def unplug(self) -> None:
        self._stop.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join(10)

    def _frame(self, n: int) -> bytes:
        w, h = self.width, self.height
        y = np.full((h, w), 90, np.uint8)
        x = (n * 8) % (w - 40)
        y[h // 3 : h // 3 + 60, x : x + 40] = 230  # a bright block crossing the picture
        return y.tobytes() + bytes([128]) * (w * h // 2)

    def _feed(self) -> None:
        fd = None
        try:
            while not self._stop.is_set() and fd is None:
                try:  # wait for a reader without blocking the thread forever
                    fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    self._stop.wait(0.05)
            if fd is None:
                return
            os.set_blocking(fd, True)
            t0, sent = time.monotonic(), 0
            while not self._stop.is_set():
                if not self._running.is_set():
                    self._running.wait()
                    t0, sent = time.monotonic(), 0
                os.write(fd, self._frame(self.frames))
                self.frames += 1
                sent += 1
                self._stop.wait(max(0.0, t0 + sent / self.fps - time.monotonic()))
        except BrokenPipeError:
            pass
        finally:
            os.unlink(self.path)  # the node disappears first, then the stream ends
            if fd is not None:
                os.close(fd)


def _plugged_fifo_camera(tmp_path: Path, data: Path) -> tuple[FifoCamera, CameraConfig]:
    """A FIFO camera (320x240 raw frames), plugged in, configured as camera "Porch" in ``data``."""
    node = tmp_path / "video-usb-test"
    cam = FifoCamera(node)
    (cfg,) = configure(
        data,
        [
            camera(
                "Porch",
                str(node),
                driver="usb",
                detect=False,
                device={
                    "format": "rawvideo",
                    "pixel_format": "yuv420p",
                    "video_size": "320x240",
                    "framerate": FPS,
                    "fps": FPS,
                },
            )
        ],
        segment_seconds=4.0,
    )
    cam.plug()
    return cam, cfg


def test_unplug_and_replug_is_a_status_change(tmp_path):
    data = tmp_path / "data"
    cam, cfg = _plugged_fifo_camera(tmp_path, data)
    hub = start_hub(data)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        time.sleep(5)
        cam.unplug()
        unplugged_ms = time.time() * 1000
        wait_for(lambda: state_of(hub, cfg.id) == "reconnecting", 10, "reconnecting after unplugging")
        status = wait_for(
            lambda: next(
                (
                    s
                    for s in hub.statuses()
                    if s.camera_id == cfg.id and "is not connected" in (s.last_error or "")
                ),
                None,
            ),
            10,
            "the 'not connected' error",
        )
        assert status.state == "reconnecting" and str(cam.path) in status.last_error
        time.sleep(3)
        cam.plug()
        replugged_ms = time.time() * 1000
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 15, "recording again after replugging")
        time.sleep(5)
        assert f"porchlight-rec-{cfg.id}" in {t.name for t in threading.enumerate()}
    finally:
        hub.stop()
        cam.unplug()
    stats = final_stats(data, cfg.id)
    assert stats["connects"] == 2
    segs = segments(data, cfg.id)
    before = [s for s in segs if s.start_ms < unplugged_ms]
    after = [s for s in segs if s.start_ms > replugged_ms - 500]
    assert before and after, [(s.start_ms, s.end_ms) for s in segs]
    assert after[0].start_ms - before[-1].end_ms >= 2500  # the outage is a gap, not invented frames
    frames, seconds = _check_segments(data, segs)
    assert abs(frames / seconds - FPS) < 0.15 * FPS


def test_a_hung_camera_is_reported_offline_and_recovers(tmp_path):
    """The device stays open but sends nothing (its read blocks in the platform, where no read
    deadline reaches): housekeeping reports it offline; when frames come again it is recording."""
    data = tmp_path / "data"
    cam, cfg = _plugged_fifo_camera(tmp_path, data)
    hub = start_hub(data)
    try:
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 20, "recording")
        time.sleep(2)
        cam.hang()
        hung_at = time.monotonic()
        status = wait_for(
            lambda: next((s for s in hub.statuses() if s.camera_id == cfg.id and s.state == "offline"), None),
            30,
            "offline while the camera hangs",
        )
        assert time.monotonic() - hung_at >= 9.5  # not before the stall limit (10 s)
        assert "no video for" in status.last_error
        before = hub.statuses()
        cam.resume()
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 15, "recording again")
        received = next(s for s in before if s.camera_id == cfg.id).stats["packets_received"]
        wait_for(
            lambda: (
                next(s for s in hub.statuses() if s.camera_id == cfg.id).stats["packets_received"]
                > received + 2 * FPS
            ),
            15,
            "packets after the hang",
        )
    finally:
        hub.stop()
        cam.unplug()
    assert final_stats(data, cfg.id)["connects"] == 1  # the same connection went on


def _mjpeg_file(
    path: Path, seconds: float = 2.0, rate: int = 30, corrupt: Callable[[int], bool] = lambda n: False
) -> Path:
    """A Motion-JPEG AVI (what a UVC camera's MJPG format delivers, frame by frame); frames for
    which ``corrupt(n)`` is true hold a JPEG start marker and then garbage, as a flaky cable gives."""
    import av

    with av.open(str(path), "w", format="avi") as out:
        vs = out.add_stream("mjpeg", rate=rate)
        vs.width, vs.height, vs.pix_fmt = 320, 240, "yuvj422p"
        for n in range(int(seconds * rate)):
            img = np.full((240, 320, 3), 60, np.uint8)
            img[80:160, (n * 6) % 280 : (n * 6) % 280 + 40] = 220
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj422p")
            frame.pts = n
            for pkt in vs.encode(frame):
                if corrupt(n):
                    bad = av.Packet(b"\xff\xd8" + bytes(range(256)) * 4)
                    bad.pts, bad.dts, bad.stream, bad.time_base = pkt.pts, pkt.dts, pkt.stream, pkt.time_base
                    pkt = bad
                out.mux(pkt)
        out.mux(vs.encode(None))
    return path


def test_mjpeg_input_is_decoded_thinned_and_encoded(tmp_path):
    """A 30 fps MJPEG input asked for at 15 fps: half the frames are skipped before decoding."""
    from drivers.usb.source import UsbSource

    path = _mjpeg_file(tmp_path / "cam.avi")
    src = UsbSource(StreamRequest(url=str(path), options={"format": "avi", "size": "320x240", "fps": "15"}))
    heard: list[tuple[int, str]] = []
    src.frame_listener = lambda f: heard.append((f.pts, f.format.name))
    from drivers.base import StreamError

    t0 = time.monotonic()
    pkts = []
    with pytest.raises(StreamError, match="stopped sending video"):  # the end of a file
        for pkt in src.packets():
            pkts.append(pkt)
    src.close()
    elapsed = time.monotonic() - t0
    assert 1.7 < elapsed < 3.0, "a file is paced to real time"
    assert src.stats["frames_in"] == 60 and 28 <= src.stats["frames_encoded"] <= 31
    assert src.stats["frames_thinned"] == 60 - src.stats["frames_encoded"]
    assert [p for p, _f in heard] == sorted({p for p, _f in heard}) and {f for _p, f in heard} == {"yuv420p"}
    assert len(pkts) == len(heard) and pkts[0].is_keyframe
    assert [i for i, p in enumerate(pkts) if p.is_keyframe] == [0, 30][: 1 + (len(pkts) > 30)]
    times = np.diff([float(p.pts * p.time_base) for p in pkts])
    assert abs(float(np.median(times)) - 1 / 15) < 0.01


def test_unreadable_pictures_are_skipped_and_a_stream_of_them_is_an_error(tmp_path):
    """A few corrupt MJPEG frames are counted and skipped; a camera sending nothing readable is a
    StreamError naming the cause, not a crash of the record thread."""
    from drivers.base import StreamError
    from drivers.usb.source import MAX_BAD_FRAMES, UsbSource

    def run(path: Path) -> tuple[int, dict, str]:
        src = UsbSource(StreamRequest(url=str(path), options={"format": "avi", "size": "320x240"}))
        n = 0
        with pytest.raises(StreamError) as err:
            for _pkt in src.packets():
                n += 1
        src.close()
        return n, src.stats, str(err.value)

    n, stats, why = run(_mjpeg_file(tmp_path / "some.avi", 1.0, corrupt=lambda n: n in (5, 6, 7)))
    assert stats["frames_bad"] == 3 and n == stats["frames_encoded"] == 27
    assert "stopped sending video" in why  # the end of the file, as for a clean one

    n, stats, why = run(_mjpeg_file(tmp_path / "all.avi", 3.0, corrupt=lambda n: n >= 3))
    assert stats["frames_bad"] == MAX_BAD_FRAMES and n == 3
    assert "sends pictures we cannot read" in why and "Invalid data" in why


def test_a_size_the_input_does_not_deliver_is_refused():
    from drivers.base import UnsupportedError
    from drivers.usb.source import UsbSource

    with pytest.raises(UnsupportedError, match="delivers 64x64, not the 640x360 asked for"):
        UsbSource(
            StreamRequest(url="testsrc2=size=64x64:rate=15", options={"format": "lavfi", "size": "640x360"})
        )


def test_close_from_another_thread_ends_the_stream_cleanly():
    from drivers.usb.source import UsbSource

    src = UsbSource(
        StreamRequest(url="testsrc2=size=320x240:rate=15", options={"format": "lavfi", "fps": "15"})
    )
    got: list[int] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            for _pkt in src.packets():
                got.append(1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    reader = threading.Thread(target=consume, name="usb-test-reader")
    reader.start()
    wait_for(lambda: len(got) >= 5, 10, "packets")
    src.close()
    reader.join(5)
    assert not reader.is_alive() and not errors
    src.close()  # idempotent
