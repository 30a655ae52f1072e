"""Synthetic camera clips with a known motion schedule, encoded with PyAV (libx264) as MPEG-TS.

A clip is a static textured scene with temporal sensor noise, a bright box that crosses the frame
during each passage, optional global brightness steps and a big object covering ~70% of the frame.
Every camera gets a main stream (spec size, frame-number barcode) and a sub stream (half size, no
barcode) with identical timing: H.264, no B-frames, fixed GOP, yuv420p, SPS/PPS before every
keyframe, MPEG-TS so that ``ffmpeg -stream_loop -1 -c copy`` loops it cleanly. Clips are cached by a
hash of their spec. The ground-truth helpers on ``ClipSpec`` count in clip frame numbers (0-based,
frame n shows time n / fps), which is what the barcode carries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from tests.support import barcode

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 2  # bump when the drawing or encoding changes: old cache entries stop matching
Rect = tuple[float, float, float, float]  # normalized x, y, w, h

BOX_WIDTH = 1 / 8  # of the frame width; the box is square in pixels
BOX_TOP = 0.42
BOX_YUV = (230, 90, 200)
BIG_RECT: Rect = (0.08, 0.08, 0.84, 0.84)  # 70.6% of the frame
BIG_YUV = (35, 120, 140)


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """What a clip shows and how it is encoded; times in seconds from the clip's first frame."""

    width: int = 320
    height: int = 180
    fps: int = 15
    seconds: float = 30.0
    gop_s: float = 2.0
    crf: int = 23
    bitrate: int | None = None  # bits/s of the main stream (sub: a quarter); overrides crf
    noise: int = 6  # temporal luma noise, uniform in [-noise, +noise]
    slices: int = 1  # H.264 slices per frame (some real cameras send several)
    passages: tuple[tuple[float, float], ...] = ((4.0, 10.0), (18.0, 24.0))
    brightness_steps: tuple[tuple[float, int], ...] = ()  # (t, delta): luma += delta from t on
    big_object: tuple[tuple[float, float], ...] = ()
    barcode: bool = True
    seed: int = 1
    # The sub stream: half the main size at a quarter of its bitrate unless given (a benchmark
    # camera sends the usual 640x360 at ~500 kbit/s next to 1080p).
    sub_width: int | None = None
    sub_height: int | None = None
    sub_bitrate: int | None = None

    def __post_init__(self) -> None:
        if self.width % 4 or self.height % 4:
            raise ValueError("width and height must be multiples of 4 (the sub stream is half size)")
        if not 0 <= self.noise <= 100:
            raise ValueError("noise must be within 0..100")

    @property
    def frame_count(self) -> int:
        """Frames in one loop of the clip."""
        return round(self.seconds * self.fps)

    @property
    def gop(self) -> int:
        """Frames per GOP (keyframe interval)."""
        return max(1, round(self.gop_s * self.fps))

    @property
    def sub_size(self) -> tuple[int, int]:
        """(width, height) of the sub stream."""
        if self.sub_width and self.sub_height:
            return self.sub_width, self.sub_height
        return self.width // 2, self.height // 2

    def key(self) -> str:
        """Cache key: a hash of the spec and of the generator version."""
        fields = {
            k: v for k, v in dataclasses.asdict(self).items() if v is not None or not k.startswith("sub_")
        }
        text = json.dumps([GENERATOR_VERSION, fields], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _frames_in(self, start_s: float, end_s: float) -> range:
        return range(
            max(0, math.ceil(start_s * self.fps - 1e-9)),
            min(self.frame_count, math.ceil(end_s * self.fps - 1e-9)),
        )

    def object_rects(self, n: int) -> list[Rect]:
        """Normalized rectangles of the moving box(es) in frame ``n`` (empty: no box)."""
        box_h = BOX_WIDTH * self.width / self.height
        rects = []
        for start, end in self.passages:
            frames = self._frames_in(start, end)
            if n in frames:
                progress = (n - frames[0]) / max(1, len(frames) - 1)
                rects.append((progress * (1 - BOX_WIDTH), BOX_TOP, BOX_WIDTH, box_h))
        return rects

    def object_visible(self, n: int) -> bool:
        """True when the moving box is in frame ``n``."""
        return bool(self.object_rects(n))

    def object_frames(self) -> list[int]:
        """Clip frame numbers in which the moving box is visible."""
        return sorted({n for start, end in self.passages for n in self._frames_in(start, end)})

    def big_object_present(self, n: int) -> bool:
        """True when the big object is in frame ``n``."""
        return any(n in self._frames_in(start, end) for start, end in self.big_object)

    def big_object_frames(self) -> list[int]:
        """Clip frame numbers in which the big object is present."""
        return sorted({n for start, end in self.big_object for n in self._frames_in(start, end)})

    def brightness_at(self, n: int) -> int:
        """Sum of the brightness steps in effect at frame ``n``."""
        return sum(delta for t, delta in self.brightness_steps if n >= math.ceil(t * self.fps - 1e-9))


@dataclasses.dataclass(frozen=True)
class CameraClips:
    """A camera's two encoded streams."""

    main_ts: Path
    sub_ts: Path
    spec: ClipSpec


def make_camera_clips(spec: ClipSpec, cache_dir: Path) -> CameraClips:
    """Return the cached clips for ``spec``, encoding them first if needed (safe across processes)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = spec.key()
    clips = CameraClips(cache_dir / f"{key}-main.ts", cache_dir / f"{key}-sub.ts", spec)
    with _locked(cache_dir / f"{key}.lock"):
        if not (clips.main_ts.exists() and clips.sub_ts.exists()):
            started = time.monotonic()
            tmp_main = clips.main_ts.with_suffix(f".{os.getpid()}.tmp")
            tmp_sub = clips.sub_ts.with_suffix(f".{os.getpid()}.tmp")
            encode(spec, tmp_main, tmp_sub)
            (cache_dir / f"{key}.json").write_text(json.dumps(dataclasses.asdict(spec), indent=1))
            os.replace(tmp_sub, clips.sub_ts)
            os.replace(tmp_main, clips.main_ts)
            logger.info(
                "encoded clip %s (%d frames) in %.2f s", key, spec.frame_count, time.monotonic() - started
            )
    return clips


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def encode(spec: ClipSpec, main_path: Path, sub_path: Path) -> None:
    """Render every frame once and encode the main and the sub stream side by side."""
    scene = Scene(spec)
    rng = np.random.default_rng(spec.seed)
    sub_w, sub_h = spec.sub_size
    with (
        _Encoder(main_path, spec, spec.width, spec.height, spec.bitrate) as main,
        _Encoder(
            sub_path, spec, sub_w, sub_h, spec.sub_bitrate or (spec.bitrate // 4 if spec.bitrate else None)
        ) as sub,
    ):
        for n in range(spec.frame_count):
            y, u, v = scene.render(n)
            sy = cv2.resize(y, (sub_w, sub_h), interpolation=cv2.INTER_AREA)
            su = cv2.resize(u, ((sub_w + 1) // 2, (sub_h + 1) // 2), interpolation=cv2.INTER_AREA)
            sv = cv2.resize(v, ((sub_w + 1) // 2, (sub_h + 1) // 2), interpolation=cv2.INTER_AREA)
            y, sy = _noisy(y, spec.noise, rng), _noisy(sy, spec.noise, rng)
            if spec.barcode:
                barcode.draw(y, n)
            main.write(n, y, u, v)
            sub.write(n, sy, su, sv)


def _noisy(plane: np.ndarray, amplitude: int, rng: np.random.Generator) -> np.ndarray:
    if amplitude <= 0:
        return plane
    noise = rng.integers(-amplitude, amplitude + 1, size=plane.shape, dtype=np.int8)
    return np.clip(plane.astype(np.int16) + noise, 0, 255).astype(np.uint8)


class Scene:
    """Draws the noise-free Y, U and V planes of frame n at the spec's main size."""

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.background = _background(spec.width, spec.height, spec.seed)
        cu = np.full((spec.height // 2, spec.width // 2), 128, dtype=np.uint8)
        cu[: spec.height // 6, :] = 140  # a bluish sky
        self.u, self.v = cu, np.full_like(cu, 124)

    def render(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Y, U, V) of frame ``n``: full-size luma, half-size chroma."""
        spec = self.spec
        y = self.background + spec.brightness_at(n)
        u, v = self.u.copy(), self.v.copy()
        if spec.big_object_present(n):
            x0, y0, x1, y1 = _pixels(BIG_RECT, spec.width, spec.height)
            stripes = 8 * ((np.arange(x1 - x0) // 6) % 2)
            y[y0:y1, x0:x1] = BIG_YUV[0] + stripes[None, :] + spec.brightness_at(n)
            u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = BIG_YUV[1]
            v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = BIG_YUV[2]
        for rect in spec.object_rects(n):
            x0, y0, x1, y1 = _pixels(rect, spec.width, spec.height)
            y[y0:y1, x0:x1] = BOX_YUV[0] + spec.brightness_at(n)
            border = max(1, (x1 - x0) // 8)
            y[y0 + border : y1 - border, x0 + border : x1 - border] -= 25
            u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = BOX_YUV[1]
            v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = BOX_YUV[2]
        return np.clip(y, 0, 255).astype(np.uint8), u, v


def _pixels(rect: Rect, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = rect
    return round(x * width), round(y * height), round((x + w) * width), round((y + h) * height)


def _background(width: int, height: int, seed: int) -> np.ndarray:
    """A static street-like scene (int16 luma): sky, house with windows, road, tree, fine texture."""
    u = (np.arange(width) + 0.5)[None, :] / width
    v = (np.arange(height) + 0.5)[:, None] / height
    y = np.where(v < 0.35, 150 - 40 * v, 95 + 30 * (v - 0.35)) + 0 * u
    house = (u > 0.55) & (u < 0.85) & (v > 0.2) & (v < 0.62)
    y = np.where(house, 118.0, y)
    windows = house & ((u * 20) % 2 > 1.2) & ((v * 12) % 2 > 1.1) & (v < 0.55)
    y = np.where(windows, 62.0, y)
    road = (v > 0.7) & (v < 0.82)
    y = np.where(road, 70.0, y)
    dashes = road & (np.abs(v - 0.76) < 0.008) & ((u * 10) % 1 < 0.5)
    y = np.where(dashes, 165.0, y)
    tree = (u - 0.2) ** 2 * (width / height) ** 2 + (v - 0.5) ** 2 < 0.12**2
    y = np.where(tree, 55.0 + 15 * np.sin(u * 90) * np.sin(v * 70), y)
    y = y + 7 * np.sin(2 * np.pi * u * 23) * np.sin(2 * np.pi * v * 17)
    speckle = np.random.default_rng(seed).integers(-8, 9, size=(max(1, height // 4), max(1, width // 4)))
    y = y + cv2.resize(speckle.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)
    return np.clip(y, 40, 180).astype(np.int16)


class _Encoder:
    """One libx264 MPEG-TS writer fed with planar YUV 4:2:0."""

    def __init__(self, path: Path, spec: ClipSpec, width: int, height: int, bitrate: int | None) -> None:
        self.container = av.open(str(path), "w", format="mpegts")
        stream = self.container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        gop = spec.gop
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:slices={spec.slices}"
        options = {"preset": "veryfast", "profile": "main"}
        if bitrate:
            kbps = max(1, bitrate // 1000)
            stream.bit_rate = bitrate
            params += f":vbv-maxrate={kbps}:vbv-bufsize={2 * kbps}"
        else:
            options["crf"] = str(spec.crf)
        options["x264-params"] = params
        stream.codec_context.options = options
        stream.codec_context.thread_type = "FRAME"  # PyAV's default (SLICE) would cut every frame in two
        self.stream = stream
        self.width, self.height = width, height
        self.time_base = Fraction(1, spec.fps)

    def write(self, n: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """Encode frame ``n`` from its three planes."""
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
