"""Benchmark camera clips: a 1080p15 main stream (frame-number barcode) and a 640x360 sub stream.

``tests/support/clips.py`` makes the sub stream half the main size (960x540 for 1080p) at a quarter
of its bitrate; the benchmark's cameras send the usual 640x360 ~500 kbit/s sub stream instead, so
this module renders the same scenes (``tests.support.clips.Scene``, same barcode, same noise) and
encodes them with its own sub size. Clips are cached in ``bench/.cache`` by a hash of the spec.

Encoding matches a typical camera: H.264 Main, no B-frames, GOP 2 s, SPS/PPS before every IDR,
VBV-capped bitrate, MPEG-TS so that ``ffmpeg -stream_loop -1 -c copy`` loops cleanly.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import barcode  # noqa: E402
from tests.support.clips import CameraClips, ClipSpec, Scene  # noqa: E402

logger = logging.getLogger(__name__)

BENCH_GENERATOR_VERSION = 1
CACHE_DIR = Path(__file__).resolve().parent / ".cache"

#: The benchmark camera: 60 s loop, a box crossing the frame for 8 s of every 20 s.
BENCH_SPEC = ClipSpec(
    width=1920, height=1080, fps=15, seconds=60.0, gop_s=2.0, bitrate=3_000_000, noise=6,
    passages=((4.0, 12.0), (24.0, 32.0), (44.0, 52.0)), barcode=True, seed=1,
)


@dataclasses.dataclass(frozen=True)
class SubSpec:
    """The sub stream's size and bitrate."""

    width: int = 640
    height: int = 360
    bitrate: int = 500_000


def clip_key(spec: ClipSpec, sub: SubSpec) -> str:
    """Cache key of a (main spec, sub spec) pair."""
    text = json.dumps([BENCH_GENERATOR_VERSION, dataclasses.asdict(spec), dataclasses.asdict(sub)],
                      sort_keys=True)
    return "bench-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def make_bench_clips(spec: ClipSpec = BENCH_SPEC, sub: SubSpec = SubSpec(),
                     cache_dir: Path = CACHE_DIR) -> CameraClips:
    """The cached clips for ``spec``/``sub``, encoded first when missing (safe across processes)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = clip_key(spec, sub)
    clips = CameraClips(cache_dir / f"{key}-main.ts", cache_dir / f"{key}-sub.ts", spec)
    with open(cache_dir / f"{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (clips.main_ts.exists() and clips.sub_ts.exists()):
            started = time.monotonic()
            print(f"bench: encoding {spec.seconds:g} s of {spec.width}x{spec.height} + "
                  f"{sub.width}x{sub.height} (about {0.8 * spec.seconds:.0f} s on an idle machine)...",
                  file=sys.stderr, flush=True)
            tmp_main = clips.main_ts.with_suffix(f".{os.getpid()}.tmp")
            tmp_sub = clips.sub_ts.with_suffix(f".{os.getpid()}.tmp")
            try:
                encode(spec, sub, tmp_main, tmp_sub)
            except BaseException:
                for p in (tmp_main, tmp_sub):
                    p.unlink(missing_ok=True)
                raise
            (cache_dir / f"{key}.json").write_text(
                json.dumps({"main": dataclasses.asdict(spec), "sub": dataclasses.asdict(sub)}, indent=1))
            os.replace(tmp_sub, clips.sub_ts)
            os.replace(tmp_main, clips.main_ts)
            print(f"bench: clips encoded in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return clips


def encode(spec: ClipSpec, sub: SubSpec, main_path: Path, sub_path: Path) -> None:
    """Render every frame once; encode the main (barcode) and the sub stream side by side."""
    scene = Scene(spec)
    rng = np.random.default_rng(spec.seed)
    sw, sh = sub.width, sub.height
    with _Encoder(main_path, spec, spec.width, spec.height, spec.bitrate) as main, \
            _Encoder(sub_path, spec, sw, sh, sub.bitrate) as subenc:
        for n in range(spec.frame_count):
            y, u, v = scene.render(n)
            sy = cv2.resize(y, (sw, sh), interpolation=cv2.INTER_AREA)
            su = cv2.resize(u, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
            sv = cv2.resize(v, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
            y, sy = _noisy(y, spec.noise, rng), _noisy(sy, spec.noise, rng)
            if spec.barcode:
                barcode.draw(y, n)
            main.write(n, y, u, v)
            subenc.write(n, sy, su, sv)


def _noisy(plane: np.ndarray, amplitude: int, rng: np.random.Generator) -> np.ndarray:
    if amplitude <= 0:
        return plane
    noise = rng.integers(-amplitude, amplitude + 1, size=plane.shape, dtype=np.int8)
    return np.clip(plane.astype(np.int16) + noise, 0, 255).astype(np.uint8)


class _Encoder:
    """One libx264 MPEG-TS writer fed with planar YUV 4:2:0."""

    def __init__(self, path: Path, spec: ClipSpec, width: int, height: int, bitrate: int | None) -> None:
        self.container = av.open(str(path), "w", format="mpegts")
        stream = self.container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        gop = spec.gop
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1"
        options = {"preset": "veryfast", "profile": "main"}
        if bitrate:
            kbps = max(1, bitrate // 1000)
            stream.bit_rate = bitrate
            params += f":vbv-maxrate={kbps}:vbv-bufsize={2 * kbps}"
        else:
            options["crf"] = str(spec.crf)
        options["x264-params"] = params
        stream.codec_context.options = options
        stream.codec_context.thread_type = "FRAME"  # SLICE (PyAV's default) would cut every frame in two
        self.stream = stream
        self.width, self.height = width, height
        self.time_base = Fraction(1, spec.fps)

    def write(self, n: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, data in zip(frame.planes, (y, u, v), strict=True):
            view = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
            view[:, : plane.width] = data
        frame.pts = n
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))

    def __enter__(self) -> _Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.container.mux(self.stream.encode(None))
        finally:
            self.container.close()


if __name__ == "__main__":
    c = make_bench_clips()
    print(c.main_ts, c.sub_ts)
