"""The community part of the Hub API, answered from the index (a mixin of
:class:`hub.api.index.IndexApi`, so the live hub and the index-only backend answer alike).

The community's state lives in the index (one audit chain per index, shared by every hub on a shared
PostgreSQL index), so nothing here needs a running hub: appends are ordered by the database's write
lock, not by the hub lock.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.engine import Engine

from hub.api import convert
from hub.api.types import (
    AUDIT_PAGE,
    AUDIT_PAGE_MAX,
    AUDIT_PROBLEMS_SHOWN,
    TRUST_CARD_MAX_BYTES,
    AuditCheck,
    AuditEntry,
    AuditProblem,
    TrustCard,
    TrustChange,
    TrustState,
)
from hub.community import audit, trust
from hub.community.formats.audit import StoredEntry, stored_data
from hub.core.errors import ValidationError
from hub.core.times import now_ms
from hub.db.schema import TrustCardRow
from hub.db.tx import run_write


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

    def trust_add(self, card: bytes, replace: bool = False) -> TrustChange:
        """Trust an agency's card and record it in the audit log."""
        if len(card) > TRUST_CARD_MAX_BYTES:
            raise ValidationError(
                f"a trust card is at most {TRUST_CARD_MAX_BYTES} bytes; this is {len(card)}",
                field="card",
                rule="max",
            )
        now = now_ms()
        return self._change(run_write(self._engine, trust.add, card, replace=replace, now=now), now)

    def trust_list(self) -> list[TrustCard]:
        """Every card held, revoked and expired ones too, by name."""
        return list(self._trust_cards(now_ms()).values())

    def trust_revoke(self, kid: str) -> TrustChange:
        """Stop trusting a card and record it in the audit log."""
        now = now_ms()
        return self._change(run_write(self._engine, trust.revoke, kid, now=now), now)

    def _trust_cards(self, now: int) -> dict[str, TrustCard]:
        rows = trust.cards(self._engine)
        by_name: defaultdict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row.revoked_ms is None:
                by_name[trust.name_key(row.name)].append(row.kid)
        return {
            row.kid: _card(row, now, tuple(k for k in by_name[trust.name_key(row.name)] if k != row.kid))
            for row in rows
        }

    def _change(self, change: trust.Change, now: int) -> TrustChange:
        return TrustChange(
            outcome=change.outcome,
            card=self._trust_cards(now)[change.row.kid],
            previous=_card(change.previous, now, ()) if change.previous is not None else None,
        )


def _card(row: TrustCardRow, now: int, same_name: tuple[str, ...]) -> TrustCard:
    state: TrustState = (
        "revoked" if row.revoked_ms is not None else "expired" if row.expires_ms <= now else "active"
    )
    return convert.to_api(
        row, TrustCard, fingerprint=trust.key_fingerprint(row), state=state, same_name=same_name
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
