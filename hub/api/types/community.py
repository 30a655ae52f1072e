"""The community features as the Hub API shows them: the audit log and trust cards; agency requests
join them."""

from __future__ import annotations

from typing import Any, Literal

from hub.api.types.base import Value

__all__ = [
    "AUDIT_PAGE",
    "AUDIT_PAGE_MAX",
    "AUDIT_PROBLEMS_SHOWN",
    "AuditCheck",
    "AuditEntry",
    "AuditProblem",
    "AuditProblemKind",
    "TRUST_CARD_MAX_BYTES",
    "TrustCard",
    "TrustChange",
    "TrustOutcome",
    "TrustState",
]

#: Audit entries per ``audit_log`` call unless the client asks for another number, and the most.
AUDIT_PAGE = 100
AUDIT_PAGE_MAX = 10_000
#: Problems an ``AuditCheck`` lists (a log rewritten wholesale has one per entry); the rest are counted.
AUDIT_PROBLEMS_SHOWN = 1000

#: The largest trust card ``trust_add`` takes (formats/README.md sets no limit; a real one is < 1 KiB).
TRUST_CARD_MAX_BYTES = 64 * 1024

#: What ``audit_verify`` can find wrong with the stored log.
AuditProblemKind = Literal[
    "changed",  # an entry no longer matches its hash
    "moved",  # an intact entry stored at another position (entries reordered)
    "missing",  # numbers missing: entries removed
    "unlinked",  # an entry does not follow the one before it (an earlier entry rewritten with a new hash)
    "unreadable",  # an entry's data is not strict JSON
]


class AuditEntry(Value, frozen=True, kw_only=True):
    """One entry of the community audit log, as stored (``data`` None when it is not a JSON object)."""

    seq: int
    time_ms: int
    action: str
    data: dict[str, Any] | None
    prev: str
    hash: str


class AuditProblem(Value, frozen=True, kw_only=True):
    """One thing wrong with the stored log, at entry ``seq``; ``message`` says what, to a person."""

    seq: int
    kind: AuditProblemKind
    message: str


class AuditCheck(Value, frozen=True, kw_only=True):
    """The result of checking the audit log: intact or not, how long, its last entry, every problem."""

    intact: bool
    entries: int
    head_seq: int  # 0 for an empty log
    head_hash: str | None
    problems: tuple[AuditProblem, ...] = ()  # the first AUDIT_PROBLEMS_SHOWN, in entry order
    more_problems: int = 0  # found beyond those
    checked_ms: int


#: Whether a card verifies requests now: "active", or not since it expired or the owner revoked it.
TrustState = Literal["active", "expired", "revoked"]
#: What ``trust_add`` or ``trust_revoke`` did.
TrustOutcome = Literal["added", "replaced", "unchanged", "revoked", "already_revoked"]


class TrustCard(Value, frozen=True, kw_only=True):
    """An agency's card the owner trusts (or trusted): its key, who it names, until when.

    ``kid`` is the first 16 hex characters of ``fingerprint``, the SHA-256 of the raw Ed25519 key
    (not the RFC 7638 thumbprint). ``same_name`` lists the other cards, not revoked, whose name
    matches this one's apart from case and spacing: the owner is warned, since an agency is known by
    the card's name."""

    kid: str
    fingerprint: str  # 64 lower-case hex characters
    name: str
    jurisdiction: str
    website: str
    age_recipient: str | None = None
    expires_ms: int
    added_ms: int
    updated_ms: int
    revoked_ms: int | None = None
    state: TrustState
    same_name: tuple[str, ...] = ()


class TrustChange(Value, frozen=True, kw_only=True):
    """What ``trust_add`` or ``trust_revoke`` did: the card as stored now and, for "replaced", the
    card it replaced."""

    outcome: TrustOutcome
    card: TrustCard
    previous: TrustCard | None = None
