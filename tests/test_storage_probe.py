"""Probing real fragmented MP4 segment files written with PyAV: complete, torn, garbage."""

from __future__ import annotations

import os
import random
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hub.storage.layout import SEGMENT_META_TAG, encode_segment_meta
from hub.storage.probe import decode_check, probe_segment_file

FRAG_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000"}
TB = Fraction(1, 90000)


def write_segment(
    path: str | os.PathLike[str],
    *,
    seconds: float = 3,
    fps: int = 25,
    gop: int = 50,
    audio: bool = False,
    video: bool = True,
    meta: str | None = None,
) -> int:
    """Write a fragmented MP4 like the segment writer's; return the number of video frames."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frames = round(seconds * fps)
    with av.open(os.fspath(path), "w", format="mp4", options=FRAG_OPTIONS) as out:
        if meta is not None:
            out.metadata[SEGMENT_META_TAG] = meta
        v = a = None
        if video:
            v = out.add_stream(
                "libx264", rate=fps, options={"preset": "ultrafast", "tune": "zerolatency", "g": str(gop)}
            )
            v.width, v.height, v.pix_fmt, v.time_base = 160, 120, "yuv420p", TB
        if audio:
            a = out.add_stream("aac", rate=16000, layout="mono")
        samples = 16000 // fps
        for i in range(frames):
            if v is not None:
                img = np.zeros((120, 160, 3), np.uint8)
                img[40:80, (i * 4) % 140 : (i * 4) % 140 + 20] = (255, 200, 0)  # a moving box
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = i * 90000 // fps, TB
                out.mux(v.encode(frame))
            if a is not None:
                tone = np.sin(np.arange(i * samples, (i + 1) * samples) * 0.05).astype(np.float32) * 0.1
                aframe = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="fltp", layout="mono")
                aframe.sample_rate, aframe.pts = 16000, i * samples
                out.mux(a.encode(aframe))
        for stream in (v, a):
            if stream is not None:
                out.mux(stream.encode(None))
    return frames if video else 0


def top_level_boxes(path: str | os.PathLike[str]) -> list[tuple[int, int, str]]:
    """(offset, size, type) of each top-level MP4 box."""
    data = Path(path).read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append((offset, size, kind.decode("latin-1")))
        offset += size
    return boxes


def truncated_copy(src: Path, dst: Path, length: int) -> Path:
    """Copy the first ``length`` bytes of ``src``: a file whose writer was killed."""
    dst.write_bytes(src.read_bytes()[:length])
    return dst


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    meta = encode_segment_meta("door", 1_700_000_000_123, 123_456)
    files = {"video": d / "video.mp4", "av": d / "av.mp4", "audio_only": d / "audio.mp4"}
    write_segment(files["video"], seconds=10, fps=25, gop=50, meta=meta)
    write_segment(files["av"], seconds=3, fps=15, gop=15, audio=True, meta=meta)
    write_segment(files["audio_only"], seconds=2, video=False, audio=True)
    return files


def test_complete_video_file(media):
    info = probe_segment_file(media["video"])
    assert info.playable and info.error is None and not info.torn
    assert (info.frames, info.keyframes, info.duration_ms, info.has_audio) == (250, 5, 10_000, False)
    assert info.meta == {
        "porchlight": 1,
        "camera": "door",
        "start_ms": 1_700_000_000_123,
        "stream_offset": 123_456,
        "time_base": "1/90000",
    }
    assert decode_check(media["video"]) == 250


def test_fragments_are_about_a_second_even_with_a_two_second_gop(media):
    moofs = [b for b in top_level_boxes(media["video"]) if b[2] == "moof"]
    assert len(moofs) == 10


def test_complete_file_with_audio(media):
    info = probe_segment_file(media["av"])
    assert info.playable and info.has_audio and info.frames == 45 and info.error is None
    # AAC priming (1024 samples at 16 kHz) shifts the video by 64 ms in the muxer.
    assert 3000 <= info.duration_ms <= 3000 + 70
    assert decode_check(media["av"]) == 45


def test_torn_inside_a_fragment_keeps_the_complete_frames(media, tmp_path):
    boxes = top_level_boxes(media["video"])
    moof8 = [b for b in boxes if b[2] == "moof"][7]
    mdat8 = next(b for b in boxes if b[2] == "mdat" and b[0] > moof8[0])
    # Cut inside the 8th fragment's header: exactly the 7 complete fragments remain.
    cut_header = probe_segment_file(truncated_copy(media["video"], tmp_path / "a.mp4", moof8[0] + 50))
    assert cut_header.playable and cut_header.torn and cut_header.error
    assert cut_header.frames == 175 and cut_header.duration_ms == 7000
    # Cut inside its media data: the packets wholly before the cut count too, the cut one does not.
    torn = truncated_copy(media["video"], tmp_path / "b.mp4", mdat8[0] + mdat8[1] // 2)
    info = probe_segment_file(torn)
    assert info.playable and info.torn and "cut off" in (info.error or "")
    assert 175 < info.frames < 200 and info.duration_ms == info.frames * 40
    assert decode_check(torn) == info.frames


def test_torn_before_any_complete_frame_is_not_playable(media, tmp_path):
    boxes = top_level_boxes(media["video"])
    moov = next(b for b in boxes if b[2] == "moov")
    first_moof = next(b for b in boxes if b[2] == "moof")
    for length in (10, moov[0] + moov[1] // 2, first_moof[0] + 20):
        info = probe_segment_file(truncated_copy(media["video"], tmp_path / f"t{length}.mp4", length))
        assert not info.playable and info.frames == 0 and info.torn and info.error, length


def test_every_truncation_point_is_handled(media, tmp_path):
    src = media["av"]
    size = src.stat().st_size
    previous = 0
    for length in range(0, size + 1, max(1, size // 150)):
        path = truncated_copy(src, tmp_path / "cut.mp4", length)
        info = probe_segment_file(path)
        assert info.frames >= previous, length  # more bytes never mean fewer frames
        previous = info.frames
        if info.playable:
            assert decode_check(path) == info.frames, length
        assert info.playable == (info.frames > 0 and info.keyframes > 0)


RNG = random.Random(20240601)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello, this is not a video\n",
        RNG.randbytes(50_000),
        b"\x00\x00\x00\x18ftypiso5" + RNG.randbytes(4000),
    ],
)
def test_garbage_is_not_playable(tmp_path, content):
    path = tmp_path / "junk.mp4"
    path.write_bytes(content)
    info = probe_segment_file(path)
    assert not info.playable and info.frames == 0 and info.error and info.meta is None


def test_random_bytes_are_never_taken_for_video(tmp_path):
    # FFmpeg's format auto-detection takes about 1 random file in 300 for some raw video; segments
    # are MP4, so the probe insists on it.
    path = tmp_path / "junk.mp4"
    for seed in range(400):
        path.write_bytes(random.Random(seed).randbytes(20_000))
        info = probe_segment_file(path)
        assert not info.playable and info.frames == 0, seed
    header = b"\x00\x00\x00\x18ftypiso5\x00\x00\x02\x00iso5iso6"  # a real MP4 start, then noise
    for seed in range(100):
        path.write_bytes(header + random.Random(seed).randbytes(20_000))
        assert not probe_segment_file(path).playable, seed


def test_missing_file_and_audio_only_file(tmp_path, media):
    missing = probe_segment_file(tmp_path / "nope.mp4")
    assert not missing.playable and "cannot read" in (missing.error or "")
    audio_only = probe_segment_file(media["audio_only"])
    assert not audio_only.playable and "no video" in (audio_only.error or "")


def test_decode_check_refuses_garbage(tmp_path):
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"junk" * 100)
    with pytest.raises(av.error.FFmpegError):
        decode_check(path)
