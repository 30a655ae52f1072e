"""Self-tests of the test harness: clips, barcode, the RTSP camera peer, the file keyring."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import av.error
import numpy as np
import psutil
import pytest

from hub.api.frames import slot_dir
from tests.support import barcode
from tests.support.clips import BIG_RECT, CameraClips, ClipSpec
from tests.support.rtsp import RtspCamera

logger = logging.getLogger(__name__)

TCP = {"rtsp_transport": "tcp"}
HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
TRUTH_SPEC = ClipSpec(
    seconds=10,
    passages=((1.0, 3.0), (5.5, 7.2)),
    brightness_steps=((4.0, 40), (6.0, -40)),
    big_object=((8.0, 9.0),),
)


def plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """Plane ``index`` (0 = Y, 1 = U, 2 = V) of a yuv420p frame, without the line padding."""
    p = frame.planes[index]
    return np.frombuffer(p, dtype=np.uint8).reshape(p.height, p.line_size)[:, : p.width]


def box_visible(frame: av.VideoFrame) -> bool:
    """The moving box is the only strongly red-ish (high V) thing in the scene."""
    v = plane(frame, 2)
    box_area = (v.shape[1] / 8) ** 2  # the box is 1/8 of the width, square
    return int((v > 170).sum()) > 0.3 * box_area


def big_object_present(frame: av.VideoFrame) -> bool:
    """The big object's chroma (V ~ 140) fills the middle of the frame."""
    v = plane(frame, 2)
    h, w = v.shape
    x, y, bw, bh = BIG_RECT
    middle = v[
        int(h * (y + bh * 0.3)) : int(h * (y + bh * 0.7)), int(w * (x + bw * 0.6)) : int(w * (x + bw * 0.9))
    ]
    return float(((middle > 134) & (middle < 148)).mean()) > 0.5


def corner_luma(frame: av.VideoFrame) -> float:
    """Mean luma of the bottom-right corner, which no object ever covers."""
    y = plane(frame, 0)
    h, w = y.shape
    return float(y[int(h * 0.94) :, int(w * 0.94) :].mean())


def first_video_packets(container: av.container.InputContainer, count: int) -> Iterator[av.Packet]:
    """Up to ``count`` video packets (the demuxer's flush packet is skipped)."""
    for packet in container.demux(video=0):
        if packet.size:
            yield packet
            count -= 1
            if count <= 0:
                return


def decode_file(path: Path) -> tuple[list[av.VideoFrame], list[int]]:
    """All frames of a clip and the indexes of its keyframe packets; checks profile and B-frames."""
    frames: list[av.VideoFrame] = []
    keyframes: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.is_keyframe:
                keyframes.append(len(frames))
            frames.extend(packet.decode())
        assert stream.codec_context.profile == "Main"
        assert not stream.codec_context.has_b_frames
    return frames, keyframes


