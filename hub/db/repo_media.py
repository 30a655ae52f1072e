"""Recordings in the index: segments, events and the live camera status.

Write functions take a Session and never commit: the hub runs them on the DB writer
(``writer.submit(insert_segment, seg)``), other callers with :func:`hub.db.tx.run_write`; they are
safe to re-run after a rollback. Reads take an Engine, use a short session and return
hub/core/model.py dataclasses.

Time windows are half-open, ``[start_ms, end_ms)``; either bound may be None (unbounded). A segment
or event overlaps the window when ``start < end_ms`` and (``end > start_ms`` or it starts inside the
window): a zero-length item (a doorbell press) counts as the instant it starts. An open event
(``end_ms`` None, still going on) extends to the future.

Segment windows stay fast on a big index: a segment overlapping ``[a, b)`` must start after
``a - longest segment``, so that bound is added to use the (camera_id, start_ms) index. The longest
duration is not scanned for: segments up to ``SEGMENT_BOUND_MS`` are assumed, and insert_segment
records a longer one in meta ``long_segment_ms``, which the queries then use instead.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import QueryableAttribute, Session

from hub.core.errors import NotFoundError
from hub.core.model import CameraStatus, Event, ProtectReason, Segment
from hub.core.times import now_ms
from hub.db.convert import (
    event_from_row,
    segment_values,
    status_from_row,
    zones_to_json,
)
from hub.db.schema import CameraStatusRow, EventRow, MetaRow, ProtectionRow, SegmentRow

logger = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...) list
SEGMENT_BOUND_MS = 15 * 60 * 1000  # segments are ~10 s; longer than this is recorded in meta
LONG_SEGMENT_KEY = "long_segment_ms"
_SEG = SegmentRow.__table__
# prebuilt statements with bound parameters: compiled once, cached (the writer's hot path)
_PROT = ProtectionRow.__table__
#: The protection reasons retention never overrides; a hold is released when the disk is full.
KEEP_ALWAYS: tuple[ProtectReason, ...] = ("star", "evidence")
ALL_REASONS: tuple[ProtectReason, ...] = (*KEEP_ALWAYS, "hold")


def covered(reasons: Iterable[ProtectReason]) -> ColumnElement[bool]:
    """True for a segment row (of the enclosing query) that a protection of ``reasons`` overlaps
    (see hub/db/repo_protect.py)."""
    return exists().where(
        _PROT.c.camera_id == _SEG.c.camera_id,
        _PROT.c.start_ms < _SEG.c.end_ms,
        _PROT.c.end_ms > _SEG.c.start_ms,
        _PROT.c.reason.in_(list(reasons)),
    )


_SEGMENT_BY_PATH = select(_SEG.c.id).where(_SEG.c.path == bindparam("p"))
_INSERT_SEGMENT = insert(_SEG).returning(_SEG.c.id)
_UPDATE_SEGMENT = update(_SEG).where(_SEG.c.id == bindparam("seg_id"))
_LONG_SEGMENT = select(MetaRow.value).where(MetaRow.key == LONG_SEGMENT_KEY)
# rows -> Segment(**row): the stored columns, and whether a protection covers the segment
_DERIVED = {"protected": covered(KEEP_ALWAYS), "held": covered(("hold",))}
_SEGMENT_COLUMNS = [
    _DERIVED[f.name].label(f.name) if f.name in _DERIVED else _SEG.c[f.name]
    for f in dataclasses.fields(Segment)
]


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # update_event: leave this field as it is


def overlap_conditions(
    start_col: ColumnElement[Any] | QueryableAttribute[Any],
    end_col: ColumnElement[Any] | QueryableAttribute[Any],
    start_ms: int | None,
    end_ms: int | None,
    *,
    open_ended: bool = False,
) -> list[ColumnElement[bool]]:
    """WHERE conditions selecting rows whose [start, end) overlaps [start_ms, end_ms)."""
    conditions: list[ColumnElement[bool]] = []
    if end_ms is not None:
        conditions.append(start_col < end_ms)
    if start_ms is not None:
        ends_after = end_col > start_ms
        if open_ended:
            ends_after = or_(end_col.is_(None), ends_after)
        conditions.append(or_(ends_after, start_col >= start_ms))
    return conditions


# --- segments -----------------------------------------------------------------------------------


def insert_segment(session: Session, seg: Segment) -> int:
    """Index a closed segment and return its id; a path already indexed is updated instead.
    (``seg.protected`` and ``seg.held`` are not stored: the protections covering it say so.)"""
    values = segment_values(seg)
    if seg.end_ms - seg.start_ms > SEGMENT_BOUND_MS:
        _note_long_segment(session, seg.end_ms - seg.start_ms)
    existing = session.execute(_SEGMENT_BY_PATH, {"p": seg.path}).first()
    if existing is None:
        return int(session.execute(_INSERT_SEGMENT, values).scalar_one())
    session.execute(_UPDATE_SEGMENT, {**values, "seg_id": existing.id})
    return int(existing.id)


def list_segments(
    engine: Engine,
    camera_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
    *,
    newest_first: bool = False,
) -> list[Segment]:
    """Segments overlapping the window, ordered by start (oldest first unless ``newest_first``)."""
    table = SegmentRow.__table__
    query = select(*_SEGMENT_COLUMNS).where(
        *overlap_conditions(table.c.start_ms, table.c.end_ms, start_ms, end_ms)
    )
    if camera_id is not None:
        query = query.where(table.c.camera_id == camera_id)
    if newest_first:
        query = query.order_by(table.c.start_ms.desc(), table.c.id.desc())
    else:
        query = query.order_by(table.c.start_ms, table.c.id)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        if start_ms is not None:  # same snapshot as the rows: see the module docstring
            query = query.where(table.c.start_ms > start_ms - segment_lookback(session))
        return [Segment(**row._mapping) for row in session.execute(query)]


def segment_lookback(session: Session) -> int:
    """How long before a window a segment overlapping it may start: the longest segment indexed
    (SEGMENT_BOUND_MS unless a longer one was noted). A window's query bounds ``start_ms`` by it, so
    that it is an index range scan."""
    return max(SEGMENT_BOUND_MS, int(session.scalar(_LONG_SEGMENT) or 0))


def oldest_unprotected(engine: Engine, limit: int, after: tuple[int, int] | None = None) -> list[Segment]:
    """The oldest segments no protection (nor hold) covers, ``limit`` at a time; ``after`` =
    (start_ms, id) of the last one of the previous page."""
    table = SegmentRow.__table__
    query = select(*_SEGMENT_COLUMNS).where(not_(covered(ALL_REASONS)))
    if after is not None:
        query = query.where(tuple_(table.c.start_ms, table.c.id) > tuple_(*after))
    query = query.order_by(table.c.start_ms, table.c.id).limit(limit)
    with Session(engine) as session:
        return [Segment(**row._mapping) for row in session.execute(query)]


def segments_ending_before(engine: Engine, cutoff_ms: int, limit: int) -> list[Segment]:
    """Segments no protection covers whose end is at or before ``cutoff_ms`` (oldest first)."""
    table = SegmentRow.__table__
    query = (
        select(*_SEGMENT_COLUMNS)
        .where(not_(covered(ALL_REASONS)), table.c.start_ms < cutoff_ms, table.c.end_ms <= cutoff_ms)
        .order_by(table.c.start_ms, table.c.id)
        .limit(limit)
    )
    with Session(engine) as session:
        return [Segment(**row._mapping) for row in session.execute(query)]


def all_segments(engine: Engine) -> list[Segment]:
    """Every indexed segment, ordered by start."""
    return list_segments(engine)


def delete_segments(session: Session, ids: Iterable[int]) -> int:
    """Remove segments from the index (the files are the caller's business); return rows deleted."""
    deleted = 0
    for chunk in _chunks(ids):
        result = session.execute(delete(SegmentRow.__table__).where(SegmentRow.__table__.c.id.in_(chunk)))
        deleted += result.rowcount  # type: ignore[attr-defined]
    return deleted


def storage_bytes(engine: Engine, camera_id: str | None = None) -> int:
    """Total size of the indexed segments (of one camera, or all)."""
    query = select(func.coalesce(func.sum(SegmentRow.bytes), 0))
    if camera_id is not None:
        query = query.where(SegmentRow.camera_id == camera_id)
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


def _note_long_segment(session: Session, duration_ms: int) -> None:
    current = int(session.scalar(_LONG_SEGMENT) or 0)
    if duration_ms > current:
        logger.warning(
            "segment of %d s indexed (longer than %d s)", duration_ms // 1000, SEGMENT_BOUND_MS // 1000
        )
        session.merge(MetaRow(key=LONG_SEGMENT_KEY, value=str(duration_ms)))
        session.flush()


# --- events -------------------------------------------------------------------------------------


def insert_event(session: Session, ev: Event, detected_ms: int) -> int:
    """Store an event (``ev.id`` is ignored) and return its id."""
    values = {
        "camera_id": ev.camera_id,
        "kind": ev.kind,
        "start_ms": int(ev.start_ms),
        "end_ms": ev.end_ms,
        "detected_ms": int(detected_ms),
        "score": float(ev.score),
        "zones_json": zones_to_json(ev.zones),
        "thumbnail": ev.thumbnail,
        "source": ev.source,
    }
    return int(
        session.execute(
            insert(EventRow.__table__).values(**values).returning(EventRow.__table__.c.id)
        ).scalar_one()
    )


def update_event(
    session: Session,
    event_id: int,
    *,
    end_ms: int | None | _Keep = KEEP,
    score: float | _Keep = KEEP,
    zones: tuple[str, ...] | _Keep = KEEP,
    thumbnail: str | None | _Keep = KEEP,
) -> None:
    """Change an event's end, score, zones or thumbnail (fields left at KEEP stay as they are)."""
    values: dict[str, Any] = {}
    if end_ms is not KEEP:
        values["end_ms"] = end_ms
    if score is not KEEP:
        values["score"] = float(score)
    if not isinstance(zones, _Keep):
        values["zones_json"] = zones_to_json(zones)
    if thumbnail is not KEEP:
        values["thumbnail"] = thumbnail
    table = EventRow.__table__
    if not values:
        found = session.scalar(select(func.count()).select_from(table).where(table.c.id == event_id))
        if not found:
            raise NotFoundError(f"no event with id {event_id}")
        return
    result = session.execute(update(table).where(table.c.id == event_id).values(**values))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError(f"no event with id {event_id}")


def list_events(
    engine: Engine,
    camera_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    kinds: Iterable[str] | None = None,
    limit: int | None = None,
    *,
    newest_first: bool = False,
) -> list[Event]:
    """Events overlapping the window (open events extend to the future), ordered by start."""
    query = select(EventRow).where(
        *overlap_conditions(EventRow.start_ms, EventRow.end_ms, start_ms, end_ms, open_ended=True)
    )
    if camera_id is not None:
        query = query.where(EventRow.camera_id == camera_id)
    if kinds is not None:
        query = query.where(EventRow.kind.in_(list(kinds)))
    with Session(engine) as session:
        return [
            event_from_row(row) for row in session.scalars(_ordered(query, EventRow, newest_first, limit))
        ]


def events_overlapping(engine: Engine, start_ms: int | None, end_ms: int | None) -> list[Event]:
    """Events of every camera overlapping the window (for retention), ordered by start."""
    return list_events(engine, start_ms=start_ms, end_ms=end_ms)


def close_open_events(
    session: Session,
    end_ms_by_camera: Mapping[str, int] | None = None,
    *,
    camera_ids: Iterable[str] | None = None,
) -> int:
    """Close events left open by a crash; call at startup, before the pipelines run. Returns the count.

    The end is ``end_ms_by_camera[camera]`` when given; otherwise the end of that camera's last
    segment that ends after the event's start (the footage recorded until the crash stays an event
    and so is kept by retention); otherwise the event's start. Never before the start.
    ``camera_ids`` limits it to some cameras (a shared PostgreSQL index: only this hub's cameras).
    """
    query = select(EventRow.id, EventRow.camera_id, EventRow.start_ms).where(EventRow.end_ms.is_(None))
    if camera_ids is not None:
        query = query.where(EventRow.camera_id.in_(list(camera_ids)))
    closed = 0
    for event_id, camera_id, start in session.execute(query).all():
        if end_ms_by_camera is not None and camera_id in end_ms_by_camera:
            end = end_ms_by_camera[camera_id]
        else:
            end = (
                session.scalar(
                    select(func.max(SegmentRow.end_ms)).where(
                        SegmentRow.camera_id == camera_id, SegmentRow.end_ms > start
                    )
                )
                or start
            )
        session.execute(
            update(EventRow.__table__)
            .where(EventRow.__table__.c.id == event_id)
            .values(end_ms=max(int(start), int(end)))
        )
        closed += 1
    if closed:
        logger.info("closed %d event(s) left open by an earlier run", closed)
    return closed


# --- status -------------------------------------------------------------------------------------


def upsert_status(session: Session, st: CameraStatus) -> None:
    """Insert or replace a camera's live status (``updated_ms`` 0 means now)."""
    session.merge(
        CameraStatusRow(
            camera_id=st.camera_id,
            state=st.state,
            since_ms=int(st.since_ms),
            last_error=st.last_error,
            updated_ms=int(st.updated_ms or now_ms()),
            stats_json=json.dumps(st.stats, sort_keys=True),
        )
    )


def list_status(engine: Engine) -> list[CameraStatus]:
    """Every camera's status, ordered by camera id."""
    with Session(engine) as session:
        rows = session.scalars(select(CameraStatusRow).order_by(CameraStatusRow.camera_id))
        return [status_from_row(row) for row in rows]


def clear_status(session: Session, camera_ids: Iterable[str] | None = None) -> None:
    """Forget the live status of all cameras (or of ``camera_ids``): the hub is stopping/starting."""
    statement = delete(CameraStatusRow.__table__)
    if camera_ids is not None:
        statement = statement.where(CameraStatusRow.__table__.c.camera_id.in_(list(camera_ids)))
    session.execute(statement)


# --- helpers ------------------------------------------------------------------------------------


def _ordered(
    query: Select[Any], row: type[SegmentRow] | type[EventRow], newest_first: bool, limit: int | None
) -> Select[Any]:
    if newest_first:
        query = query.order_by(row.start_ms.desc(), row.id.desc())
    else:
        query = query.order_by(row.start_ms, row.id)
    return query.limit(limit) if limit is not None else query


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    batch: list[int] = []
    for value in ids:
        batch.append(int(value))
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
