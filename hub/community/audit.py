"""The community audit log in the index: append an entry, read entries, check the chain.

Every community action (a card trusted or revoked, a request imported, viewed, refused, declined or
shared, a hold placed or released, a post published, a feed added) appends one entry in the same transaction as
the change it records, so the log and the index never disagree. Appending reads the head and writes
the next entry while holding the database's write lock: SQLite's ``BEGIN IMMEDIATE`` (every write
transaction, :mod:`hub.db.tx`) or, on PostgreSQL, a transaction-level advisory lock. Every process
that writes the index (a hub, the CLI with no hub, a second hub sharing a PostgreSQL index) thus
appends one at a time, without the hub lock. The entry format and the check are pure code in
:mod:`hub.community.formats.audit`. Each write transaction that appends also writes a signed
checkpoint, mirrored in the storage folder once committed (:mod:`hub.community.checkpoints`), so that
:func:`verify` sees a log cut off or rolled back (:mod:`hub.community.seal_check`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community import checkpoints, seal_check
from hub.community.formats import audit as chain
from hub.community.formats.audit import ChainCheck, Entry, Problem, StoredEntry
from hub.core.times import now_ms
from hub.db.schema import AuditEntryRow
from hub.db.tx import serialize_writes

logger = logging.getLogger(__name__)

#: What an entry records (the action names of formats/README.md, section 5).
Action = Literal[
    "trust.add",
    "trust.revoke",
    "request.import",
    "request.reject",
    "request.view",
    "request.withdraw",
    "request.match",
    "rule.add",
    "rule.remove",
    "request.decline",
    "request.share",
    "hold.add",
    "hold.release",
    "post.publish",
    "feed.add",
]
#: The PostgreSQL advisory lock that orders appends ("PAud").
LOCK_KEY = 0x50417564


def append(session: Session, action: Action, data: Mapping[str, Any], *, time_ms: int | None = None) -> Entry:
    """Append one entry in ``session``'s write transaction (it commits with the change it records)."""
    serialize_writes(session, LOCK_KEY)  # RuntimeError outside a write transaction
    last = session.execute(
        select(AuditEntryRow.seq, AuditEntryRow.hash).order_by(AuditEntryRow.seq.desc()).limit(1)
    ).first()
    head = (int(last.seq), str(last.hash)) if last is not None else None
    entry = chain.next_entry(head, now_ms() if time_ms is None else time_ms, action, data)
    session.add(
        AuditEntryRow(
            seq=entry.seq,
            time_ms=entry.time_ms,
            action=entry.action,
            data=chain.canonical(dict(entry.data)).decode("utf-8"),
            prev=entry.prev,
            hash=entry.hash,
        )
    )
    session.flush()
    checkpoints.seal(session, entry.seq, entry.hash, entry.time_ms)
    logger.debug("audit entry %d: %s", entry.seq, action)
    return entry


def entries(engine: Engine, *, after: int = 0, limit: int | None = None) -> list[StoredEntry]:
    """The stored entries with ``seq > after``, oldest first, at most ``limit`` (their data as text)."""
    query = select(AuditEntryRow).where(AuditEntryRow.seq > after).order_by(AuditEntryRow.seq)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return [_stored(row) for row in session.scalars(query)]


@dataclass(frozen=True)
class Verified:
    """What :func:`verify` found: the chain as stored, and what its checkpoints and mirror say."""

    chain: ChainCheck
    seal: seal_check.Seal
    entries: list[StoredEntry]  # as read for the check (one consistent view)

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every problem, the chain's first."""
        return self.chain.problems + self.seal.problems


def verify(engine: Engine, root: Path | None) -> Verified:
    """Check the whole chain as stored (read by one query: one consistent view), then the checkpoints
    and the mirror of its head in ``root``, the storage folder (None: not known)."""
    stored = entries(engine)
    found = chain.check_chain(stored)
    return Verified(found, seal_check.check(engine, {e.seq: e.hash for e in stored}, root), stored)


def _stored(row: AuditEntryRow) -> StoredEntry:
    return StoredEntry(
        seq=row.seq, time_ms=row.time_ms, action=row.action, data=row.data, prev=row.prev, hash=row.hash
    )
