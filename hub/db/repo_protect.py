"""Protections in the index: windows of one camera's footage kept from retention, each with its reason.

A segment is protected while a protection of its camera overlaps it (``[start_ms, end_ms)`` against
the segment's own window). Nothing is copied onto the segments: the queries ask the protection table
(:func:`hub.db.repo_media.covered`), so adding or releasing a protection is one row, footage recorded later into a
protected window is protected as soon as it is indexed, and two hubs sharing an index never disagree.
Releasing one protection leaves the footage that another one covers protected.

Write functions take a Session and never commit (:func:`hub.db.tx.run_write`); reads take an Engine.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from hub.core.errors import NotFoundError
from hub.core.model import Protection, ProtectReason
from hub.core.times import now_ms
from hub.db.convert import protection_from_row
from hub.db.repo_media import overlap_conditions
from hub.db.schema import ProtectionRow

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
        )
        .returning(_PROT.c.id)
    ).scalar_one()
    return Protection(int(new_id), p.camera_id, p.start_ms, p.end_ms, p.reason, p.note, created)


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
