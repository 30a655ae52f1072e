"""The storage disk goes away (unmounted) and comes back, with the hub running or starting.

The storage folder is a bind mount of a backing folder (root only; skipped elsewhere unless
``CI=true``). Unmounting it (``umount -l``) leaves the empty mount point without the storage marker,
exactly what an unplugged external disk leaves; mounting it again brings the marker and the
recordings back. The camera is the demo camera (no server needed), 2 s segments.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

from hub.core.bus import SegmentClosed
from hub.core.model import CameraStatus, Segment
from tests.support import e2e
from tests.support.e2e import (
    Mounts,
    all_entries,
    assert_index_matches_disk,
    assert_plays,
    mount,
    rows,
    segment_files,
    stored_status,
    umount,
)
from tests.support.hubtools import camera, configure, start_hub, state_of, wait_for

pytestmark = pytest.mark.slow
mounts = e2e.mounts  # fixture: mounts undone at teardown

SEGMENT_S = 2.0


def _status(hub, camera_id: str) -> CameraStatus:
    return next(s for s in hub.statuses() if s.camera_id == camera_id)


class Cuts:
    """Monotonic times of segment closes (bus thread) and a way to wait for the next one."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.segments: list[Segment] = []
        self._cv = threading.Condition()

    def on_event(self, ev: SegmentClosed) -> None:
        with self._cv:
            self.times.append(time.monotonic())
            self.segments.append(ev.segment)
            self._cv.notify_all()

    def wait_next(self, timeout: float = 10.0) -> float:
        with self._cv:
            n = len(self.times)
            if not self._cv.wait_for(lambda: len(self.times) > n, timeout):
                raise AssertionError(f"no segment closed within {timeout:g} s")
            return self.times[-1]


@dataclasses.dataclass
class UnmountRun:
    mnt: Path
    backing: Path
    data: Path
    cam_id: str
    rows_before: list[Segment]
    open_at_unmount: str | None  # the file being written when the disk went away
    status_missing: CameraStatus
    stored_missing: CameraStatus | None
    entries_during: list[list[str]]  # what the mount point held, sampled during the outage
    rows_during: list[Segment]
    retention_during: object
    remounted_wall_ms: int
    state_after_remount: str
    rows_after: list[Segment]


@pytest.fixture(scope="module")
def unmounted(tmp_path_factory) -> UnmountRun:
    tmp = tmp_path_factory.mktemp("unmount")
    m = Mounts()
    try:
        return _unmount_scenario(m, tmp)
    finally:
        m.cleanup()


def _unmount_scenario(m: Mounts, tmp: Path) -> UnmountRun:
    backing, mnt = tmp / "backing", tmp / "mnt"
    m.bind(backing, mnt)
    data = tmp / "data"
    (cfg,) = configure(
        data,
        [camera("Yard", None, driver="demo", detect=False)],
        segment_seconds=SEGMENT_S,
        storage_path=str(mnt),
        retention_interval_s=1.0,
    )
    cuts = Cuts()
    hub = start_hub(data)
    try:
        hub.bus.subscribe(cuts.on_event, SegmentClosed)
        wait_for(lambda: len(cuts.times) >= 3, 20, "three segments")
        # Unplug right after a cut: the next cut is ~2 s away, past the storage check's 1 s cache.
        cuts.wait_next()
        time.sleep(0.1)
        umount(mnt)
        unmounted_at = time.monotonic()
        rows_before = rows(data)
        newest = sorted(segment_files(backing))
        open_at_unmount = newest[-1] if newest and newest[-1] not in {s.path for s in rows_before} else None
        wait_for(
            lambda: state_of(hub, cfg.id) == "storage_missing", 10, "the camera to report storage_missing"
        )
        status_missing = _status(hub, cfg.id)
        entries = [all_entries(mnt)]
        time.sleep(max(0.0, unmounted_at + 3 * SEGMENT_S - time.monotonic()))  # several segment lengths
        retention = hub.retention.run_once()
        time.sleep(1.5)  # the retention thread runs every second as well
        entries.append(all_entries(mnt))
        rows_during = rows(data)
        stored = stored_status(data, cfg.id)
        mount("--bind", str(backing), str(mnt))
        remounted_wall_ms = int(time.time() * 1000)
        wait_for(lambda: state_of(hub, cfg.id) == "recording", 15, "recording after the disk came back")
        wait_for(
            lambda: any(s.start_ms > remounted_wall_ms for s in rows(data)),
            15,
            "a segment recorded after the disk came back",
        )
        state_after = state_of(hub, cfg.id)
    finally:
        hub.stop()
    return UnmountRun(
        mnt,
        backing,
        data,
        cfg.id,
        rows_before,
        open_at_unmount,
        status_missing,
        stored,
        entries,
        rows_during,
        retention,
        remounted_wall_ms,
        state_after,
        rows(data),
    )


def test_status_says_storage_missing_and_why(unmounted: UnmountRun):
    st = unmounted.status_missing
    assert st.state == "storage_missing"
    assert st.last_error and str(unmounted.mnt) in st.last_error, st.last_error
    assert "disk" in st.last_error.lower() or "connect" in st.last_error.lower(), st.last_error
    # What `porchlight status` reads: the hub wrote it to the index too.
    assert unmounted.stored_missing is not None
    assert (unmounted.stored_missing.state, unmounted.stored_missing.last_error) == (st.state, st.last_error)


