"""The community audit log as the Hub API shows it: its entries, its check, the transparency report."""

from __future__ import annotations

from typing import Any, Literal

from hub.api.types.base import Value

__all__ = [
    "AUDIT_PAGE",
    "AUDIT_PAGE_MAX",
    "AUDIT_PROBLEMS_SHOWN",
    "AuditCheck",
    "AuditEntry",
    "AuditMirror",
    "AuditProblem",
    "AuditProblemKind",
    "AuditReport",
    "AuditSeal",
    "MirrorState",
    "ReportCounts",
    "ReportLine",
]

#: Audit entries per ``audit_log`` call unless the client asks for another number, and the most.
AUDIT_PAGE = 100
AUDIT_PAGE_MAX = 10_000
#: Problems an ``AuditCheck`` lists (a log rewritten wholesale has one per entry); the rest are counted.
AUDIT_PROBLEMS_SHOWN = 1000

#: What ``audit_verify`` can find wrong with the stored log.
AuditProblemKind = Literal[
    "changed",  # an entry no longer matches its hash
    "moved",  # an intact entry stored at another position (entries reordered)
    "missing",  # numbers missing: entries removed
    "unlinked",  # an entry does not follow the one before it (an earlier entry rewritten with a new hash)
    "unreadable",  # an entry's data is not strict JSON
    "cut",  # a checkpoint in the index vouches for more entries than the log holds: its tail removed
    "rolled_back",  # the storage folder's mirror vouches for more: the tail cut, or an older index restored
    "diverged",  # a checkpoint or the mirror records another hash for an entry: the log rewritten
    "forged",  # a checkpoint or the mirror has this machine's key id but a signature that does not verify
]
#: The storage folder's copy of the log's head, against the log: "current" (at its last entry),
#: "behind" (an earlier one: another hub sharing the index wrote since), "ahead" and "diverged" (a
#: problem), "missing", "damaged", or "out_of_reach" (the storage folder is not there).
MirrorState = Literal["current", "behind", "ahead", "diverged", "missing", "damaged", "out_of_reach"]


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


class AuditMirror(Value, frozen=True, kw_only=True):
    """The copy of the log's head in the storage folder (``path``; None when out of reach): the
    entry it records and when, and whether its signature verified with this machine's key."""

    path: str | None = None
    state: MirrorState
    seq: int | None = None
    hash: str | None = None
    time_ms: int | None = None
    signed: bool = False


class AuditSeal(Value, frozen=True, kw_only=True):
    """What vouches for the log beyond its chain: the checkpoints in the index (each the entry count
    and the last hash, signed with a key in the keyring of the machine that wrote it) and the mirror.
    ``key_id``: this machine's checkpoint key (None: ``keyring`` says why there is none here)."""

    key_id: str | None = None
    keyring: str | None = None
    checkpoints: int = 0
    signed: int = 0  # verified with this machine's key
    unsigned: int = 0  # written with no keyring
    other_key: int = 0  # signed with another machine's key: not checked here
    vouched: int = 0  # the entries the last checkpoint vouches for
    mirror: AuditMirror


class AuditCheck(Value, frozen=True, kw_only=True):
    """The result of checking the audit log: intact or not, how long, its last entry, every problem,
    and (``seal``) its checkpoints and mirror, with ``notes`` on what they cannot vouch for."""

    intact: bool
    entries: int
    head_seq: int  # 0 for an empty log
    head_hash: str | None
    problems: tuple[AuditProblem, ...] = ()  # the first AUDIT_PROBLEMS_SHOWN, in entry order
    more_problems: int = 0  # found beyond those
    seal: AuditSeal | None = None
    notes: tuple[str, ...] = ()
    checked_ms: int


class ReportCounts(Value, frozen=True, kw_only=True):
    """Requests counted by what happened to them (each request once per count): footage requests
    ``received`` (imported after verifying), ``alerts`` received, requests ``matched`` (footage here
    in the window, the area not elsewhere), ``shared`` and ``declined`` by the owner, ``withdrawn``
    or replaced by the agency; ``refused``: files refused on import (not verified: no agency)."""

    received: int = 0
    alerts: int = 0
    matched: int = 0
    shared: int = 0
    declined: int = 0
    withdrawn: int = 0
    refused: int = 0


class ReportLine(Value, frozen=True, kw_only=True):
    """The counts of one month (``YYYY-MM``, UTC; None: every month) and one agency (its card's key id
    and the name the log recorded for it; None: every agency, or the refused files)."""

    month: str | None = None
    kid: str | None = None
    agency: str | None = None
    counts: ReportCounts


class AuditReport(Value, frozen=True, kw_only=True):
    """The transparency report, computed from the audit log alone: per month and agency (``lines``),
    per agency, per month, and in all. ``intact`` says whether the log it was computed from verified;
    ``skipped`` counts entries whose data could not be read."""

    intact: bool
    entries: int
    first_ms: int | None = None
    last_ms: int | None = None
    lines: tuple[ReportLine, ...] = ()
    agencies: tuple[ReportLine, ...] = ()
    months: tuple[ReportLine, ...] = ()
    totals: ReportCounts
    skipped: int = 0
    made_ms: int
