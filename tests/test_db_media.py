"""Segments, events and camera status in the index (SQLite file and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.core.errors import NotFoundError
from hub.core.model import CameraConfig, CameraStatus, Event, Protection, Segment
from hub.db import repo, repo_media, repo_protect
from hub.db.tx import run_write

pytest_plugins = ["tests.support.postgres"]


@pytest.fixture
def cams(db_engine: Engine) -> tuple[str, str]:
    a = run_write(db_engine, repo.add_camera, CameraConfig(id="", name="Porch")).id
    b = run_write(db_engine, repo.add_camera, CameraConfig(id="", name="Garden")).id
    return a, b


def seg(camera: str, start: int, end: int, size: int = 100, **fields: object) -> Segment:
    return Segment(None, camera, f"{camera}/{start}.mp4", start, end, size, **fields)  # type: ignore[arg-type]


def add_segments(engine: Engine, *segments: Segment) -> list[int]:
    return run_write(engine, lambda s: [repo.insert_segment(s, x) for x in segments])


def test_insert_segment_is_idempotent_on_path(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, _ = cams
    (first,) = add_segments(db_engine, seg(a, 0, 10_000, 100, frames=250, has_audio=True))
    (again,) = add_segments(db_engine, seg(a, 0, 10_040, 120, frames=251, has_audio=True))
    assert again == first
    (stored,) = repo.all_segments(db_engine)
    assert stored == Segment(first, a, f"{a}/0.mp4", 0, 10_040, 120, 251, True, False, False)
    star = run_write(db_engine, repo_protect.add_protection, Protection(None, a, 5_000, 6_000, "star"))
    add_segments(db_engine, seg(a, 0, 10_040, 120))  # re-indexing keeps the protection
    assert repo.all_segments(db_engine)[0].protected is True
    run_write(db_engine, repo_protect.release_protection, star.id)
    assert repo.all_segments(db_engine)[0].protected is False


def test_protections_cover_by_window_camera_and_reason(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, b = cams
    add_segments(db_engine, seg(a, 0, 10), seg(a, 10, 20), seg(a, 20, 30), seg(b, 10, 20))

    def flags() -> list[tuple[str, int, bool, bool]]:
        return [(s.camera_id, s.start_ms, s.protected, s.held) for s in repo.all_segments(db_engine)]

    def protect(cam: str, start: int, end: int, reason: str) -> Protection:
        return run_write(db_engine, repo_protect.add_protection, Protection(None, cam, start, end, reason))  # type: ignore[arg-type]

    star = protect(a, 10, 20, "star")  # exactly the middle segment: its neighbours only touch it
    hold = protect(a, 15, 25, "hold")
    evidence = protect(a, 12, 13, "evidence")
    assert star.created_ms > 0 and star.id < hold.id < evidence.id
    assert flags() == [(a, 0, False, False), (a, 10, True, True), (b, 10, False, False), (a, 20, False, True)]
    assert [s.start_ms for s in repo_media.oldest_unprotected(db_engine, 10)] == [0, 10]  # a/0, b/10
    with Session(db_engine) as session:  # what holds cost: what they keep and no star or evidence does
        assert repo_protect.held_bytes(session) == next(
            s.bytes for s in repo.all_segments(db_engine) if s.held and not s.protected
        )
        assert repo_protect.oldest_hold(session) == hold
    assert [s.path for s in repo_media.segments_ending_before(db_engine, 100, 10)] == [
        f"{a}/0.mp4",
        f"{b}/10.mp4",
    ]
    # Releasing one never releases what another covers.
    assert run_write(db_engine, repo_protect.release_protection, star.id) == star
    assert flags()[1] == (a, 10, True, True)  # the evidence and the hold still cover it
    run_write(db_engine, repo_protect.release_protection, evidence.id)
    assert flags()[1] == (a, 10, False, True)
    with pytest.raises(NotFoundError):
        run_write(db_engine, repo_protect.release_protection, star.id)
    assert repo_protect.list_protections(db_engine) == [hold]
    assert repo_protect.list_protections(db_engine, camera_id=b) == []
    assert repo_protect.list_protections(db_engine, start_ms=25) == []
    assert repo_protect.list_protections(db_engine, reasons=["star"]) == []


def test_segment_window_edges(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, b = cams
    ids = add_segments(db_engine, seg(a, 0, 10), seg(a, 10, 20), seg(a, 20, 30), seg(b, 5, 15))

    def starts(**kw: object) -> list[tuple[str, int]]:
        return [(s.camera_id, s.start_ms) for s in repo.list_segments(db_engine, **kw)]  # type: ignore[arg-type]

    # half-open [start, end): touching at an edge is not overlapping
    assert starts(camera_id=a, start_ms=10, end_ms=20) == [(a, 10)]
    assert starts(camera_id=a, start_ms=9, end_ms=11) == [(a, 0), (a, 10)]
    assert starts(camera_id=a, start_ms=19, end_ms=21) == [(a, 10), (a, 20)]
    assert starts(camera_id=a, start_ms=30) == []
    assert starts(camera_id=a, end_ms=0) == []
    assert starts(camera_id=a, start_ms=29) == [(a, 20)]
    assert starts(camera_id=a, end_ms=1) == [(a, 0)]
    assert starts(start_ms=10, end_ms=20) == [(b, 5), (a, 10)]
    assert starts(limit=2) == [(a, 0), (b, 5)]
    assert [s.start_ms for s in repo.list_segments(db_engine, camera_id=a, limit=2, newest_first=True)] == [
        20,
        10,
    ]
    assert [s.id for s in repo.all_segments(db_engine)] == [ids[0], ids[3], ids[1], ids[2]]
    assert repo.storage_bytes(db_engine) == 400
    assert repo.storage_bytes(db_engine, camera_id=b) == 100


def test_delete_segments(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, _ = cams
    ids = add_segments(db_engine, *(seg(a, i * 10, i * 10 + 10) for i in range(1200)))
    assert run_write(db_engine, lambda s: repo.delete_segments(s, ids[:1100])) == 1100  # > one IN chunk
    assert [s.id for s in repo.all_segments(db_engine)] == ids[1100:]
    assert repo.storage_bytes(db_engine) == 100 * 100


def ev(camera: str, start: int, end: int | None, kind: str = "motion", **fields: object) -> Event:
    return Event(None, camera, kind, start, end, **fields)  # type: ignore[arg-type]


def add_events(engine: Engine, *events: Event) -> list[int]:
    return run_write(engine, lambda s: [repo.insert_event(s, e, e.start_ms + 5) for e in events])


def test_events_round_trip_and_update(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, _ = cams
    (event_id,) = add_events(db_engine, ev(a, 1000, None, score=0.02, zones=("drive",)))
    (stored,) = repo.list_events(db_engine)
    assert stored == Event(
        event_id, a, "motion", 1000, None, 0.02, ("drive",), None, "local", detected_ms=stored.detected_ms
    )
    assert stored.detected_ms is not None
    run_write(
        db_engine,
        lambda s: repo.update_event(
            s, event_id, end_ms=5000, score=0.3, zones=("drive", "path"), thumbnail="thumbs/1.jpg"
        ),
    )
    run_write(db_engine, lambda s: repo.update_event(s, event_id, score=0.4))  # other fields kept
    (stored,) = repo.list_events(db_engine)
    assert stored == Event(
        event_id,
        a,
        "motion",
        1000,
        5000,
        0.4,
        ("drive", "path"),
        "thumbs/1.jpg",
        "local",
        detected_ms=stored.detected_ms,
    )
    with pytest.raises(repo.NotFoundError):
        run_write(db_engine, repo.update_event, 999_999, end_ms=1)


def test_event_queries(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, b = cams
    ids = add_events(
        db_engine,
        ev(a, 0, 100),
        ev(a, 100, 100, kind="doorbell"),
        ev(b, 50, None),
        ev(b, 300, 400, kind="camera_motion", source="camera"),
    )

    def found(**kw: object) -> list[int]:
        return [e.id for e in repo.list_events(db_engine, **kw)]  # type: ignore[arg-type,misc]

    assert found(start_ms=100, end_ms=200) == [ids[2], ids[1]]  # open event and the instant at 100
    assert found(start_ms=99, end_ms=100) == [ids[0], ids[2]]
    assert found(start_ms=1000) == [ids[2]]  # still going on
    assert found(camera_id=a) == ids[:2]
    assert found(kinds=["doorbell", "camera_motion"]) == [ids[1], ids[3]]
    assert found(limit=1, newest_first=True) == [ids[3]]
    assert [e.id for e in repo.events_overlapping(db_engine, 350, 360)] == [ids[2], ids[3]]


def test_close_open_events(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, b = cams
    add_segments(db_engine, seg(a, 0, 10_000), seg(a, 10_000, 20_000))
    ids = add_events(db_engine, ev(a, 5_000, None), ev(b, 7_000, None), ev(a, 30_000, None), ev(a, 0, 10))
    closed = run_write(db_engine, repo.close_open_events, camera_ids=[a])
    assert closed == 2
    ends = {e.id: e.end_ms for e in repo.list_events(db_engine)}
    # the last recorded footage after its start; no footage after the start: its start
    assert ends == {ids[0]: 20_000, ids[1]: None, ids[2]: 30_000, ids[3]: 10}
    assert run_write(db_engine, lambda s: repo.close_open_events(s, {b: 6_000})) == 1
    assert repo.list_events(db_engine, camera_id=b)[0].end_ms == 7_000  # never before its start
    assert run_write(db_engine, repo.close_open_events) == 0


def test_status(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, b = cams
    st_a = CameraStatus(a, "recording", 1000, None, 1500, {"fps": 15.0, "drops": 2})
    st_b = CameraStatus(b, "auth_failed", 2000, "401 from camera", 2500)
    run_write(db_engine, lambda s: [repo.upsert_status(s, st) for st in (st_a, st_b)])
    assert repo.list_status(db_engine) == sorted([st_a, st_b], key=lambda st: st.camera_id)
    assert {st.camera_id: st.stats for st in repo.list_status(db_engine)} == {a: st_a.stats, b: {}}
    st_a2 = CameraStatus(a, "reconnecting", 3000, "timeout", 3000)
    run_write(db_engine, repo.upsert_status, st_a2)
    assert {st.camera_id: st.state for st in repo.list_status(db_engine)} == {
        a: "reconnecting",
        b: "auth_failed",
    }
    run_write(db_engine, repo.clear_status, [b])
    assert [st.camera_id for st in repo.list_status(db_engine)] == [a]
    run_write(db_engine, repo.remove_camera, a)  # a removed camera has no live status
    assert repo.list_status(db_engine) == []
    run_write(db_engine, repo.upsert_status, st_b)
    run_write(db_engine, repo.clear_status)
    assert repo.list_status(db_engine) == []


def test_window_finds_a_very_long_segment(db_engine: Engine, cams: tuple[str, str]) -> None:
    a, _ = cams
    hour = 3_600_000
    add_segments(
        db_engine, seg(a, 0, 10_000), seg(a, 10 * hour, 12 * hour)
    )  # 2 h: a recorder bug, still indexed
    assert [s.start_ms for s in repo.list_segments(db_engine, start_ms=12 * hour - 1)] == [10 * hour]
    assert [
        s.start_ms
        for s in repo.list_segments(db_engine, camera_id=a, start_ms=11 * hour, end_ms=11 * hour + 1)
    ] == [10 * hour]


def test_sqlite_never_reuses_segment_or_event_ids(tmp_path):
    """Later records (clips, shares, the audit log) refer to ids: a deleted id never comes back."""
    import dataclasses as _dc

    from hub.core.model import CameraConfig as _Cam
    from hub.core.model import Event as _Ev
    from hub.core.model import Segment as _Seg
    from hub.db import repo_config as _rc
    from hub.db import repo_media as _rm
    from hub.db.engine import open_engine as _open
    from hub.db.tx import run_write as _run
    from hub.db.upgrade import migrate as _migrate

    engine = _open(f"sqlite:///{tmp_path / 'p.db'}")
    _migrate(engine)
    cam = run_write(engine, _rc.add_camera, _Cam(id="", name="Cam", url="rtsp://127.0.0.1/x"))
    seg = _Seg(None, cam.id, f"{cam.id}/2026-01-01/00/00.00.000.mp4", 0, 10, 1)
    first = _run(engine, lambda s: _rm.insert_segment(s, seg))
    _run(engine, lambda s: _rm.delete_segments(s, [first]))
    again = _run(
        engine, lambda s: _rm.insert_segment(s, _dc.replace(seg, path=seg.path.replace("00.000", "10.000")))
    )
    assert again > first
    ev = _Ev(None, cam.id, "motion", 0, 5)
    e1 = _run(engine, lambda s: _rm.insert_event(s, ev, 0))
    _run(engine, lambda s: s.execute(__import__("sqlalchemy").text("DELETE FROM event")))
    e2 = _run(engine, lambda s: _rm.insert_event(s, ev, 0))
    assert e2 > e1
    engine.dispose()