def test_nothing_is_written_into_the_empty_mount_point(unmounted: UnmountRun):
    for entries in unmounted.entries_during:
        assert entries == [], f"written into the mount point while the disk was away: {entries}"


def test_nothing_is_purged_from_the_index(unmounted: UnmountRun):
    assert unmounted.rows_before, "no segment was recorded before the disk went away"
    assert unmounted.retention_during is None, "retention ran on a missing storage folder"
    during = {s.path for s in unmounted.rows_during}
    missing = [s.path for s in unmounted.rows_before if s.path not in during]
    assert not missing, f"rows purged while the disk was away: {missing}"
    after = {s.path for s in unmounted.rows_after}
    assert all(s.path in after for s in unmounted.rows_before)
    for s in unmounted.rows_before:
        assert (unmounted.backing / s.path).is_file(), s.path


def test_recording_resumes_when_the_disk_is_back(unmounted: UnmountRun):
    assert unmounted.state_after_remount == "recording"
    new = [s for s in unmounted.rows_after if s.start_ms > unmounted.remounted_wall_ms]
    assert new, "nothing recorded after the disk came back"
    for s in new:
        assert (unmounted.backing / s.path).is_file(), f"{s.path} was not written to the disk"
        assert_plays(unmounted.backing / s.path, frames=s.frames)


def test_segment_open_at_unmount_is_indexed_and_index_matches_disk(unmounted: UnmountRun):
    assert unmounted.open_at_unmount is not None, "no segment was being written at the unmount"
    assert (unmounted.backing / unmounted.open_at_unmount).is_file()
    assert unmounted.open_at_unmount in {s.path for s in unmounted.rows_after}, (
        f"{unmounted.open_at_unmount} was written to the disk but never indexed"
    )
    assert_index_matches_disk(unmounted.data, unmounted.backing)


def test_no_file_is_created_in_the_mount_point_just_after_unmount(mounts, tmp_path):
    """The disk goes away 0.5 s before a cut, just after the hub last checked the storage folder.

    The housekeeper checks the folder every second; ``state(force=True)`` here only fixes *when* the
    last check happened, so that the cut falls into the window every time instead of now and then.
    """
    backing, mnt = tmp_path / "backing", tmp_path / "mnt"
    mounts.bind(backing, mnt)
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [camera("Yard", None, driver="demo", detect=False)],
        segment_seconds=SEGMENT_S,
        storage_path=str(mnt),
    )
    cuts = Cuts()
    hub = start_hub(data)
    try:
        hub.bus.subscribe(cuts.on_event, SegmentClosed)
        wait_for(lambda: len(cuts.times) >= 2, 20, "two segments")
        last = cuts.wait_next()
        time.sleep(max(0.0, last + SEGMENT_S - 0.5 - time.monotonic()))
        hub.storage.state(force=True)
        umount(mnt)
        time.sleep(2 * SEGMENT_S)
        entries = all_entries(mnt)
        state = state_of(hub, cfg.id)
    finally:
        hub.stop()
    assert state == "storage_missing"
    assert entries == [], f"written into the empty mount point after the disk went away: {entries}"


def test_hub_started_without_the_marker_keeps_its_index(mounts, tmp_path):
    backing, mnt = tmp_path / "backing", tmp_path / "mnt"
    mounts.bind(backing, mnt)
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [camera("Yard", None, driver="demo", detect=False)],
        segment_seconds=SEGMENT_S,
        storage_path=str(mnt),
        retention_interval_s=1.0,
    )
    hub = start_hub(data)
    try:
        wait_for(lambda: len(rows(data)) >= 3, 20, "three segments")
    finally:
        hub.stop()
    recorded = rows(data)
    umount(mnt)
    assert all_entries(mnt) == []

    hub = start_hub(data)
    try:
        report = hub.recovery
        wait_for(lambda: state_of(hub, cfg.id) == "storage_missing", 10, "storage_missing at startup")
        status = _status(hub, cfg.id)
        time.sleep(3)  # several retention runs (every second) and storage checks
        rows_missing = rows(data)
        entries = all_entries(mnt)
        mount("--bind", str(backing), str(mnt))
        back = int(time.time() * 1000)
        wait_for(lambda: any(s.start_ms > back for s in rows(data)), 20, "recording after the disk came back")
    finally:
        hub.stop()

    assert report.rows_removed == 0 and not report.indexed and not report.quarantined, report
    assert [s.path for s in rows_missing] == [s.path for s in recorded], "rows purged at startup"
    assert entries == [], f"written into the empty mount point: {entries}"
    assert status.last_error and str(mnt) in status.last_error
    # Back: everything recorded before is still indexed and on the disk, and the index matches it.
    after = assert_index_matches_disk(data, backing)
    assert {s.path for s in recorded} <= {s.path for s in after}
    for s in after:
        assert_plays(backing / s.path, frames=s.frames)
