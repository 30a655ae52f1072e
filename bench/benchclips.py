"""Benchmark camera clips: a 1080p15 main stream (frame-number barcode) and a 640x360 ~500 kbit/s
sub stream, made by the test suite's generator (tests/support/clips.py) and cached in bench/.cache.

Encoding matches a typical camera: H.264 Main, no B-frames, GOP 2 s, SPS/PPS before every IDR,
VBV-capped bitrate, MPEG-TS so that ``ffmpeg -stream_loop -1 -c copy`` loops cleanly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.clips import CameraClips, ClipSpec, make_camera_clips  # noqa: E402

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

#: The benchmark camera: 60 s loop, a box crossing the frame for 8 s of every 20 s.
BENCH_SPEC = ClipSpec(
    width=1920,
    height=1080,
    fps=15,
    seconds=60.0,
    gop_s=2.0,
    bitrate=3_000_000,
    noise=6,
    passages=((4.0, 12.0), (24.0, 32.0), (44.0, 52.0)),
    barcode=True,
    seed=1,
    sub_width=640,
    sub_height=360,
    sub_bitrate=500_000,
)


def make_bench_clips(spec: ClipSpec = BENCH_SPEC, cache_dir: Path = CACHE_DIR) -> CameraClips:
    """The cached clips for ``spec`` (encoded first when missing; safe across processes)."""
    key = spec.key()
    if not (cache_dir / f"{key}-main.ts").exists():
        print(
            f"bench: encoding {spec.seconds:g} s of {spec.width}x{spec.height} + {spec.sub_size[0]}x"
            f"{spec.sub_size[1]} (about {0.8 * spec.seconds:.0f} s on an idle machine)...",
            file=sys.stderr,
            flush=True,
        )
    started = time.monotonic()
    clips = make_camera_clips(spec, cache_dir)
    if time.monotonic() - started > 1:
        print(f"bench: clips ready in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return clips


if __name__ == "__main__":
    c = make_bench_clips()
    print(c.main_ts, c.sub_ts)
