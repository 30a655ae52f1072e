"""The community part of the Hub API, answered from the index (a mixin of
:class:`hub.api.index.IndexApi`, so the live hub and the index-only backend answer alike).

The community's state lives in the index (one audit chain per index, shared by every hub on a shared
PostgreSQL index), so nothing here needs a running hub: appends are ordered by the database's write
lock, not by the hub lock.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from hub.api import convert
from hub.api.types import (
    AUDIT_PAGE,
    AUDIT_PAGE_MAX,
    AUDIT_PROBLEMS_SHOWN,
    AuditCheck,
    AuditEntry,
    AuditProblem,
)
from hub.community import audit
from hub.community.formats.audit import StoredEntry, stored_data
from hub.core.errors import ValidationError
from hub.core.times import now_ms


class CommunityApi:
    """Trust cards, agency requests and the audit log, from the index."""

    @property
    def _engine(self) -> Engine:
        raise NotImplementedError  # IndexApi opens the index

    def audit_log(self, after: int = 0, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
        """The audit log's entries numbered above ``after``, oldest first, at most ``limit``."""
        if not 1 <= limit <= AUDIT_PAGE_MAX:
            raise ValidationError(
                f"limit is 1 to {AUDIT_PAGE_MAX} entries, not {limit}",
                field="limit",
                rule="min" if limit < 1 else "max",
            )
        if after < 0:
            raise ValidationError(
                f"after is an entry number (0 or more), not {after}", field="after", rule="min"
            )
        return [_entry(e) for e in audit.entries(self._engine, after=after, limit=limit)]

    def audit_verify(self) -> AuditCheck:
        """Check the whole audit log as stored."""
        found = audit.verify(self._engine)
        shown = found.problems[:AUDIT_PROBLEMS_SHOWN]
        problems = tuple(convert.to_api(p, AuditProblem) for p in shown)
        return AuditCheck(
            intact=found.intact,
            entries=found.entries,
            head_seq=found.head_seq,
            head_hash=found.head_hash,
            problems=problems,
            more_problems=len(found.problems) - len(shown),
            checked_ms=now_ms(),
        )


def _entry(stored: StoredEntry) -> AuditEntry:
    return AuditEntry(
        seq=stored.seq,
        time_ms=stored.time_ms,
        action=stored.action,
        data=stored_data(stored),
        prev=stored.prev,
        hash=stored.hash,
    )
