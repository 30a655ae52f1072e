"""A small disk filled by a high-bitrate camera: the emergency purge frees space, recording goes on.

The storage folder is a tmpfs mounted by the test (root only; skipped elsewhere unless ``CI=true``).
The camera is a real RTSP peer on 127.0.0.1 sending ~4.4 Mbit/s of noise (about 0.5 MB a second), so
a 4-8 MiB disk fills within seconds. The index (SQLite) stays in the data dir, off the small disk.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

from hub.core.bus import RetentionRan, SegmentClosed, StatusChanged
from hub.core.model import Segment
from tests.support import e2e
from tests.support.clips import ClipSpec
from tests.support.e2e import (
    assert_index_matches_disk,
    assert_plays,
    decoded_frames,
    ffprobe_clean,
    rows,
)
from tests.support.hubtools import camera, configure, start_hub, state_of, wait_for

mounts = e2e.mounts  # fixture: mounts undone at teardown

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

MiB = 1024**2
HOT_SPEC = ClipSpec(seconds=12, noise=40, bitrate=4_000_000, passages=())


@dataclasses.dataclass
class Observed:
    """What the hub published while the test ran (filled on the bus thread)."""

    t0: float = dataclasses.field(default_factory=time.monotonic)
    closed: list[tuple[float, Segment]] = dataclasses.field(default_factory=list)
    purges: list[tuple[float, RetentionRan]] = dataclasses.field(default_factory=list)
    statuses: list[tuple[float, str, str | None]] = dataclasses.field(default_factory=list)
    copies: dict[str, Path] = dataclasses.field(default_factory=dict)
    copy_dir: Path | None = None
    root: Path | None = None

    def on_event(self, ev) -> None:
        now = time.monotonic()
        if isinstance(ev, SegmentClosed):
            self.closed.append((now, ev.segment))
            if self.copy_dir is not None:  # keep the file as it was indexed, before retention runs
                dest = self.copy_dir / ev.segment.path.replace("/", "_")
                try:
                    shutil.copyfile(self.root / ev.segment.path, dest)
                    self.copies[ev.segment.path] = dest
                except OSError:
                    pass
        elif isinstance(ev, RetentionRan):
            self.purges.append((now, ev))
        elif isinstance(ev, StatusChanged):
            self.statuses.append((now, ev.status.state, ev.status.last_error))

    def full_at(self) -> float | None:
        """When the camera first reported a full disk."""
        return next((t for t, _s, err in self.statuses if err and "full" in err.lower()), None)


class FreeSampler:
    """Samples the free space of a folder's file system every 0.1 s on a plain thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-free-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.samples.append((time.monotonic(), shutil.disk_usage(self.path).free))
            except OSError:
                pass

    def __enter__(self) -> FreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _errors(caplog) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in ("hub", "drivers")
    ]


def test_emergency_purge_frees_space_and_recording_goes_on(rtsp_camera, mounts, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    min_free = 4 * MiB
    store = mounts.tmpfs(tmp_path / "store", "8m")
    cam = rtsp_camera(HOT_SPEC)
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [camera("Hot", cam.url, detect=False)],
        segment_seconds=2.0,
        storage_path=str(store),
        min_free_bytes=min_free,
    )
    seen = Observed()
    hub = start_hub(data)
    try:
        hub.bus.subscribe(seen.on_event)
        with FreeSampler(store) as sampler:
            wait_for(lambda: any(p.emergency for _t, p in seen.purges), 45, "an emergency purge")
            first_purge = next(t for t, p in seen.purges if p.emergency)
            wait_for(
                lambda: sum(t > first_purge for t, _s in seen.closed) >= 4,
                20,
                "four segments closed after the emergency purge",
            )
            state = state_of(hub, cfg.id)
            status = next(s for s in hub.statuses() if s.camera_id == cfg.id)
    finally:
        hub.stop()

    purge = next(p for _t, p in seen.purges if p.emergency)
    assert purge.deleted > 0 and purge.bytes_freed > 0, purge
    # Free space ran down to the minimum (a cut and the purge it triggers can fall between two
    # samples: allow one segment's worth) and came back well above it after the purge.
    before = [f for t, f in sampler.samples if t < first_purge]
    after = [f for t, f in sampler.samples if t > first_purge + 0.5]
    assert before and min(before) < min_free + 1.5 * MiB, f"the disk never got near full: {before[-5:]}"
    assert after and max(after) > min_free + MiB, f"the purge freed no space: {after[:10]}"
    assert max(after) - min(before) > MiB, (min(before), max(after))
    # Recording never stopped: one segment after the other, no gap, no error.
    assert state == "recording" and status.last_error is None, status
    segs = [s for _t, s in seen.closed]
    gaps = [
        (a.path, b.path, b.start_ms - a.end_ms)
        for a, b in zip(segs, segs[1:], strict=False)
        if b.start_ms - a.end_ms > 100
    ]
    assert not gaps, f"recording paused around the purge: {gaps}"
    assert status.stats.get("connects") == 1, f"the camera had to reconnect: {status.stats}"
    assert_index_matches_disk(data, store)
    for s in rows(data):
        assert_plays(store / s.path, frames=s.frames)
    assert not _errors(caplog), _errors(caplog)


