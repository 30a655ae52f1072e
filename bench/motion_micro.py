"""Micro-benchmark of the motion detector: ms per ``analyze`` and per ``shrink_luma`` call.

Usage: ``.venv/bin/python bench/motion_micro.py [--calls 2000] [--repeats 5]``

Prints, for OpenCV with one thread and with its default thread count, the median over ``repeats``
of the wall time per call and the CPU time per call (whole process, OpenCV workers included), for:
analyze at 320x180 on a static noisy scene, with a moving object, on lighting-change frames, with
zones and a mask, and at 640x360; shrink_luma from padded 640x360 and 1920x1080 Y planes.
Synthetic frames only; nothing is read or written.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from hub.core.model import MotionSettings, Zone
from hub.motion.detector import MotionDetector, shrink_luma

logger = logging.getLogger(__name__)

STEP_MS = 200


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A textured static scene (float32 luma)."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(
        rng.uniform(30, 220, (height // 15 + 2, width // 15 + 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = cv2.GaussianBlur(rng.uniform(-25, 25, (height, width)).astype(np.float32), (0, 0), 1.2)
    return coarse + fine


def noisy_frames(base: np.ndarray, n: int, seed: int = 1, box_step: int = 0, gains: tuple = (1.0,)) -> list:
    """``n`` noisy uint8 renderings of ``base``; optionally a moving box and alternating gains."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = base * gains[i % len(gains)]
        if box_step:
            img = img.copy()
            size = base.shape[1] * 24 // 320  # about 1% of the frame at any size
            x = (10 + i * box_step) % (base.shape[1] - size - 6)
            img[size * 3 : size * 4, x : x + size] = 245
        out.append(np.clip(img + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))
    return out


def per_call(fn: Callable[[int], object], calls: int, repeats: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) per call of ``fn(i)``."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for i in range(calls):
            fn(i)
        wall.append((time.perf_counter() - w0) * 1000 / calls)
        cpu.append((time.process_time() - c0) * 1000 / calls)
    return statistics.median(wall), statistics.median(cpu)


def bench_analyze(name: str, settings: MotionSettings, frames: list, calls: int, repeats: int) -> None:
    """Warm a detector on the first frame, then time analyze over ``frames`` in a loop."""
    det = MotionDetector(settings)
    for i in range(60):
        det.analyze(frames[0], i * STEP_MS)
    clock = [60 * STEP_MS]
    moving = [0]

    def step(i: int) -> None:
        clock[0] += STEP_MS
        moving[0] += det.analyze(frames[i % len(frames)], clock[0]).moving

    wall, cpu = per_call(step, calls, repeats)
    share = moving[0] / (calls * repeats)
    print(f"  analyze {name:28s} {wall:7.3f} ms wall {cpu:7.3f} ms cpu   (moving {share:4.0%})")


def bench_shrink(width: int, height: int, pad: int, calls: int, repeats: int) -> None:
    """Time shrink_luma on a padded plane held in a bytes object (like a decoder's buffer)."""
    line_size = width + pad
    plane = np.random.default_rng(2).integers(0, 256, height * line_size, dtype=np.uint8).tobytes()
    wall, cpu = per_call(lambda i: shrink_luma(plane, width, height, line_size, 320), calls, repeats)
    print(
        f"  shrink_luma {width}x{height} (line {line_size}) -> 320 wide   {wall:7.3f} ms wall {cpu:7.3f} ms cpu"
    )


def main() -> None:
    """Run every case with 1 OpenCV thread and with OpenCV's default."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    small, big = scene(320, 180), scene(640, 360)
    zones = (
        Zone("porch", ((0.0, 0.2), (0.6, 0.1), (0.7, 0.9), (0.05, 1.0))),
        Zone("drive", ((0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0))),
        Zone("street", ((0.0, 0.0), (1.0, 0.0), (1.0, 0.15), (0.0, 0.15)), kind="mask"),
    )
    cases = [
        ("320x180 static noisy", MotionSettings(), noisy_frames(small, 64)),
        ("320x180 moving object", MotionSettings(), noisy_frames(small, 64, box_step=5)),
        ("320x180 lighting flicker x1.3", MotionSettings(), noisy_frames(small, 64, gains=(1.0, 1.3))),
        ("320x180 moving, zones+mask", MotionSettings(zones=zones), noisy_frames(small, 64, box_step=5)),
        ("640x360 moving object", MotionSettings(), noisy_frames(big, 64, box_step=10)),
    ]
    default_threads = cv2.getNumThreads()
    print(f"OpenCV {cv2.__version__}, numpy {np.__version__}, {args.calls} calls x {args.repeats} repeats")
    for threads in (1, default_threads):
        cv2.setNumThreads(threads)
        print(f"cv2.setNumThreads({threads}):")
        for name, motion, frames in cases:
            bench_analyze(name, motion, frames, args.calls, args.repeats)
        for width, height, pad in ((640, 360, 64), (1920, 1080, 128)):
            bench_shrink(width, height, pad, max(50, args.calls // 4), args.repeats)
    cv2.setNumThreads(default_threads)


if __name__ == "__main__":
    main()
