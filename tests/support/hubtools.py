"""Helpers for tests that run a real Hub on a temporary data dir."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from hub.core.model import CameraConfig, MotionSettings, Segment
from hub.core.settings import Settings
from hub.db import repo_config, repo_media
from hub.db.engine import open_engine
from hub.db.tx import run_write
from hub.db.upgrade import migrate
from hub.hub import Hub, HubOptions
from hub.storage.layout import decode_segment_meta
from tests.support import barcode, e2e


def configure(data_dir: Path, cameras: list[CameraConfig], **settings: object) -> list[CameraConfig]:
    """Write cameras and settings into a fresh index in ``data_dir``; returns the stored cameras."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine(f"sqlite:///{data_dir / 'porchlight.db'}")
    migrate(engine)
    base = dict(min_free_bytes=64 * 1024**2)
    base.update(settings)
    run_write(engine, repo_config.save_settings, dataclasses.replace(Settings(), **base))
    out = [run_write(engine, repo_config.add_camera, c) for c in cameras]
    engine.dispose()
    return out


def camera(name: str, url: str | None, **kw: object) -> CameraConfig:
    """A CameraConfig with test-friendly defaults (id is assigned when added)."""
    return CameraConfig(id="", name=name, url=url, **kw)


def start_hub(data_dir: Path, **options: object) -> Hub:
    """A started Hub on ``data_dir``."""
    hub = Hub(data_dir, options=HubOptions(**options))
    hub.start()
    return hub


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    """Poll until ``predicate()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


def state_of(hub: Hub, camera_id: str) -> str:
    """The camera's current state."""
    return next(s.state for s in hub.statuses() if s.camera_id == camera_id)


def segments(data_dir: Path, camera_id: str | None = None) -> list[Segment]:
    """Index rows, ordered by start."""
    with e2e.index(data_dir) as engine:
        return repo_media.list_segments(engine, camera_id=camera_id)


def final_stats(data_dir: Path, camera_id: str) -> dict:
    """The stats the hub stored with the camera's last status."""
    with e2e.index(data_dir) as engine:
        return next(s.stats for s in repo_media.list_status(engine) if s.camera_id == camera_id)


@dataclasses.dataclass
class DecodedFile:
    """Every frame of one file: stream-time seconds (from the file's metadata) and barcode."""

    path: Path
    meta: dict
    times: list[float]  # stream seconds: stream_offset * time_base + pts seconds
    codes: list[int | None]
    keyframe_first: bool
    has_audio: bool
    audio_frames: int


def decode_file(path: Path, *, read_codes: bool = True) -> DecodedFile:
    """Decode all video (and audio) of a recorded segment."""
    with av.open(str(path)) as c:
        meta = decode_segment_meta(c.metadata.get("comment", "")) or {}
        offset = 0.0
        if meta:
            num, den = (int(x) for x in str(meta["time_base"]).split("/"))
            offset = meta["stream_offset"] * num / den
        times, codes, first_key = [], [], None
        has_audio = bool(c.streams.audio)
        for frame in c.decode(video=0):
            if first_key is None:
                first_key = frame.key_frame
            times.append(offset + float(frame.pts * frame.time_base))
            if read_codes:
                p = frame.planes[0]
                y = np.frombuffer(p, np.uint8).reshape(frame.height, p.line_size)[:, : frame.width]
                codes.append(barcode.read(y))
        audio_frames = 0
    if has_audio:
        with av.open(str(path)) as c:
            audio_frames = sum(1 for _ in c.decode(audio=0))
    return DecodedFile(path, meta, times, codes, bool(first_key), has_audio, audio_frames)


def ffprobe_ok(path: Path) -> dict:
    """ffprobe's view of a file; raises when ffprobe reports any error."""
    r = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name,codec_type",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0 and not r.stderr.strip(), f"ffprobe {path}: {r.stderr}"
    return json.loads(r.stdout)


__all__ = [
    "MotionSettings",
    "camera",
    "configure",
    "decode_file",
    "ffprobe_ok",
    "final_stats",
    "segments",
    "start_hub",
    "state_of",
    "wait_for",
]
