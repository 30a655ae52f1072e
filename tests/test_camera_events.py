"""The camera-event merger: plain data in, hub events out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import CameraEvent
from hub.events.merger import CameraEventMerger, Ended, Started

MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"


def ev(kind, active, t, source="vs1", initialized=False, topic=MOTION):
    return CameraEvent(kind, active, t, topic, source, initialized)


def test_start_and_stop_make_one_event_after_the_gap():
    m = CameraEventMerger(gap_ms=3000)
    assert m.feed(ev("motion", True, 1000)) == [Started("camera_motion", 1000)]
    assert m.feed(ev("motion", False, 5000)) == []
    assert m.tick(7000) == []  # within the gap: motion might resume
    assert m.tick(8000) == [Ended("camera_motion", 1000, 5000)]


def test_flicker_and_overlapping_regions_merge():
    m = CameraEventMerger(gap_ms=3000)
    actions = m.feed(ev("motion", True, 0, "a"))
    actions += m.feed(ev("motion", True, 500, "b"))  # a second region while the first is active
    actions += m.feed(ev("motion", False, 1000, "a"))
    actions += m.tick(2000)
    actions += m.feed(ev("motion", False, 2500, "b"))
    actions += m.tick(4000)  # 1.5 s after the last stop: still within the gap
    actions += m.feed(ev("motion", True, 4500, "a"))  # resumes: same event
    actions += m.feed(ev("motion", False, 6000, "a"))
    actions += m.tick(9000)
    assert actions == [Started("camera_motion", 0), Ended("camera_motion", 0, 6000)]


def test_a_missing_stop_is_closed_by_timeout():
    m = CameraEventMerger(gap_ms=3000, stale_ms=60_000)
    m.feed(ev("motion", True, 0))
    assert m.tick(59_000) == []
    assert m.tick(63_000) == [Ended("camera_motion", 0, 0)]  # ends where it was last confirmed


def test_a_repeated_start_keeps_the_event_alive():
    m = CameraEventMerger(gap_ms=3000, stale_ms=60_000)
    m.feed(ev("motion", True, 0))
    m.feed(ev("motion", True, 50_000))  # devices resend the active state
    assert m.tick(100_000) == []
    assert m.tick(111_000) == [Ended("camera_motion", 0, 50_000)]


def test_doorbell_presses_are_instant_and_releases_or_initial_states_are_not():
    m = CameraEventMerger()
    assert m.feed(ev("doorbell", True, 7000)) == [Started("doorbell", 7000), Ended("doorbell", 7000, 7000)]
    assert m.feed(ev("doorbell", False, 7500)) == []
    assert m.feed(ev("doorbell", True, 100, initialized=True)) == []


def test_inputs_are_their_own_events_and_close_all_ends_everything():
    m = CameraEventMerger()
    assert m.feed(ev("input", True, 0, "DI1")) == [Started("input", 0)]
    assert m.feed(ev("motion", True, 10)) == [Started("camera_motion", 10)]
    ended = m.close_all(5000)
    assert sorted(ended, key=lambda e: e.kind) == [Ended("camera_motion", 10, 10), Ended("input", 0, 0)]
    assert m.tick(10**9) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["motion", "input", "doorbell"]),
            st.booleans(),
            st.integers(0, 10_000),
            st.sampled_from(["a", "b", None]),
        ),
        max_size=60,
    )
)
def test_every_start_has_exactly_one_end_and_ends_follow_starts(items):
    m = CameraEventMerger(gap_ms=1000, stale_ms=5000)
    actions = []
    t = 0
    for kind, active, dt, source in items:
        t += dt
        actions += m.feed(ev(kind, active, t, source))
        actions += m.tick(t)
    actions += m.close_all(t + 1)
    open_by_kind: dict[str, int] = {}
    for a in actions:
        if isinstance(a, Started):
            assert a.kind not in open_by_kind, "two open events of one kind"
            open_by_kind[a.kind] = a.start_ms
        else:
            assert open_by_kind.pop(a.kind) == a.start_ms and a.end_ms >= a.start_ms
    assert open_by_kind == {}