def time_wait_ports() -> set[int]:
    """Local ports of IPv4 TCP connections in TIME_WAIT (state 06 in /proc/net/tcp)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return {int(f[1].split(":")[1], 16) for f in (line.split() for line in lines) if f[3] == "06"}


def assert_within_one_frame(detected: dict[int, bool], truth: Callable[[int], bool], what: str) -> None:
    """Every detection matches the truth of the same frame or of a neighbour (±1 frame)."""
    wrong = [n for n, seen in detected.items() if seen not in {truth(n - 1), truth(n), truth(n + 1)}]
    assert not wrong, f"{what}: detection disagrees with the spec at clip frames {wrong[:10]}"
    assert any(detected.values()) == any(truth(n) for n in detected), what


# -- barcode and clips (no peers needed) ----------------------------------------------------------


@pytest.mark.parametrize("size", [(180, 320), (360, 640), (1080, 1920), (480, 640)])
def test_barcode_round_trip_and_rejects(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(7)
    background = rng.integers(40, 180, size=size, dtype=np.uint8)
    for number in [0, 1, 12345, barcode.MODULO - 1, *rng.integers(0, barcode.MODULO, 20).tolist()]:
        y = background.copy()
        barcode.draw(y, number)
        assert barcode.read(y) == number
        rgb = np.dstack([y, y, y])
        assert barcode.read(rgb) == number
    assert barcode.read(np.full(size, 128, dtype=np.uint8)) is None
    assert barcode.read(rng.integers(0, 256, size=size, dtype=np.uint8)) is None
    y = np.full(size, 100, dtype=np.uint8)
    barcode.draw(y, 4242)
    x0, y0, w, h = barcode.rect_pixels(*size)
    cell_w, cell_h = w // 9, h // 5
    y[y0 + cell_h : y0 + 2 * cell_h, x0 + 4 * cell_w : x0 + 5 * cell_w] ^= 0xFF  # flip one data cell
    assert barcode.read(y) is None


def test_clip_ground_truth_matches_decoded_frames(camera_clips: Callable[[ClipSpec], CameraClips]) -> None:
    started = time.monotonic()
    clips = camera_clips(TRUTH_SPEC)
    logger.info("clip ready in %.2f s", time.monotonic() - started)
    spec = clips.spec
    main_frames, keyframes = decode_file(clips.main_ts)
    sub_frames, sub_keyframes = decode_file(clips.sub_ts)
    assert len(main_frames) == len(sub_frames) == spec.frame_count
    assert [barcode.read(plane(f, 0)) for f in main_frames] == list(range(spec.frame_count))
    assert all(barcode.read(plane(f, 0)) is None for f in sub_frames[::10])
    assert (main_frames[0].width, main_frames[0].height) == (spec.width, spec.height)
    assert (sub_frames[0].width, sub_frames[0].height) == spec.sub_size
    assert keyframes == sub_keyframes == list(range(0, spec.frame_count, spec.gop))
    for name, frames in (("main", main_frames), ("sub", sub_frames)):
        assert_within_one_frame(
            {n: box_visible(f) for n, f in enumerate(frames)}, spec.object_visible, f"{name}: moving box"
        )
        assert_within_one_frame(
            {n: big_object_present(f) for n, f in enumerate(frames)},
            spec.big_object_present,
            f"{name}: big object",
        )
    assert sum(box_visible(f) for f in main_frames) == pytest.approx(len(spec.object_frames()), abs=2)
    base = corner_luma(main_frames[0])
    for n in (59, 60, 61, 89, 90, 91, 149):  # steps at 4 s (+40) and 6 s (-40)
        assert corner_luma(main_frames[n]) - base == pytest.approx(spec.brightness_at(n), abs=6), n


# -- the RTSP camera peer -------------------------------------------------------------------------


@pytest.mark.rtsp
def test_main_stream_barcodes_are_consecutive(rtsp_camera: Callable[..., RtspCamera]) -> None:
    camera = rtsp_camera(spec=ClipSpec(slices=2))  # like many real cameras; the other tests use 1 slice
    spec = camera.clips.spec
    started = time.monotonic()
    with av.open(camera.url, options=TCP, timeout=(15, 5)) as container:
        stream = container.streams.video[0]
        packets, numbers, visible = [], [], {}
        keyframe_seen = False
        for packet in first_video_packets(container, 3 * spec.fps + 10):
            if not packets:
                logger.info("first packet %.2f s after open() began", time.monotonic() - started)
            packets.append(packet)
            keyframe_seen = keyframe_seen or packet.is_keyframe
            if keyframe_seen:
                for frame in packet.decode():
                    numbers.append(barcode.read(plane(frame, 0)))
                    if numbers[-1] is not None:
                        visible[numbers[-1]] = box_visible(frame)
    timed = [p.pts for p in packets if p.pts is not None]
    assert (max(timed) - min(timed)) * stream.time_base >= 2
    assert keyframe_seen
    assert len(numbers) >= 30
    assert None not in numbers, numbers
    steps = {(b - a) % spec.frame_count for a, b in zip(numbers, numbers[1:], strict=False)}
    assert steps == {1}, numbers
    assert_within_one_frame(visible, spec.object_visible, "moving box over RTSP")


@pytest.mark.rtsp
def test_sub_stream_is_half_size_without_barcode(rtsp_camera: Callable[..., RtspCamera]) -> None:
    camera = rtsp_camera()
    with av.open(camera.sub_url, options=TCP, timeout=(15, 5)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == camera.clips.spec.sub_size
        frames = [f for p in first_video_packets(container, 20) for f in p.decode()]
    assert frames and (frames[-1].width, frames[-1].height) == camera.clips.spec.sub_size
    assert all(barcode.read(plane(f, 0)) is None for f in frames)


@pytest.mark.rtsp
def test_audio_camera_and_loopback_only_sockets(rtsp_camera: Callable[..., RtspCamera]) -> None:
    camera = rtsp_camera(audio=True)
    with av.open(camera.url, options=TCP, timeout=(15, 5)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "pcm_mulaw"
        assert audio.codec_context.sample_rate == 8000
        kinds = set()
        for packet in container.demux():
            if packet.size:
                kinds.add(packet.stream.type)
            if kinds == {"audio", "video"}:
                break
        for pid in (camera.server_pid, camera.pusher_pid):
            assert pid is not None
            for conn in psutil.Process(pid).net_connections(kind="inet"):
                assert conn.laddr.ip == "127.0.0.1", (pid, conn)
                assert not conn.raddr or conn.raddr.ip == "127.0.0.1", (pid, conn)


@pytest.mark.rtsp
def test_auth_and_error_classes(rtsp_camera: Callable[..., RtspCamera]) -> None:
    camera = rtsp_camera(user="admin", password="s3cret:/@x")
    for url in (camera.url, camera.url_for("main", user="admin", password="wrong")):
        with pytest.raises(av.error.HTTPUnauthorizedError, match="401 Unauthorized"):
            av.open(url, options=TCP, timeout=(10, 5))
    with pytest.raises(av.error.HTTPNotFoundError, match="404 Not Found"):
        av.open(camera.url_for("nope", user="admin", password="s3cret:/@x"), options=TCP, timeout=(10, 5))
    url = camera.url_for("main", user="admin", password="s3cret:/@x")
    with av.open(url, options=TCP, timeout=(15, 5)) as container:
        assert next(first_video_packets(container, 1)).size > 0


@pytest.mark.rtsp
def test_pause_stalls_demux_and_resume_recovers(rtsp_camera: Callable[..., RtspCamera]) -> None:
    camera = rtsp_camera()
    with av.open(camera.url, options=TCP, timeout=(15, 1.5)) as container:
        assert len(list(first_video_packets(container, 5))) == 5
        camera.pause()
        paused = time.monotonic()
        with pytest.raises(av.error.ExitError, match="Immediate exit requested"):
            for _packet in container.demux(video=0):
                assert time.monotonic() - paused < 10, "packets kept coming while paused"
        # ~2x the read timeout: the first interrupt only flushes the frame FFmpeg's parser still
        # held (it waits for the next frame's start); the second one raises.
        stalled = time.monotonic() - paused
        assert 1.4 <= stalled < 8, stalled
        camera.resume()
        resumed = time.monotonic()
        assert len(list(first_video_packets(container, 10))) == 10  # same session, a new demux()
        logger.info(
            "read timeout after %.2f s; media again %.2f s after resume", stalled, time.monotonic() - resumed
        )


@pytest.mark.rtsp
def test_server_restarts_on_the_same_port(rtsp_camera: Callable[..., RtspCamera]) -> None:
    camera = rtsp_camera()
    port = camera.port
    raw = socket.create_connection((HOST, port), timeout=5)
    raw.sendall(f"OPTIONS {camera.url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"RTSP/1.0 200 OK")
    with av.open(camera.url, options=TCP, timeout=(15, 5)) as container:
        assert len(list(first_video_packets(container, 3))) == 3
        camera.stop_server()
        # A stopped server looks like a clean end of stream to PyAV, not like an error.
        list(container.demux(video=0))
    assert raw.recv(16) == b""  # the server closed first: its end of this connection is in TIME_WAIT
    raw.close()
    assert port in time_wait_ports()
    with pytest.raises(av.error.ConnectionRefusedError, match="Connection refused"):
        av.open(camera.url, options=TCP, timeout=(5, 5))
    camera.start_server()  # right away, despite TIME_WAIT (the server's socket has SO_REUSEADDR)
    assert camera.port == port
    with av.open(camera.url, options=TCP, timeout=(15, 5)) as container:
        frames = [f for p in first_video_packets(container, 40) for f in p.decode()]
    assert any(barcode.read(plane(f, 0)) is not None for f in frames)


# -- the keyring ------------------------------------------------------------------------------------


def test_file_keyring_reaches_subprocesses(tmp_path: Path) -> None:
    import keyring

    assert type(keyring.get_keyring()).__qualname__ == "FileKeyring"
    keyring.set_password("porchlight-test", "cam1", "from-parent")
    code = textwrap.dedent(
        """
        import json, keyring
        k = keyring.get_keyring()
        got = keyring.get_password("porchlight-test", "cam1")
        keyring.set_password("porchlight-test", "cam2", "from-child")
        print(json.dumps([type(k).__module__ + "." + type(k).__qualname__, got]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    )
    backend, got = json.loads(result.stdout)
    assert backend == "tests.support.keyring_backend.FileKeyring"
    assert got == "from-parent"
    assert keyring.get_password("porchlight-test", "cam2") == "from-child"
    keyring.delete_password("porchlight-test", "cam2")
    assert keyring.get_password("porchlight-test", "cam2") is None
    with pytest.raises(keyring.errors.PasswordDeleteError):
        keyring.delete_password("porchlight-test", "cam2")
    stored = json.loads(Path(os.environ["PORCHLIGHT_TEST_KEYRING"]).read_text())
    # Only this test's service: the file is per xdist worker, and other tests' cameras may be in it.
    assert stored["porchlight-test"] == {"cam1": "from-parent"}
    keyring.delete_password("porchlight-test", "cam1")


# -- the leak guards ----------------------------------------------------------------------------------


def run_inner_pytest(test_file: Path) -> subprocess.CompletedProcess[str]:
    """Run ``test_file`` in a pytest of its own with this suite's conftest (1 s of grace), from its
    folder."""
    (test_file.parent / "pytest.ini").write_text("[pytest]\n")
    env = dict(os.environ, PORCHLIGHT_TEST_THREAD_GRACE_S="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=test_file.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def process_gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie its reaper has not collected)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_leaked_porchlight_thread_or_frame_slot_fails_the_test(tmp_path: Path) -> None:
    test_file = tmp_path / "test_leak.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import threading, time

            def test_leaks():
                threading.Thread(target=time.sleep, args=(30,), name="porchlight-leak", daemon=True).start()

            def test_joins_in_time():
                threading.Thread(target=time.sleep, args=(0.2,), name="porchlight-short").start()

            def test_other_names_are_ignored():
                threading.Thread(target=time.sleep, args=(30,), name="worker", daemon=True).start()

            def test_leaks_a_frame_slot(tmp_path):
                from hub.api.frames import SlotWriter, slot_path
                SlotWriter(slot_path(tmp_path, "cam", "detect"), 64)

            def test_removes_its_frame_slot(tmp_path):
                from hub.api.frames import SlotWriter, slot_path
                SlotWriter(slot_path(tmp_path, "cam", "detect"), 64).close()
            """
        )
    )
    result = run_inner_pytest(test_file)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "5 passed, 2 errors" in result.stdout, result.stdout
    assert "ERROR at teardown of test_leaks " in result.stdout
    assert "porchlight-leak" in result.stdout
    assert "ERROR at teardown of test_leaks_a_frame_slot" in result.stdout
    assert "live-view slots remain" in result.stdout
    assert not list(slot_dir().glob("porchlight-t*-*.cam.detect")), "the guard removes what it found"


def test_leaked_detached_process_fails_the_test(tmp_path: Path) -> None:
    test_file = tmp_path / "test_detached.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import os, signal, subprocess, sys, time
            from pathlib import Path
            import psutil, pytest

            # A sleeper in a session of its own whose parent exits at once: no child of the test.
            DETACH = (
                "import subprocess, sys; print(subprocess.Popen([sys.executable, '-c', "
                "'import time; time.sleep(60)'], start_new_session=True, stdin=subprocess.DEVNULL, "
                "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)"
            )

            def start_detached(name):
                out = subprocess.run([sys.executable, "-c", DETACH], capture_output=True, text=True, check=True)
                Path(f"{name}.pid").write_text(out.stdout)
                return int(out.stdout)

            @pytest.fixture(scope="session")
            def detached_server():
                pid = start_detached("session")
                yield pid
                os.kill(pid, signal.SIGKILL)

            def test_leaks_a_detached_process():
                start_detached("leaked")

            def test_ends_its_detached_process():
                pid = start_detached("ended")
                assert pid not in {c.pid for c in psutil.Process().children(recursive=True)}
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    try:
                        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                            break
                    except psutil.NoSuchProcess:
                        break
                    time.sleep(0.05)

            def test_a_session_fixture_first_asked_for_in_a_test_may_run_detached(request):
                assert request.getfixturevalue("detached_server")
            """
        )
    )
    result = run_inner_pytest(test_file)
    pids = {path.stem: int(path.read_text()) for path in tmp_path.glob("*.pid")}
    try:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "3 passed, 1 error" in result.stdout, result.stdout  # the only error is the leak's
        assert "ERROR at teardown of test_leaks_a_detached_process" in result.stdout
        assert f"processes still running: {pids['leaked']} " in result.stdout
        assert "time.sleep(60)" in result.stdout
        assert sorted(pids) == ["ended", "leaked", "session"]
        assert all(process_gone(pid) for pid in pids.values()), "the guard kills what it found"
    finally:
        for pid in pids.values():
            if not process_gone(pid):
                with contextlib.suppress(psutil.NoSuchProcess):
                    psutil.Process(pid).kill()
