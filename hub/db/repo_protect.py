"""Protections in the index: windows of one camera's footage kept from retention, each with its reason.

A segment is protected while a protection of its camera overlaps it (``[start_ms, end_ms)`` against
the segment's own window). Nothing is copied onto the segments: the queries ask the protection table
(:func:`hub.db.repo_media.covered`), so adding or releasing a protection is one row, footage recorded later into a
protected window is protected as soon as it is indexed, and two hubs sharing an index never disagree.
Releasing one protection leaves the footage that another one covers protected.

Write functions take a Session and never commit (:func:`hub.db.tx.run_write`); reads take an Engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Engine, Table, and_, delete, func, insert, not_, select
from sqlalchemy.orm import Session

from hub.core.errors import NotFoundError
from hub.core.model import Protection, ProtectReason
from hub.core.times import now_ms
from hub.db.convert import protection_from_row
from hub.db.repo_media import KEEP_ALWAYS, covered, overlap_conditions, segment_lookback
from hub.db.schema import ProtectionRow, SegmentRow

_PROT = ProtectionRow.__table__


def add_protection(session: Session, p: Protection) -> Protection:
    """Store a protection (``p.id`` is ignored; ``created_ms`` 0 means now); return it with its id."""
    created = p.created_ms or now_ms()
    new_id = session.execute(
        insert(_PROT)
        .values(
            camera_id=p.camera_id,
            start_ms=int(p.start_ms),
            end_ms=int(p.end_ms),
            reason=p.reason,
            note=p.note,
            created_ms=created,
            request_seq=p.request_seq,
        )
        .returning(_PROT.c.id)
    ).scalar_one()
    return dataclasses.replace(p, id=int(new_id), created_ms=created)


def release_protection(session: Session, protection_id: int) -> Protection:
    """Remove one protection and return it; NotFoundError when there is none of that id."""
    row = session.get(ProtectionRow, int(protection_id))
    if row is None:
        raise NotFoundError(f"no protection with id {protection_id}")
    released = protection_from_row(row)
    session.execute(delete(_PROT).where(_PROT.c.id == row.id))
    return released


def list_protections(
    engine: Engine,
    camera_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    reasons: Iterable[ProtectReason] | None = None,
) -> list[Protection]:
    """Protections overlapping the window (of one camera, of ``reasons``), ordered by start then id."""
    query = select(ProtectionRow).where(
        *overlap_conditions(ProtectionRow.start_ms, ProtectionRow.end_ms, start_ms, end_ms)
    )
    if camera_id is not None:
        query = query.where(ProtectionRow.camera_id == camera_id)
    if reasons is not None:
        query = query.where(ProtectionRow.reason.in_(list(reasons)))
    with Session(engine) as session:
        rows = session.scalars(query.order_by(ProtectionRow.start_ms, ProtectionRow.id))
        return [protection_from_row(r) for r in rows]


# --- holds for agency requests (hub/community/holds.py) -------------------------------------------


def request_holds(session: Session, request_seq: int) -> list[Protection]:
    """The holds placed for one agency request (its index row), by camera."""
    rows = session.scalars(
        select(ProtectionRow)
        .where(ProtectionRow.request_seq == request_seq)
        .order_by(ProtectionRow.camera_id)
    )
    return [protection_from_row(r) for r in rows]


def remove(session: Session, ids: Iterable[int]) -> None:
    """Delete protections by id (those already gone are no error)."""
    wanted = [int(i) for i in ids]
    if wanted:
        session.execute(delete(_PROT).where(_PROT.c.id.in_(wanted)))


def oldest_hold(session: Session) -> Protection | None:
    """The hold placed first (then the lowest id): the first a full disk releases."""
    row = session.scalars(
        select(ProtectionRow)
        .where(ProtectionRow.reason == "hold")
        .order_by(ProtectionRow.created_ms, ProtectionRow.id)
        .limit(1)
    ).one_or_none()
    return protection_from_row(row) if row is not None else None


def held_bytes(session: Session) -> int:
    """The bytes of the recordings that a hold keeps and no star or evidence does: what holds cost."""
    return _unkept_bytes(session, _PROT.c.reason == "hold")


def freed_by(session: Session, protection_ids: Iterable[int]) -> int:
    """The bytes of the recordings these protections cover that no star or evidence keeps: at most
    what releasing them frees (another hold may still keep some)."""
    return _unkept_bytes(session, _PROT.c.id.in_([int(i) for i in protection_ids]))


def _unkept_bytes(session: Session, which: ColumnElement[bool]) -> int:
    """The bytes of the recordings that the protections ``which`` selects cover, each once, less those
    a star or evidence keeps. Only the recordings near those protections are looked at (an index
    range per protection, not the whole table)."""
    seg = SegmentRow.__table__
    near = (
        select(seg.c.id).select_from(_PROT).join(seg, _overlaps(seg, segment_lookback(session))).where(which)
    )
    total = session.execute(
        select(func.coalesce(func.sum(seg.c.bytes), 0)).where(seg.c.id.in_(near), not_(covered(KEEP_ALWAYS)))
    ).scalar_one()
    return int(total)


def _overlaps(seg: Table, lookback: int) -> ColumnElement[bool]:
    """A segment row overlapping a protection row, bounded below so that it is an index range scan."""
    return and_(
        seg.c.camera_id == _PROT.c.camera_id,
        seg.c.start_ms < _PROT.c.end_ms,
        seg.c.start_ms >= _PROT.c.start_ms - lookback,
        seg.c.end_ms > _PROT.c.start_ms,
    )


def bytes_by_request(session: Session, request_seqs: Iterable[int]) -> dict[int, int]:
    """Per agency request: the bytes of the recordings its holds cover (each recording once)."""
    wanted = sorted({int(s) for s in request_seqs})
    if not wanted:
        return {}
    seg = SegmentRow.__table__
    lookback = segment_lookback(session)
    found = session.execute(
        select(_PROT.c.request_seq, func.sum(seg.c.bytes))
        .join(seg, _overlaps(seg, lookback))
        .where(_PROT.c.request_seq.in_(wanted))
        .group_by(_PROT.c.request_seq)
    )
    return {int(seq): int(total or 0) for seq, total in found}
