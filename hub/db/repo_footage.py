"""How much footage the index holds in a time window, per camera: what an agency request's window
covers (hub/community/matching.py). Aggregated in SQL, so a window over days of 10-s segments costs
one indexed range scan, not a row per segment in Python.

A camera's segments follow one another without overlapping (one recorder per camera writes them in
turn), so the seconds covered are the sum of each segment's part inside the window: the gaps between
segments (the camera was off, unreachable, or in motion mode with nothing to record) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from hub.db.schema import EventRow, SegmentRow

__all__ = ["EVENT_LOOKBACK_MS", "CameraFootage", "footage_in"]

#: Events are counted when they overlap the window and began at most this long before it (so the
#: count is an indexed range scan; an event is minutes long, not a day).
EVENT_LOOKBACK_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class CameraFootage:
    """One camera's footage inside a window: milliseconds covered, segments touched, events that
    overlap it (see EVENT_LOOKBACK_MS), and the first and last recorded instants inside it."""

    camera_id: str
    covered_ms: int
    segments: int
    events: int
    first_ms: int
    last_ms: int


# Built once with bound parameters (a list of 500 requests runs them 500 times).
_WS, _WE = bindparam("ws", type_=BigInteger), bindparam("we", type_=BigInteger)
_SINCE = bindparam("since", type_=BigInteger)
_START = case((SegmentRow.start_ms < _WS, _WS), else_=SegmentRow.start_ms)
_END = case((SegmentRow.end_ms > _WE, _WE), else_=SegmentRow.end_ms)
_SEGMENTS = (
    select(SegmentRow.camera_id, func.sum(_END - _START), func.count(), func.min(_START), func.max(_END))
    .where(SegmentRow.start_ms < _WE, SegmentRow.end_ms > _WS, SegmentRow.start_ms > _SINCE)
    .group_by(SegmentRow.camera_id)
)
_EVENTS = (
    select(EventRow.camera_id, func.count())
    .where(EventRow.start_ms < _WE, EventRow.start_ms > _WS - EVENT_LOOKBACK_MS)
    .where(or_(EventRow.end_ms.is_(None), EventRow.end_ms > _WS, EventRow.start_ms >= _WS))
    .group_by(EventRow.camera_id)
)


def footage_in(session: Session, start_ms: int, end_ms: int, lookback_ms: int) -> list[CameraFootage]:
    """Per camera with footage in [start_ms, end_ms), by camera id; ``lookback_ms`` is
    :func:`hub.db.repo_media.segment_lookback` (read once for many windows)."""
    window = {"ws": start_ms, "we": end_ms}
    rows = session.execute(_SEGMENTS, {**window, "since": start_ms - lookback_ms}).all()
    events = {camera_id: int(count) for camera_id, count in session.execute(_EVENTS, window)}
    return sorted(
        (
            CameraFootage(
                camera_id=camera_id,
                covered_ms=min(int(covered), end_ms - start_ms),
                segments=int(count),
                events=int(events.get(camera_id, 0)),
                first_ms=int(first),
                last_ms=int(last),
            )
            for camera_id, covered, count, first, last in rows
        ),
        key=lambda f: f.camera_id,
    )
