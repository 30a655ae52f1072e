"""Motion event state machine: starts, merges, gaps, splits, close, best frame, invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.model import MotionSettings
from hub.motion.detector import MotionResult
from hub.motion.tracker import Action, EventEnded, EventStarted, MotionEventTracker

T0 = 1_700_000_000_000
STEP = 200


def res(moving: bool, score: float = 0.05, zones: tuple[str, ...] = ()) -> MotionResult:
    return MotionResult(
        moving=moving,
        score=score if moving else 0.0,
        boxes=((0, 0, 0.1, 0.1),) if moving else (),
        zones=zones,
    )


def run(tracker: MotionEventTracker, pattern: str, start: int = T0, step: int = STEP) -> list[Action]:
    """Feed 'M' (moving) and '.' (quiet) frames, ``step`` ms apart; the frame object is the index."""
    actions: list[Action] = []
    for i, c in enumerate(pattern):
        actions += tracker.update(start + i * step, res(c == "M"), frame=i)
    return actions


def kinds(actions: list[Action]) -> list[str]:
    return ["start" if isinstance(a, EventStarted) else "end" for a in actions]


def test_needs_min_frames_consecutive_and_starts_at_the_first() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=3))
    assert run(tracker, "M.MM.M.MM.") == []
    actions = tracker.update(T0 + 10 * STEP, res(True)) + tracker.update(T0 + 11 * STEP, res(True))
    assert actions == []
    started = tracker.update(T0 + 12 * STEP, res(True))
    assert started == [EventStarted(T0 + 10 * STEP, 0.05, ())]
    assert tracker.event_open and tracker.open_start_ms == T0 + 10 * STEP


def test_single_frame_blip_is_no_event_with_default_settings() -> None:
    tracker = MotionEventTracker(MotionSettings())
    assert run(tracker, "....M.....M....") == []
    assert tracker.close(T0 + 10_000) == []


def test_bursts_within_gap_are_one_event_ending_at_last_motion() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, gap_s=4.0))
    # motion, 3.8 s quiet (19 frames), motion again, then quiet for long
    actions = run(tracker, "MMM" + "." * 18 + "M" + "." * 30)
    assert kinds(actions) == ["start", "end"]
    end = actions[1]
    assert isinstance(end, EventEnded)
    assert end.start_ms == T0 and end.end_ms == T0 + 21 * STEP
    assert not tracker.event_open


def test_gap_ends_the_event_exactly_gap_s_after_the_last_motion() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, gap_s=1.0))
    assert kinds(run(tracker, "MM....")) == ["start"]  # 0.8 s after the last motion: still open
    ended = tracker.update(T0 + 6 * STEP, res(False))  # 1.0 s after
    assert kinds(ended) == ["end"] and ended[0].end_ms == T0 + STEP


def test_new_settings_keep_the_open_event_and_apply_from_the_next_frame() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, gap_s=4.0))
    assert kinds(run(tracker, "MM")) == ["start"]
    tracker.configure(MotionSettings(min_frames=5, gap_s=1.0))
    assert tracker.event_open and tracker.open_start_ms == T0  # the open event goes on
    ended = run(tracker, "....", start=T0 + 2 * STEP) + tracker.update(T0 + 6 * STEP, res(False))
    assert kinds(ended) == ["end"] and ended[0].end_ms == T0 + STEP  # ended by the new 1 s gap
    assert run(tracker, "MMMM", start=T0 + 20 * STEP) == []  # the new min_frames: 4 are not enough
    assert kinds(tracker.update(T0 + 24 * STEP, res(True))) == ["start"]


def test_bursts_beyond_gap_are_separate_events() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, gap_s=2.0))
    actions = run(tracker, "MM" + "." * 12 + "MMM" + "." * 12)
    assert kinds(actions) == ["start", "end", "start", "end"]
    assert actions[2].start_ms == T0 + 14 * STEP and actions[3].end_ms == T0 + 16 * STEP


def test_moving_frame_right_after_the_gap_starts_a_new_run() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, gap_s=1.0))
    run(tracker, "MM")
    # no analysed frames for 3 s (dropped), then motion: the old event ends, a new run begins
    actions = tracker.update(T0 + 16 * STEP, res(True))
    assert kinds(actions) == ["end"]
    assert kinds(tracker.update(T0 + 17 * STEP, res(True))) == ["start"]


def test_hole_in_the_frames_breaks_a_run() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, gap_s=1.0))
    assert tracker.update(T0, res(True)) == []
    assert tracker.update(T0 + 5000, res(True)) == []  # not consecutive in time
    assert kinds(tracker.update(T0 + 5200, res(True))) == ["start"]


def test_long_events_are_split_at_max_event_s() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2, max_event_s=10.0))
    actions = run(tracker, "M" * 130)  # 26 s of motion
    actions += tracker.close(T0 + 130 * STEP)
    assert kinds(actions) == ["start", "end", "start", "end", "start", "end"]
    ends = [a for a in actions if isinstance(a, EventEnded)]
    starts = [a for a in actions if isinstance(a, EventStarted)]
    assert [s.start_ms for s in starts] == [T0, T0 + 10_000, T0 + 20_000]
    assert ends[0].end_ms == starts[1].start_ms and ends[1].end_ms == starts[2].start_ms
    assert all(e.end_ms - e.start_ms <= 10_000 + STEP for e in ends)
    assert ends[-1].end_ms == T0 + 129 * STEP


def test_close_ends_the_open_event_at_the_last_motion() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2))
    run(tracker, "MMM..")
    ended = tracker.close(T0 + 60_000)
    assert ended == [EventEnded(T0, T0 + 2 * STEP, 0.05, ())]
    assert tracker.close(T0 + 61_000) == []
    assert not tracker.event_open


def test_close_drops_a_pending_run_and_old_frames_after_it() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2))
    tracker.update(T0, res(True))
    assert tracker.close(T0 + 100) == []
    assert tracker.update(T0 + 50, res(True)) == []  # older than close(): ignored
    assert tracker.update(T0 + 200, res(True)) == []  # a new run of one
    assert kinds(tracker.update(T0 + 400, res(True))) == ["start"]


def test_best_frame_is_the_peak_score_frame() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2))
    scores = [0.01, 0.05, 0.30, 0.30, 0.02]
    frames = ["a", "b", "peak", "later-tie", "e"]
    for i, (s, f) in enumerate(zip(scores, frames, strict=True)):
        tracker.update(T0 + i * STEP, res(True, s), frame=f)
    tracker.update(T0 + 5 * STEP, res(True, 0.9), frame=None)  # highest, but no frame to show
    (ended,) = tracker.close(T0 + 10_000)
    assert isinstance(ended, EventEnded)
    assert ended.best_frame == "peak" and ended.peak_score == 0.9


def test_start_reports_run_peak_and_zones_union_in_order() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2))
    tracker.update(T0, res(True, 0.02, ("drive",)))
    (started,) = tracker.update(T0 + STEP, res(True, 0.07, ("porch", "drive")))
    assert started == EventStarted(T0, 0.07, ("drive", "porch"))
    tracker.update(T0 + 2 * STEP, res(True, 0.01, ("gate",)))
    (ended,) = tracker.close(T0 + 3 * STEP)
    assert ended.zones == ("drive", "porch", "gate") and ended.peak_score == 0.07


def test_duplicate_and_out_of_order_frames_are_ignored() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=2))
    assert tracker.update(T0, res(True)) == []
    assert tracker.update(T0, res(True)) == []  # duplicate: does not count as the second frame
    assert tracker.update(T0 - 5000, res(True)) == []
    assert kinds(tracker.update(T0 + STEP, res(True))) == ["start"]


def test_min_frames_one_starts_at_once() -> None:
    tracker = MotionEventTracker(MotionSettings(min_frames=1, gap_s=1.0))
    assert kinds(tracker.update(T0, res(True))) == ["start"]
    assert kinds(tracker.update(T0 + 5000, res(False))) == ["end"]


# -- invariants ----------------------------------------------------------------------------------

steps_st = st.lists(
    st.tuples(st.integers(-500, 5000), st.booleans(), st.floats(0, 1), st.booleans()),
    max_size=120,
)
settings_st = st.builds(
    MotionSettings,
    min_frames=st.integers(0, 5),
    gap_s=st.floats(0.0, 6.0),
    max_event_s=st.floats(0.1, 30.0),
)


@settings(max_examples=300, deadline=None)
@given(steps=steps_st, motion=settings_st, close_dt=st.integers(-1000, 10_000))
def test_event_invariants(steps, motion: MotionSettings, close_dt: int) -> None:
    tracker = MotionEventTracker(motion)
    actions: list[Action] = []
    ts = T0
    accepted_moving: list[int] = []
    last = None
    for dt, moving, score, give_frame in steps:
        ts += dt
        out = tracker.update(ts, res(moving, score), frame=ts if give_frame else None)
        if last is None or ts > last:
            last = ts
            if moving:
                accepted_moving.append(ts)
        else:
            assert out == []  # ignored frame
        actions += out
        # never two open events: starts and ends alternate
        k = kinds(actions)
        assert all(a != b for a, b in zip(k, k[1:], strict=False)) and (not k or k[0] == "start")
        assert tracker.event_open == (bool(k) and k[-1] == "start")
    actions += tracker.close(ts + close_dt)
    assert not tracker.event_open
    k = kinds(actions)
    assert k == ["start", "end"] * (len(k) // 2)  # every start has exactly one end
    prev_end = None
    for started, ended in zip(actions[::2], actions[1::2], strict=True):
        assert isinstance(started, EventStarted) and isinstance(ended, EventEnded)
        assert started.start_ms == ended.start_ms <= ended.end_ms
        assert started.start_ms in accepted_moving and ended.end_ms in accepted_moving
        if prev_end is not None:
            assert prev_end <= started.start_ms  # ordered, never overlapping
        prev_end = ended.end_ms
        assert ended.best_frame is None or started.start_ms <= ended.best_frame <= ended.end_ms
        assert 0.0 <= started.score <= ended.peak_score <= 1.0
