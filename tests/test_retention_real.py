"""Retention on real recordings: real segment files from the demo camera, a real SQLite index.

The retention worker is the product's (``RetentionWorker``, the one the Hub runs). A disk quota below
the settings' 64 MiB minimum is given to a worker through its settings provider (the demo camera
would need minutes to fill 64 MiB); everything else goes through validated settings and the running
hub. Old recordings are made by copying a real segment file into an older folder before a start: the
hub's own startup scan indexes it, exactly as it would a file restored from a backup.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest

from hub.core.bus import ProtectionChanged
from hub.core.model import Segment
from hub.db import repo_config, repo_protect
from hub.db.tx import run_write
from hub.hub import Hub
from hub.retention import protections
from hub.retention.worker import RetentionWorker
from hub.storage.layout import segment_relpath
from tests.support.e2e import (
    assert_index_matches_disk,
    assert_plays,
    empty_dirs,
    events,
    index,
    rows,
    segment_files,
)
from tests.support.hubtools import camera, configure, start_hub, wait_for

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
GRACE_S = 300.0


def star(hub: Hub, *segments: Segment) -> None:
    """Star each segment: a protection of an instant in its middle (the neighbours stay unprotected)."""
    for s in segments:
        mid = (s.start_ms + s.end_ms) // 2
        protections.protect(hub.engine, s.camera_id, mid, mid + 1, "star")


def _plant(root: Path, source: Segment, start_ms: int) -> str:
    """Copy a real segment file to the path of an older recording; return its relpath."""
    rel = segment_relpath(source.camera_id, start_ms)
    dest = root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / source.path, dest)
    return rel


def _disable_all(data: Path) -> None:
    with index(data) as engine:
        for cam in repo_config.list_cameras(engine):
            run_write(engine, repo_config.update_camera, cam.id, enabled=False)


def _folders(rel: str) -> tuple[str, str]:
    """(date folder, hour folder) of a segment relpath."""
    parts = rel.split("/")
    return "/".join(parts[:2]), "/".join(parts[:3])


def test_quota_deletes_the_oldest_unprotected_first(tmp_path):
    data = tmp_path / "data"
    configure(
        data,
        [
            camera("Front", None, driver="demo", detect=False),
            camera("Back", None, driver="demo", detect=False),
        ],
        segment_seconds=2.0,
        retention_interval_s=3600.0,
    )
    root = data / "recordings"
    hub = start_hub(data)
    try:
        wait_for(
            lambda: min(sum(s.camera_id == c for s in rows(data)) for c in ("front", "back")) >= 5,
            40,
            "five segments of each camera",
        )
    finally:
        hub.stop()
    recorded = rows(data)
    planted = _plant(root, recorded[0], recorded[0].start_ms - 2 * DAY_MS)  # oldest: alone in its folders
    _disable_all(data)

    hub = start_hub(data)
    try:
        assert planted in hub.recovery.indexed, hub.recovery
        wait_for(lambda: hub.retention.runs >= 1, 10, "the startup retention run")
        segs = rows(data)
        assert not any(s.protected for s in segs)
        # Protect the 2nd and 4th oldest: the quota must step over them.
        to_protect = [segs[1], segs[3]]
        star(hub, *to_protect)
        unprotected = sorted(
            (s for s in segs if s not in to_protect), key=lambda s: (s.start_ms, s.camera_id)
        )
        expected = unprotected[:5]
        total = sum(s.bytes for s in segs)
        quota = total - sum(s.bytes for s in expected)
        settings = dataclasses.replace(hub.settings, quota_bytes=quota)
        worker = RetentionWorker(hub.engine, hub.writer, hub.storage, hub.bus, lambda: settings, hub.cameras)
        plan = worker.run_once()
        again = worker.run_once()
    finally:
        hub.stop()

    assert plan is not None and plan.deletions, "retention deleted nothing over the quota"
    after = {s.path: s for s in rows(data)}
    deleted = {s.path for s in segs} - set(after)
    assert deleted == {s.path for s in expected}, (
        f"deleted {sorted(deleted)}, expected the five oldest unprotected {[s.path for s in expected]}"
    )
    assert all(s.path in after and after[s.path].protected for s in to_protect), (
        "a protected segment was deleted"
    )
    assert all((root / s.path).is_file() for s in to_protect)
    newest_deleted = max(s.start_ms for s in expected)
    assert all(s.start_ms > newest_deleted for s in after.values() if not s.protected)
    assert sum(s.bytes for s in after.values()) <= quota
    assert plan.bytes_freed == sum(s.bytes for s in expected)
    assert again is not None and not again.deletions, f"a second pass deleted more: {again.deletions}"
    assert_index_matches_disk(data, root)
    # The planted recording was alone in its date folder: deleting it removes its hour and date folders.
    date_dir, hour_dir = _folders(planted)
    assert not (root / hour_dir).exists() and not (root / date_dir).exists()
    assert empty_dirs(root) == [], f"empty folders left behind: {empty_dirs(root)}"
    for s in after.values():
        assert_plays(root / s.path, frames=s.frames)


def test_a_full_disk_releases_holds_after_the_unprotected_and_never_a_star(tmp_path):
    data = tmp_path / "data"
    configure(data, [camera("Front", None, driver="demo", detect=False)], segment_seconds=2.0)
    hub = start_hub(data, start_retention=False)
    try:
        wait_for(lambda: len(rows(data)) >= 6, 40, "six segments")
    finally:
        hub.stop()
    _disable_all(data)
    hub = start_hub(data, start_retention=False)
    try:
        segs = rows(data)
        starred, held, plain = segs[0], segs[1:3], segs[3:]
        star(hub, starred)
        for s in held:
            mid = (s.start_ms + s.end_ms) // 2
            protections.protect(hub.engine, s.camera_id, mid, mid + 1, "hold", "request under review")
        assert [(s.protected, s.held) for s in rows(data)][:3] == [
            (True, False),
            (False, True),
            (False, True),
        ]
        free, _total = hub.storage.disk()
        full = dataclasses.replace(hub.settings, min_free_bytes=free + 1024**3)  # never enough space
        announced: list[ProtectionChanged] = []
        hub.bus.subscribe(announced.append, ProtectionChanged)  # type: ignore[arg-type]
        worker = RetentionWorker(hub.engine, hub.writer, hub.storage, hub.bus, lambda: full, hub.cameras)
        plan = worker.run_once()
        kept = repo_protect.list_protections(hub.engine)
        wait_for(lambda: len(announced) == 2, 10, "a notice for each hold released")
    finally:
        hub.stop()
    assert plan is not None and plan.emergency
    # the holds were released (the oldest first), then their footage went with the rest; the star stays
    assert [(p.protection.start_ms, p.released) for p in announced] == [
        ((s.start_ms + s.end_ms) // 2, True) for s in held
    ]
    assert [p.reason for p in kept] == ["star"]
    assert sorted(d.path for d in plan.deletions) == sorted(s.path for s in plain + held)
    assert [s.path for s in rows(data)] == [starred.path]
    assert_index_matches_disk(data, data / "recordings")


def test_running_hub_applies_a_shorter_max_age_and_keeps_protected(tmp_path):
    """The owner shortens 'keep recordings for' while recording: old footage goes, protected stays."""
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [camera("Drive", None, driver="demo", detect=False)],
        segment_seconds=2.0,
        retention_interval_s=1.0,
        max_age_days=30.0,
    )
    root = data / "recordings"
    hub = start_hub(data)
    try:
        wait_for(lambda: len(rows(data)) >= 1, 20, "a first segment")
    finally:
        hub.stop()
    src = rows(data)[0]
    old_a = _plant(root, src, src.start_ms - 3 * DAY_MS)
    old_b = _plant(root, src, src.start_ms - 3 * DAY_MS - 5 * HOUR_MS)
    old_kept = _plant(root, src, src.start_ms - 4 * DAY_MS)
    recent = _plant(root, src, src.start_ms - 12 * HOUR_MS)

    hub = start_hub(data)
    try:
        assert {old_a, old_b, old_kept, recent} <= set(hub.recovery.indexed), hub.recovery
        by_path = {s.path: s for s in rows(data)}
        star(hub, by_path[old_kept])
        time.sleep(2.5)  # two retention runs under the 30-day rule: nothing is old enough yet
        assert {old_a, old_b, old_kept, recent} <= {s.path for s in rows(data)}
        with index(data) as engine:
            run_write(
                engine,
                repo_config.save_settings,
                dataclasses.replace(repo_config.load_settings(engine), max_age_days=1.0),
            )
        changed_at = time.time() * 1000
        wait_for(
            lambda: not ({old_a, old_b} & {s.path for s in rows(data)}),
            15,
            "the running hub to delete the recordings older than a day",
        )
        # Recording went on meanwhile and keeps going.
        wait_for(
            lambda: any(s.start_ms > changed_at + 1000 for s in rows(data)), 15, "a segment after the change"
        )
    finally:
        hub.stop()

    after = {s.path: s for s in rows(data)}
    assert old_a not in after and old_b not in after
    assert not (root / old_a).exists() and not (root / old_b).exists()
    assert old_kept in after and after[old_kept].protected and (root / old_kept).is_file()
    assert recent in after and (root / recent).is_file()
    live = [s for s in after.values() if s.start_ms >= src.start_ms]
    assert len(live) >= 3 and all(s.camera_id == cfg.id for s in live)
    assert_index_matches_disk(data, root)
    assert not (root / _folders(old_b)[1]).exists(), "the emptied hour folder was left behind"
    assert empty_dirs(root) == [], f"empty folders left behind: {empty_dirs(root)}"


@pytest.mark.slow
def test_motion_mode_keeps_event_footage_and_drops_the_rest_after_grace(tmp_path):
    """Motion mode: every segment is written; retention keeps event ± pre/post-roll after the grace time.

    The demo scene has a visitor crossing for 6 s every 30 s; the hub's own detector makes the event.
    """
    pre_s, post_s = 2.0, 2.0
    data = tmp_path / "data"
    (cfg,) = configure(
        data,
        [camera("Porch", None, driver="demo", mode="motion", pre_roll_s=pre_s, post_roll_s=post_s)],
        segment_seconds=2.0,
        retention_interval_s=3600.0,
        motion_grace_s=GRACE_S,
    )
    root = data / "recordings"

    def ready() -> bool:
        """An ended event with two segments wholly before its window and three after it."""
        segs = rows(data)
        for e in events(data):
            if e.end_ms is not None and (
                sum(s.end_ms < e.start_ms - pre_s * 1000 for s in segs) >= 2
                and sum(s.start_ms > e.end_ms + post_s * 1000 for s in segs) >= 3
            ):
                return True
        return False

    hub = start_hub(data)
    try:
        wait_for(ready, 60, "a motion event with footage without motion before and after it")
    finally:
        hub.stop()
    _disable_all(data)
    segs = rows(data)
    evs = events(data)

    hub = start_hub(data)
    try:
        wait_for(lambda: hub.retention.runs >= 1, 10, "the startup retention run")
        # Within the grace time nothing is deleted (a late event may still need it as pre-roll).
        after_startup = {s.path for s in rows(data)}
        # Protect one segment that no event needs: it must survive the grace time too.
        pre_ms, post_ms = pre_s * 1000, post_s * 1000

        def needed(s: Segment) -> bool:
            return any(s.start_ms <= e.end_ms + post_ms and s.end_ms > e.start_ms - pre_ms for e in evs)

        spare = [s for s in segs if not needed(s) and not s.unobserved]
        assert len(spare) >= 2, f"expected segments without motion: {segs} {evs}"
        star(hub, spare[-1])
        later = max(s.end_ms for s in segs) + round(pre_ms) + round(GRACE_S * 1000) + 1000
        plan = hub.retention.run_once(now=later)
    finally:
        hub.stop()

    assert after_startup == {s.path for s in segs}, "motion footage was deleted before the grace time"
    assert plan is not None
    assert all(e.end_ms is not None for e in evs)
    kept = {s.path: s for s in rows(data)}
    for s in segs:
        keep = needed(s) or s.unobserved or s.id == spare[-1].id
        if keep:
            assert s.path in kept, (
                f"{s.path} was deleted although {'an event needs it' if needed(s) else 'kept'}"
            )
        else:
            assert s.path not in kept, f"{s.path} has no motion and was kept past the grace time"
    assert any(needed(s) and not s.unobserved for s in segs), "no observed segment overlapped the event"
    assert {d.reason for d in plan.deletions} == {"motion"}
    assert_index_matches_disk(data, root)
    assert empty_dirs(root) == []
    for s in kept.values():
        assert_plays(root / s.path, frames=s.frames)
    assert cfg.mode == "motion"


def test_hub_without_the_retention_thread_stops_cleanly(tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    hub = start_hub(data, start_retention=False)
    try:
        hub.stop()
    except BaseException:
        # Finish the teardown Hub.stop() skipped, so that no thread or lock outlives this test.
        hub.writer.close(10)
        hub.bus.stop()
        hub.engine.dispose()
        hub._lock.release()
        raise
    assert not segment_files(data / "recordings")
