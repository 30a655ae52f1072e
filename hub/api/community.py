"""The community part of the Hub API, answered from the index (a mixin of
:class:`hub.api.index.IndexApi`, so the live hub and the index-only backend answer alike).

The community's state lives in the index (one audit chain per index, shared by every hub on a shared
PostgreSQL index), so nothing here needs a running hub: appends are ordered by the database's write
lock, not by the hub lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub.api import convert
from hub.api.types import (
    AUDIT_PAGE,
    AUDIT_PAGE_MAX,
    AUDIT_PROBLEMS_SHOWN,
    TRUST_CARD_MAX_BYTES,
    AgencyRequest,
    AuditCheck,
    AuditEntry,
    AuditMirror,
    AuditProblem,
    AuditReport,
    AuditSeal,
    CameraFootage,
    QuarantinedFile,
    ReportCounts,
    ReportLine,
    RequestArea,
    RequestDecision,
    RequestHold,
    RequestImport,
    RequestMatch,
    RequestRule,
    RuleChange,
    RuleKind,
    TrustCard,
    TrustChange,
    TrustState,
)
from hub.community import (
    audit,
    checkpoints,
    decisions,
    holds,
    matching,
    quarantine,
    report,
    requests,
    rules,
    trust,
)
from hub.community.formats.audit import StoredEntry, stored_data
from hub.core import model
from hub.core.errors import ValidationError
from hub.core.times import now_ms
from hub.db import repo_config
from hub.db.schema import RequestRuleRow, TrustCardRow
from hub.db.tx import run_write

T = TypeVar("T")
P = ParamSpec("P")


class CommunityApi:
    """Trust cards, agency requests and the audit log, from the index."""

    @property
    def _engine(self) -> Engine:
        raise NotImplementedError  # IndexApi opens the index

    def _root(self) -> Path:
        """The storage folder (where the audit log's head is mirrored)."""
        raise NotImplementedError  # IndexApi knows the storage folder

    def _write(self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in a write transaction that may append audit entries: the checkpoint key is read
        from the keyring first (not while the index is locked), and the head is mirrored once committed."""
        checkpoints.prepare(self._engine, self._root())
        return run_write(self._engine, fn, *args, **kwargs)

    def _disk_bytes(self) -> int | None:
        """The size of the disk holding the storage folder (caps holds with no quota)."""
        raise NotImplementedError  # IndexApi knows the storage folder

    def _holds_changed(self, changed: list[tuple[model.Protection, bool]]) -> None:
        """Holds were placed or released (``True``; a running hub tells its subscribers)."""

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
        """Check the whole audit log as stored, its checkpoints and the mirror of its head."""
        found = audit.verify(self._engine, self._root())
        every = found.problems
        shown = every[:AUDIT_PROBLEMS_SHOWN]
        seal, chain = found.seal, found.chain
        mirror = seal.mirror
        return AuditCheck(
            intact=not every,
            entries=chain.entries,
            head_seq=chain.head_seq,
            head_hash=chain.head_hash,
            problems=tuple(convert.to_api(p, AuditProblem) for p in shown),
            more_problems=len(every) - len(shown),
            seal=convert.to_api(
                seal,
                AuditSeal,
                mirror=AuditMirror(
                    path=seal.mirror_path,
                    state=seal.mirror_state,
                    seq=mirror.seq if mirror else None,
                    hash=mirror.head if mirror else None,
                    time_ms=mirror.time_ms if mirror else None,
                    signed=seal.mirror_signed,
                ),
            ),
            notes=seal.notes,
            checked_ms=now_ms(),
        )

    def audit_report(self) -> AuditReport:
        """The transparency report, computed from the audit log (and whether the log verifies)."""
        made = now_ms()
        checked = audit.verify(self._engine, self._root())  # the report and "intact" from one read
        found = report.compute(checked.entries)

        def line(x: report.Line) -> ReportLine:
            return ReportLine(month=x.month, kid=x.kid, agency=x.agency, counts=_counts(x.counts))

        return AuditReport(
            intact=not checked.problems,
            entries=found.entries,
            first_ms=found.first_ms,
            last_ms=found.last_ms,
            lines=tuple(line(x) for x in found.lines),
            agencies=tuple(line(x) for x in found.agencies),
            months=tuple(line(x) for x in found.months),
            totals=_counts(found.totals),
            skipped=found.skipped,
            made_ms=made,
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
        return self._change(self._write(trust.add, card, replace=replace, now=now), now)

    def trust_list(self) -> list[TrustCard]:
        """Every card held, revoked and expired ones too, by name."""
        return list(self._trust_cards(now_ms()).values())

    def trust_revoke(self, kid: str) -> TrustChange:
        """Stop trusting a card and record it in the audit log."""
        now = now_ms()
        return self._change(self._write(trust.revoke, kid, now=now), now)

    def request_import(self, data: bytes, name: str = "") -> RequestImport:
        """Import one request file (its bytes; ``name`` labels it): stored, known already, or
        quarantined, and logged."""
        now = now_ms()
        done, changed = self._write(_import, data, name, now=now, disk_bytes=self._disk_bytes())
        self._holds_changed(changed)
        return RequestImport(
            outcome=done.outcome,
            request=self._requests([done.shown], now)[0] if done.shown is not None else None,
            refused=convert.to_api(done.refused, QuarantinedFile) if done.refused is not None else None,
            closes=done.closes,
        )

    def request_list(self, include_hidden: bool = False) -> list[AgencyRequest]:
        """Every request, alert and withdrawal imported, re-checked and matched now, the most recently
        issued first; those the owner's rules hide only with ``include_hidden``."""
        now = now_ms()
        self._holds_changed([(p, True) for p in holds.release_ended(self._engine, now)])
        found = self._requests(requests.shown(self._engine, now), now)
        return [r for r in found if include_hidden or not r.hidden_by]

    def request_show(self, ref: str) -> AgencyRequest:
        """One request, re-checked and matched now; the owner's viewing it is logged."""
        now = now_ms()
        seen, gone = self._write(_show, ref, now=now, disk_bytes=self._disk_bytes())
        self._holds_changed(gone)
        return self._requests([seen], now)[0]

    def request_decline(self, ref: str, note: str = "") -> RequestDecision:
        """Decline a footage request, recorded in the audit log only; its holds are released."""
        now = now_ms()
        done, gone = self._write(_decline, ref, note, now=now)
        self._holds_changed(gone)
        return RequestDecision(outcome=done.outcome, request=self._requests([done.shown], now)[0])

    def request_rules(self) -> list[RequestRule]:
        """The owner's rules that hide requests, by number."""
        return self._rules(rules.rules(self._engine))

    def request_rule_add(self, kind: RuleKind, value: str = "") -> RuleChange:
        """Hide the requests of a card (``value`` its key id or a unique prefix), of a legal basis
        (``value`` voluntary or warrant), or overbroad ones; logged."""
        done = self._write(rules.add, kind, value, now=now_ms())
        return RuleChange(outcome=done.outcome, rule=self._rules([done.row])[0])

    def request_rule_remove(self, rule_id: int) -> RuleChange:
        """Remove a rule by its number; logged."""
        row = self._write(rules.remove, rule_id, now=now_ms())
        return RuleChange(outcome="removed", rule=self._rules([row])[0])

    def _requests(self, seen: list[requests.Shown], now: int) -> list[AgencyRequest]:
        cards = self._trust_cards(now)
        held = rules.rules(self._engine)
        names = {c.id: c.name for c in repo_config.list_cameras(self._engine, include_removed=True)}
        kept = holds.bytes_held(self._engine, [s.row.seq for s in seen if s.row.hold_state == "held"])
        return [_request(s, cards, held, names, kept) for s in seen]

    def _rules(self, rows: list[RequestRuleRow]) -> list[RequestRule]:
        cards = {row.kid: row.name for row in trust.cards(self._engine)}
        return [
            RequestRule(
                id=row.id,
                kind=row.kind,  # type: ignore[arg-type]
                kid=row.value if row.kind == "card" else None,
                card_name=cards.get(row.value) if row.kind == "card" else None,
                legal_basis=row.value if row.kind == "legal_basis" else None,  # type: ignore[arg-type]
                created_ms=row.created_ms,
            )
            for row in rows
        ]

    def request_quarantine(self) -> list[QuarantinedFile]:
        """The refused files, the most recently refused first."""
        return [convert.to_api(row, QuarantinedFile) for row in quarantine.files(self._engine)]

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


Changed = list[tuple[model.Protection, bool]]  # holds placed (False) or released (True)


def _import(
    session: Session, data: bytes, name: str, *, now: int, disk_bytes: int | None
) -> tuple[requests.Imported, Changed]:
    done = requests.import_file(session, data, name, now=now, disk_bytes=disk_bytes)
    return done, holds.changes(session)


def _show(session: Session, ref: str, *, now: int, disk_bytes: int | None) -> tuple[requests.Shown, Changed]:
    """Release the holds that are due, then show one request (holding its footage if it should be)."""
    holds.sweep(session, now=now)
    return requests.show(session, ref, now=now, disk_bytes=disk_bytes), holds.changes(session)


def _decline(session: Session, ref: str, note: str, *, now: int) -> tuple[decisions.Decided, Changed]:
    return decisions.decline(session, ref, note, now=now), holds.changes(session)


def _counts(counts: report.Counts) -> ReportCounts:
    return convert.to_api(counts, ReportCounts)


def _card(row: TrustCardRow, now: int, same_name: tuple[str, ...]) -> TrustCard:
    state: TrustState = (
        "revoked" if row.revoked_ms is not None else "expired" if row.expires_ms <= now else "active"
    )
    return convert.to_api(
        row, TrustCard, fingerprint=trust.key_fingerprint(row), state=state, same_name=same_name
    )


def _request(
    seen: requests.Shown,
    cards: dict[str, TrustCard],
    held: list[RequestRuleRow],
    cameras: dict[str, str],
    kept: dict[int, int],
) -> AgencyRequest:
    """A stored request as the API shows it, named by its card, matched, with the rules hiding it."""
    row, content, found = seen.row, seen.request, seen.match
    card = cards.get(row.kid)
    broad = found.overbroad if found is not None else ()
    shown: dict[str, object] = {
        "id": row.request_id,
        "ref": row.request_id.removeprefix("urn:uuid:"),
        "card_name": card.name if card is not None else None,
        "same_name": card.same_name if card is not None else (),
        "standing": seen.standing,
        "problem": seen.problem,
        "overbroad": broad,
        "hidden_by": rules.hiding(held, row, content, bool(broad)),
        "match": _match(found, row.matched_ms, cameras) if found is not None else None,
        "hold": RequestHold(
            state=row.hold_state,  # type: ignore[arg-type]
            why=row.hold_why,  # type: ignore[arg-type]
            since_ms=row.hold_ms or row.imported_ms,
            bytes=kept.get(row.seq, 0),
        )
        if row.hold_state is not None
        else None,
    }
    if content is not None:
        shown |= {
            "agency": content.agency,
            "agency_differs": card is not None
            and content.agency is not None
            and trust.name_key(content.agency) != trust.name_key(card.name),
            "case": content.case,
            "title": content.title,
            "message": content.message,
            "contact": content.contact,
            "area": RequestArea(lat=content.area.lat, lon=content.area.lon, radius_m=content.area.radius_m)
            if content.area is not None
            else None,
            "retention_days": content.retention_days,
            "legal_basis": str(content.legal_basis) if content.legal_basis is not None else None,
            "warrant_ref": content.warrant_ref,
            "refers_to": content.refers_to,
        }
    return convert.to_api(row, AgencyRequest, **shown)


def _match(found: matching.Match, matched_ms: int | None, cameras: dict[str, str]) -> RequestMatch:
    return RequestMatch(
        area=found.area,
        distance_m=found.distance_m,
        footage=tuple(
            CameraFootage(
                camera_id=f.camera_id,
                camera_name=cameras.get(f.camera_id, f.camera_id),
                covered_ms=f.covered_ms,
                recordings=f.segments,
                events=f.events,
                first_ms=f.first_ms,
                last_ms=f.last_ms,
            )
            for f in sorted(
                found.footage, key=lambda f: (cameras.get(f.camera_id, f.camera_id).casefold(), f.camera_id)
            )
        ),
        covered_ms=found.covered_ms,
        matched=found.matched,
        matched_ms=matched_ms,
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