def _full_disk_setup(rtsp_camera, mounts, tmp_path):
    """4 MiB disk, 4 s segments of ~2 MB, 1 MiB to keep free: the second segment hits ENOSPC."""
    store = mounts.tmpfs(tmp_path / "store", "4m")
    cam = rtsp_camera(HOT_SPEC)
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [camera("Hot", cam.url, detect=False)],
        segment_seconds=4.0,
        storage_path=str(store),
        min_free_bytes=MiB,
    )
    return store, data, cfg


def test_hub_recovers_when_the_disk_fills_mid_segment(rtsp_camera, mounts, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    store, data, cfg = _full_disk_setup(rtsp_camera, mounts, tmp_path)
    seen = Observed()
    hub = start_hub(data)
    try:
        hub.bus.subscribe(seen.on_event)
        wait_for(seen.full_at, 40, "the disk to fill up mid-segment")
        full = seen.full_at()
        # Recovery: space is freed and a whole new segment is recorded after the disk was full.
        wait_for(
            lambda: any(t > full and s.duration_ms >= 3000 for t, s in seen.closed),
            30,
            f"a new segment after the disk was full (states: {seen.statuses[-3:]}, "
            f"free: {shutil.disk_usage(store).free} bytes)",
        )
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 10, "recording again")
    finally:
        hub.stop()
    assert any(p.deleted for _t, p in seen.purges), "no purge deleted anything"
    assert_index_matches_disk(data, store)
    for s in rows(data):
        assert_plays(store / s.path, frames=s.frames)
    assert not _errors(caplog), _errors(caplog)


def test_segment_cut_short_by_a_full_disk_is_indexed_as_it_plays(rtsp_camera, mounts, tmp_path):
    store, data, _cfg = _full_disk_setup(rtsp_camera, mounts, tmp_path)
    copies = tmp_path / "copies"
    copies.mkdir()
    seen = Observed(copy_dir=copies, root=store)
    hub = start_hub(data)
    try:
        hub.bus.subscribe(seen.on_event)
        wait_for(seen.full_at, 40, "the disk to fill up mid-segment")
        time.sleep(0.5)  # the bus delivers in order: the segment closed by ENOSPC was copied already
    finally:
        hub.stop()
    full = seen.full_at()
    cut_short = [s for t, s in seen.closed if t <= full][-1]
    copy = seen.copies[cut_short.path]
    assert copy.stat().st_size == cut_short.bytes
    problems = []
    try:
        ffprobe_clean(copy)
    except AssertionError as exc:
        problems.append(str(exc))
    try:
        n = decoded_frames(copy)
    except AssertionError as exc:
        problems.append(str(exc))
    else:
        if n != cut_short.frames:
            problems.append(f"the index says {cut_short.frames} frames, {n} decode")
    assert not problems, f"{cut_short.path} (closed by a full disk): " + "; ".join(problems)
