"""The quarantine: request files refused on import, kept in the index for the owner to list.

A refused file is never half-imported: it gets a row here with the reason it was refused, what it
claims (key id and request id, vouched for only when its signature verified) and its bytes, so the
owner can see what arrived and from whom it claims to be. One row per distinct content: the same
file refused again for the same reason only counts once more (no new audit entry); refused for
another reason (a card since revoked, a request since expired) its row says the new reason and the
refusal is logged again. A file that later imports (its card added since) leaves the quarantine.

The quarantine has its own cap, apart from recordings: at most :data:`QUARANTINE_MAX` files, the
least recently seen dropped first (their refusals stay in the audit log), so a folder of junk
cannot fill the index. A file over the size limit keeps no bytes (only its first ones were read).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from hub.community import audit
from hub.community.formats.request import REQUEST_MAX_BYTES, Rejection
from hub.db.schema import QuarantineRow

__all__ = ["QUARANTINE_MAX", "Refusal", "files", "forget", "hold"]

logger = logging.getLogger(__name__)

#: The most files the quarantine keeps.
QUARANTINE_MAX = 1000


@dataclass(frozen=True)
class Refusal:
    """A file refused: its row in the quarantine, and whether this refusal is news (logged now)."""

    row: QuarantineRow
    new: bool


def hold(session: Session, data: bytes, digest: str, name: str, why: Rejection, *, now: int) -> Refusal:
    """Keep the refused file ``data`` (``digest``: its SHA-256) in the quarantine, in ``session``'s
    write transaction, and log the refusal unless the same file was refused for the same reason."""
    row = session.scalars(select(QuarantineRow).where(QuarantineRow.sha256 == digest)).one_or_none()
    reason = str(why.reason)
    if row is not None and row.reason == reason:
        row.last_ms, row.times, row.name = now, row.times + 1, name
        session.flush()
        return Refusal(row, new=False)
    if row is None:
        row = QuarantineRow(sha256=digest, first_ms=now, times=0)
        session.add(row)
    row.name = name
    row.size = len(data)
    row.data = None if len(data) > REQUEST_MAX_BYTES else data  # oversize: only its first bytes came
    row.reason, row.message, row.member = reason, why.message, why.member
    row.kid, row.claimed_id, row.verified = why.kid, why.claimed_id, why.verified
    row.last_ms = now
    row.times += 1
    session.flush()
    audit.append(
        session,
        "request.reject",
        {
            "sha256": digest,
            "bytes": len(data),
            "reason": reason,
            **({"member": why.member} if why.member else {}),
            **({"kid": why.kid} if why.kid else {}),
            **({"claimed_id": why.claimed_id} if why.claimed_id else {}),
            "verified": why.verified,
        },
        time_ms=now,
    )
    _cap(session)
    logger.info("refused a request file (%s): %s", reason, why.message)
    return Refusal(row, new=True)


def forget(session: Session, digest: str) -> None:
    """Take the file ``digest`` out of the quarantine (it has just been imported)."""
    session.execute(delete(QuarantineRow).where(QuarantineRow.sha256 == digest))


def files(engine: Engine) -> list[QuarantineRow]:
    """Every file in the quarantine, the most recently refused first."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(QuarantineRow).order_by(QuarantineRow.last_ms.desc(), QuarantineRow.id.desc())
            )
        )


def _cap(session: Session) -> None:
    kept = (
        select(QuarantineRow.id)
        .order_by(QuarantineRow.last_ms.desc(), QuarantineRow.id.desc())
        .limit(QUARANTINE_MAX)
        .scalar_subquery()
    )
    result = session.execute(delete(QuarantineRow).where(QuarantineRow.id.not_in(kept)))
    if dropped := result.rowcount:  # type: ignore[attr-defined]
        logger.info("the quarantine is full: dropped its %d least recently seen file(s)", dropped)
