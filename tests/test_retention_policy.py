"""Retention policy: every rule, their interplay, exact boundaries, properties and a 1M-segment timing."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.model import CameraConfig, Event, Segment
from hub.core.settings import GiB, Settings
from hub.retention import (
    CameraRetention,
    DiskState,
    RetentionPlan,
    RetentionSettings,
    from_settings,
    plan_retention,
)

T0 = 1_700_000_000_000
S = 1000
MIN = 60 * S
DAY = 86_400_000
BIG_DISK = DiskState(free_bytes=10**15, total_bytes=10**16)
MOTION = CameraRetention(mode="motion", pre_roll_ms=5 * S, post_roll_ms=10 * S)
CONT = CameraRetention(mode="continuous")
NO_LIMITS = RetentionSettings(
    quota_bytes=None, max_age_ms=None, min_free_bytes=0, free_target_bytes=1, grace_ms=60 * S
)

_ids = iter(range(1, 10**9))


def seg(start_ms: int, dur_ms: int = 10 * S, cam: str = "a", nbytes: int = 100, **kw) -> Segment:
    sid = kw.pop("id", None) or next(_ids)
    return Segment(sid, cam, f"{cam}/{start_ms}-{sid}.mp4", start_ms, start_ms + dur_ms, nbytes, **kw)


def ev(start_ms: int, end_ms: int | None, cam: str = "a") -> Event:
    return Event(None, cam, "motion", start_ms, end_ms)


def plan(segments, events=(), cameras=None, rs=NO_LIMITS, disk=BIG_DISK, now=T0 + DAY) -> RetentionPlan:
    return plan_retention(segments, events, {"a": MOTION} if cameras is None else cameras, rs, disk, now)


def deleted(p: RetentionPlan) -> dict[str, str]:
    return {d.path: d.reason for d in p.deletions}


# --- rule 1: motion mode --------------------------------------------------------------------------


def test_motion_keeps_segments_in_event_window_and_drops_the_rest():
    inside, before, after = seg(T0), seg(T0 - 60 * S), seg(T0 + 60 * S)
    p = plan([inside, before, after], [ev(T0 + 2 * S, T0 + 4 * S)])
    assert deleted(p) == {before.path: "motion", after.path: "motion"}
    assert p.bytes_freed == 200 and not p.emergency


@pytest.mark.parametrize(("end_offset", "kept"), [(0, False), (1, True)])
def test_motion_pre_roll_boundary(end_offset: int, kept: bool):
    # Window starts at event.start - pre_roll; a segment ending exactly there holds no frame of it.
    window_start = T0 - MOTION.pre_roll_ms
    s = seg(window_start - 10 * S + end_offset)
    assert (s.path not in deleted(plan([s], [ev(T0, T0 + S)]))) is kept


@pytest.mark.parametrize(("start_offset", "kept"), [(0, True), (1, False)])
def test_motion_post_roll_boundary(start_offset: int, kept: bool):
    window_end = T0 + S + MOTION.post_roll_ms
    s = seg(window_end + start_offset)
    assert (s.path not in deleted(plan([s], [ev(T0, T0 + S)]))) is kept


def test_motion_instant_event_without_rolls_keeps_exactly_the_segment_holding_it():
    cams = {"a": CameraRetention("motion", 0, 0)}
    ending_at, starting_at, holding = seg(T0 - 10 * S), seg(T0), seg(T0 + 20 * S - 5 * S)
    p = plan([ending_at, starting_at, holding], [ev(T0, T0)], cams)
    assert deleted(p) == {ending_at.path: "motion", holding.path: "motion"}
    zero_length = seg(T0, dur_ms=0)
    assert plan([zero_length], [ev(T0, T0)], cams).deletions == ()


def test_motion_open_event_reaches_to_now():
    now = T0 + 10 * MIN
    late = seg(now - 3 * MIN)  # long after the event started, but it is still going on
    p = plan([late], [ev(T0, None)], now=now)
    assert p.deletions == ()
    assert deleted(plan([late], [ev(T0, T0 + S)], now=now)) == {late.path: "motion"}


@pytest.mark.parametrize(("now_offset", "deletes"), [(0, False), (1, True)])
def test_motion_waits_pre_roll_plus_grace(now_offset: int, deletes: bool):
    s = seg(T0)
    now = s.end_ms + MOTION.pre_roll_ms + NO_LIMITS.grace_ms + now_offset
    assert bool(plan([s], now=now).deletions) is deletes


def test_motion_keeps_unobserved_and_protected_and_ignores_other_cameras_events():
    unobserved, protected, plain = (
        seg(T0, unobserved=True),
        seg(T0 + 10 * S, protected=True),
        seg(T0 + 20 * S),
    )
    p = plan(
        [unobserved, protected, plain], [ev(T0 + 20 * S, T0 + 30 * S, cam="b")], {"a": MOTION, "b": MOTION}
    )
    assert deleted(p) == {plain.path: "motion"}


def test_continuous_mode_ignores_events():
    s = seg(T0)
    assert plan([s], [], {"a": CONT}).deletions == ()


def test_overlapping_events_merge_into_one_window():
    segments = [seg(T0 + i * 10 * S) for i in range(7)]
    events = [ev(T0 + 10 * S, T0 + 30 * S), ev(T0 + 20 * S, T0 + 40 * S), ev(T0 + 12 * S, T0 + 13 * S)]
    # Window 5 s .. 50 s: the segment starting at 50 s is kept, the one at 60 s is not.
    assert deleted(plan(segments, events)) == {segments[-1].path: "motion"}


# --- rule 2: age ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("age_offset", "deletes"), [(0, False), (1, True)])
def test_age_boundary(age_offset: int, deletes: bool):
    rs = dataclasses.replace(NO_LIMITS, max_age_ms=7 * DAY)
    s = seg(T0)
    now = s.end_ms + 7 * DAY + age_offset
    assert deleted(plan([s], cameras={"a": CONT}, rs=rs, now=now)) == ({s.path: "age"} if deletes else {})


def test_age_camera_override_and_global_default():
    rs = dataclasses.replace(NO_LIMITS, max_age_ms=10 * DAY)
    cams = {
        "short": CameraRetention(max_age_ms=DAY),
        "long": CameraRetention(max_age_ms=100 * DAY),
        "default": CONT,
    }
    now = T0 + 20 * DAY
    segments = [
        seg(T0 + 15 * DAY, cam="short"),
        seg(T0, cam="long"),
        seg(T0, cam="default"),
        seg(T0 + 15 * DAY, cam="default"),
        seg(T0, cam="long", protected=True),
    ]
    p = plan(segments, cameras=cams, rs=rs, now=now)
    assert deleted(p) == {segments[0].path: "age", segments[2].path: "age"}


def test_no_age_limit_keeps_everything_forever():
    s = seg(T0)
    assert plan([s], cameras={"a": CONT}, now=T0 + 10_000 * DAY).deletions == ()


def test_removed_camera_follows_global_rules_as_continuous():
    rs = dataclasses.replace(NO_LIMITS, max_age_ms=30 * DAY)
    young, old = seg(T0, cam="gone"), seg(T0 - 40 * DAY, cam="gone")
    p = plan([young, old], [ev(T0 - 50 * DAY, T0 - 50 * DAY, cam="gone")], cameras={}, rs=rs, now=T0 + DAY)
    assert deleted(p) == {old.path: "age"}


def test_motion_reason_wins_over_age():
    rs = dataclasses.replace(NO_LIMITS, max_age_ms=DAY)
    s = seg(T0)
    assert deleted(plan([s], rs=rs, now=T0 + 2 * DAY)) == {s.path: "motion"}


# --- rule 3: quota ----------------------------------------------------------------------------------


def test_quota_deletes_oldest_across_cameras_until_under():
    cams = {"a": CONT, "b": CONT}
    segments = [
        seg(T0 + 30 * S, cam="a"),
        seg(T0 + 10 * S, cam="b"),
        seg(T0, cam="a"),
        seg(T0 + 20 * S, cam="b"),
    ]
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=250)
    p = plan(segments, cameras=cams, rs=rs)
    assert [d.path for d in p.deletions] == [segments[2].path, segments[1].path]
    assert all(d.reason == "quota" for d in p.deletions) and p.bytes_freed == 200


def test_quota_exactly_met_deletes_nothing():
    segments = [seg(T0), seg(T0 + 10 * S)]
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=200)
    assert plan(segments, cameras={"a": CONT}, rs=rs).deletions == ()
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=199)
    assert len(plan(segments, cameras={"a": CONT}, rs=rs).deletions) == 1


def test_quota_tie_on_start_is_broken_by_camera_then_path():
    cams = {"a": CONT, "b": CONT}
    segments = [seg(T0, cam="b"), seg(T0, cam="a")]
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=100)
    assert [d.camera_id for d in plan(segments, cameras=cams, rs=rs).deletions] == ["a"]


def test_quota_skips_protected_and_says_when_it_cannot_be_met():
    old_protected, newer = seg(T0, protected=True, nbytes=500), seg(T0 + 10 * S)
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=300)
    p = plan([old_protected, newer], cameras={"a": CONT}, rs=rs)
    assert deleted(p) == {newer.path: "quota"}
    assert any("quota" in n and "protected" in n for n in p.notes)


def test_quota_counts_what_age_already_freed():
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=100, max_age_ms=DAY)
    old, young = seg(T0 - 5 * DAY), seg(T0)
    assert deleted(plan([old, young], cameras={"a": CONT}, rs=rs, now=T0 + S * 20)) == {old.path: "age"}


# --- rule 4: low space ------------------------------------------------------------------------------

LOW = dataclasses.replace(NO_LIMITS, min_free_bytes=1000, free_target_bytes=1250)


@pytest.mark.parametrize(("free", "emergency"), [(1000, False), (999, True)])
def test_low_space_boundary(free: int, emergency: bool):
    segments = [seg(T0 + i * 10 * S) for i in range(5)]
    p = plan(segments, cameras={"a": CONT}, rs=LOW, disk=DiskState(free, 10**6))
    assert p.emergency is emergency
    if emergency:  # frees oldest first until the target (1250), not just the minimum
        assert [d.path for d in p.deletions] == [s.path for s in segments[:3]]
        assert {d.reason for d in p.deletions} == {"low_space"}
    else:
        assert p.deletions == ()


def test_low_space_counts_bytes_freed_by_earlier_rules():
    rs = dataclasses.replace(LOW, max_age_ms=DAY)
    old, young = seg(T0 - 5 * DAY, nbytes=300), seg(T0)
    p = plan([old, young], cameras={"a": CONT}, rs=rs, disk=DiskState(900, 10**6), now=T0 + S * 20)
    assert deleted(p) == {old.path: "age"} and not p.emergency


def test_low_space_after_quota_continues_with_the_next_oldest():
    segments = [seg(T0 + i * 10 * S) for i in range(6)]
    rs = dataclasses.replace(LOW, quota_bytes=500)
    p = plan(segments, cameras={"a": CONT}, rs=rs, disk=DiskState(1000 - 200, 10**6))
    assert [(d.path, d.reason) for d in p.deletions] == [
        (segments[0].path, "quota"),
        (segments[1].path, "low_space"),
        (segments[2].path, "low_space"),
        (segments[3].path, "low_space"),
        (segments[4].path, "low_space"),
    ]
    assert p.emergency and p.bytes_freed == 500


def test_low_space_never_touches_protected_and_says_so():
    segments = [seg(T0, protected=True), seg(T0 + 10 * S)]
    p = plan(segments, cameras={"a": CONT}, rs=LOW, disk=DiskState(10, 10**6))
    assert deleted(p) == {segments[1].path: "low_space"} and p.emergency
    assert any("protected" in n for n in p.notes)


def test_held_footage_is_kept_by_every_rule():
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=100, max_age_ms=DAY)
    held_old, held_motion = seg(T0 - 5 * DAY, held=True), seg(T0 - 60 * S, cam="m", held=True)
    cams = {"a": CONT, "m": MOTION}
    assert plan([held_old, held_motion], cameras=cams, rs=rs).deletions == ()
    full = plan([held_old, held_motion], cameras=cams, rs=LOW, disk=DiskState(10, 10**6))
    assert full.deletions == () and full.emergency


def test_a_full_disk_says_how_far_short_it_is_so_that_holds_can_go():
    # oldest first: protected, held, held, plain, plain; 100 bytes each; 251 bytes to free (999 → 1250)
    protected = seg(T0, protected=True, held=True)
    held = [seg(T0 + 10 * S, held=True), seg(T0 + 20 * S, held=True)]
    plain = [seg(T0 + 30 * S), seg(T0 + 40 * S)]
    p = plan([protected, *held, *plain], cameras={"a": CONT}, rs=LOW, disk=DiskState(1000, 10**6))
    assert p.deletions == () and p.short_bytes == 0  # not under the minimum: nothing goes
    p = plan([protected, *held, *plain], cameras={"a": CONT}, rs=LOW, disk=DiskState(999, 10**6))
    assert [d.path for d in p.deletions] == [plain[0].path, plain[1].path]  # never a held one
    assert {d.reason for d in p.deletions} == {"low_space"} and p.bytes_freed == 200
    assert p.short_bytes == LOW.free_target_bytes - 999 - 200 == 51
    # enough unprotected footage: not short
    more = [seg(T0 + (50 + i) * S) for i in range(3)]
    p = plan([*held, *plain, *more], cameras={"a": CONT}, rs=LOW, disk=DiskState(999, 10**6))
    assert not {d.path for d in p.deletions} & {h.path for h in held}
    assert p.emergency and p.short_bytes == 0


# --- misc -------------------------------------------------------------------------------------------


def test_order_is_deterministic_and_duplicates_are_ignored():
    rs = dataclasses.replace(NO_LIMITS, quota_bytes=300, max_age_ms=10 * DAY)
    segments = [seg(T0 + i * 7 * S, cam=c) for i in range(30) for c in ("a", "b")]
    segments += [seg(T0 - 20 * DAY + i, cam="b") for i in range(5)]
    cams = {"a": MOTION, "b": CONT}
    reference = plan(segments, [ev(T0 + 50 * S, T0 + 60 * S)], cams, rs)
    shuffled = segments[:] + segments[:3]
    random.Random(4).shuffle(shuffled)
    again = plan(shuffled, [ev(T0 + 50 * S, T0 + 60 * S)], cams, rs)
    assert again.deletions == reference.deletions
    assert any("duplicate" in n for n in again.notes)
    assert [d.reason for d in reference.deletions] == sorted(
        (d.reason for d in reference.deletions), key=["motion", "age", "quota", "low_space"].index
    )


def test_settings_validation():
    with pytest.raises(ValueError):
        RetentionSettings(min_free_bytes=100, free_target_bytes=100)
    with pytest.raises(ValueError):
        CameraRetention(mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CameraRetention(pre_roll_ms=-1)


def test_from_settings():
    s = Settings(quota_bytes=100 * GiB, max_age_days=30, min_free_bytes=2 * GiB, motion_grace_s=90)
    cams = [
        CameraConfig(id="door", name="Door", mode="motion", pre_roll_s=3, post_roll_s=7.5, max_age_days=0.5),
        CameraConfig(id="yard", name="Yard"),
    ]
    rs, per_camera = from_settings(s, cams)
    assert rs == RetentionSettings(
        quota_bytes=100 * GiB,
        max_age_ms=30 * DAY,
        min_free_bytes=2 * GiB,
        free_target_bytes=2 * GiB + GiB // 2,
        grace_ms=90_000,
    )
    assert per_camera == {
        "door": CameraRetention("motion", 3000, 7500, DAY // 2),
        "yard": CameraRetention("continuous", 5000, 10_000, None),
    }
    rs, _ = from_settings(Settings(min_free_bytes=1024**2, max_age_days=None), [])
    assert rs.free_target_bytes == 1024**2 + 256 * 1024**2 and rs.max_age_ms is None


# --- properties -------------------------------------------------------------------------------------

CAMS = ("a", "b", "c")


@st.composite
def scenarios(draw):
    cameras = {}
    for cam in draw(st.lists(st.sampled_from(CAMS), unique=True)):  # the others are "removed"
        cameras[cam] = CameraRetention(
            mode=draw(st.sampled_from(["continuous", "motion"])),
            pre_roll_ms=draw(st.integers(0, 20)) * S,
            post_roll_ms=draw(st.integers(0, 20)) * S,
            max_age_ms=draw(st.none() | st.integers(0, 3000).map(lambda x: x * S)),
        )
    n = draw(st.integers(0, 40))
    segments = []
    for i in range(n):
        cam = draw(st.sampled_from(CAMS))
        start = T0 + draw(st.integers(0, 300)) * S + draw(st.sampled_from([0, 1, 999]))
        segments.append(
            Segment(
                i + 1,
                cam,
                f"{cam}/{i}.mp4",
                start,
                start + draw(st.integers(0, 15)) * S,
                draw(st.integers(0, 1000)),
                protected=draw(st.booleans()),
                unobserved=draw(st.integers(0, 9)) == 0,
            )
        )
    events = []
    for _ in range(draw(st.integers(0, 6))):
        start = T0 + draw(st.integers(-30, 300)) * S
        end = draw(st.none() | st.integers(0, 60).map(lambda x, s=start: s + x * S))
        events.append(Event(None, draw(st.sampled_from(CAMS)), "motion", start, end))
    min_free = draw(st.integers(0, 5000))
    rs = RetentionSettings(
        quota_bytes=draw(st.none() | st.integers(0, 20_000)),
        max_age_ms=draw(st.none() | st.integers(0, 3000).map(lambda x: x * S)),
        min_free_bytes=min_free,
        free_target_bytes=min_free + draw(st.integers(1, 3000)),
        grace_ms=draw(st.integers(0, 120)) * S,
    )
    disk = DiskState(draw(st.integers(0, 10_000)), 10**6)
    now = T0 + draw(st.integers(0, 4000)) * S
    return segments, events, cameras, rs, disk, now


def _windows(events, cameras, cam_id, now):
    cam = cameras[cam_id]
    for e in events:
        if e.camera_id == cam_id:
            end = now if e.end_ms is None else e.end_ms
            yield e.start_ms - cam.pre_roll_ms, max(end, e.start_ms) + cam.post_roll_ms


def _overlaps_any(s: Segment, windows) -> bool:
    # Brute force, independent of the implementation: half-open segment, closed window.
    return any(s.start_ms <= we and max(s.end_ms, s.start_ms + 1) > ws for ws, we in windows)


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_properties(scenario):
    segments, events, cameras, rs, disk, now = scenario
    p = plan_retention(segments, events, cameras, rs, disk, now)
    by_path = {s.path: s for s in segments}
    paths = [d.path for d in p.deletions]
    assert len(paths) == len(set(paths))  # no segment deleted twice
    assert all(not by_path[x].protected for x in paths)  # never a protected one
    assert p.bytes_freed == sum(d.bytes for d in p.deletions)

    for d in p.deletions:
        s = by_path[d.path]
        cam = cameras.get(s.camera_id)
        if d.reason == "motion":
            assert cam is not None and cam.mode == "motion" and not s.unobserved
            assert now > s.end_ms + cam.pre_roll_ms + rs.grace_ms
            assert not _overlaps_any(s, _windows(events, cameras, s.camera_id, now))
        if d.reason == "age":
            max_age = cam.max_age_ms if cam and cam.max_age_ms is not None else rs.max_age_ms
            assert max_age is not None and now - s.end_ms > max_age

    remaining = [s for s in segments if s.path not in set(paths)]
    unprotected_left = any(not s.protected for s in remaining)
    protected_bytes = sum(s.bytes for s in segments if s.protected)
    if rs.quota_bytes is not None and protected_bytes <= rs.quota_bytes:
        assert sum(s.bytes for s in remaining) <= rs.quota_bytes
    free_after = disk.free_bytes + p.bytes_freed
    assert free_after >= (rs.free_target_bytes if p.emergency else rs.min_free_bytes) or not unprotected_left

    # Completeness of rule 1: an idle motion-mode segment past its wait is gone (for some reason).
    for s in remaining:
        cam = cameras.get(s.camera_id)
        if cam and cam.mode == "motion" and not (s.protected or s.unobserved):
            assert now <= s.end_ms + cam.pre_roll_ms + rs.grace_ms or _overlaps_any(
                s, _windows(events, cameras, s.camera_id, now)
            )

    # Idempotent: apply the plan, plan again with the same time: nothing more to do.
    applied_disk = DiskState(disk.free_bytes + p.bytes_freed, disk.total_bytes)
    again = plan_retention(remaining, events, cameras, rs, applied_disk, now)
    assert again.deletions == ()

    # Input order does not matter.
    assert plan_retention(list(reversed(segments)), events, cameras, rs, disk, now).deletions == p.deletions


# --- timing -----------------------------------------------------------------------------------------


def test_planning_time_for_a_million_segments(capsys):
    n, cams = 1_000_000, [f"cam{i}" for i in range(8)]
    segments = [
        Segment(
            i,
            cams[i % 8],
            f"{cams[i % 8]}/{i:07d}.mp4",
            T0 + (i // 8) * 10 * S,
            T0 + (i // 8 + 1) * 10 * S,
            2_000_000,
            protected=i % 1000 == 0,
        )
        for i in range(n)
    ]
    now = segments[-1].end_ms + S
    events = [ev(T0 + i * 5 * MIN, T0 + i * 5 * MIN + 20 * S, cam=cams[i % 8]) for i in range(0, 40_000)]
    steady = {c: CONT for c in cams}
    mixed = {c: (MOTION if i % 2 else CONT) for i, c in enumerate(cams)}
    rs_steady = RetentionSettings(max_age_ms=30 * DAY)
    rs_heavy = RetentionSettings(max_age_ms=10 * DAY, quota_bytes=n * 2_000_000 // 4)
    figures = []
    for label, cameras, rs in (
        ("steady (nothing to delete)", steady, rs_steady),
        ("heavy (motion + age + quota)", mixed, rs_heavy),
    ):
        t = time.perf_counter()
        p = plan_retention(segments, events, cameras, rs, BIG_DISK, now)
        elapsed = time.perf_counter() - t
        figures.append((label, elapsed, len(p.deletions)))
        assert elapsed < 10.0, f"{label}: {elapsed:.2f} s for 1M segments"  # < 1 s per 100k
    with capsys.disabled():
        for label, elapsed, count in figures:
            print(
                f"\nretention plan, 1,000,000 segments, {label}: {elapsed:.2f} s "
                f"({elapsed / 10:.3f} s per 100k), {count} deletions"
            )
