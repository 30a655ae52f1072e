"""The owner's rules that hide agency requests: every request of one card, of one legal basis, or the
overbroad ones (hub/community/matching.py).

An index starts with one rule, "overbroad": overbroad requests are hidden unless the owner opts in by
removing it (``requests list --all`` shows everything once, hidden requests marked). A hidden request
is still imported, kept, verified and audited; it is only left out of the list. Adding or removing a
rule appends an audit entry (``rule.add``, ``rule.remove``) in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community import audit, trust
from hub.community.formats.request import Request
from hub.core.errors import NotFoundError, ValidationError
from hub.db.schema import AgencyRequestRow, RequestRuleRow

__all__ = ["Added", "RuleKind", "add", "current", "hiding", "remove", "rules"]

logger = logging.getLogger(__name__)

#: What a rule hides: one card's requests, one legal basis, or overbroad requests.
RuleKind = Literal["card", "legal_basis", "overbroad"]
_BASES = ("voluntary", "warrant")


@dataclass(frozen=True)
class Added:
    """What adding a rule did: "added", or "exists" (the same rule is held already: nothing changed)."""

    outcome: Literal["added", "exists"]
    row: RequestRuleRow


def rules(engine: Engine) -> list[RequestRuleRow]:
    """Every rule, by number."""
    with Session(engine) as session:
        return current(session)


def current(session: Session) -> list[RequestRuleRow]:
    """Every rule, by number, as ``session`` sees them."""
    return list(session.scalars(select(RequestRuleRow).order_by(RequestRuleRow.id)))


def add(session: Session, kind: str, value: str, *, now: int) -> Added:
    """Add the rule hiding ``kind`` requests: ``value`` names the card (its key id or a unique prefix)
    or the legal basis; it is empty for "overbroad"."""
    value = _value(session, kind, value.strip())
    held = session.scalars(
        select(RequestRuleRow).where(RequestRuleRow.kind == kind, RequestRuleRow.value == value)
    ).one_or_none()
    if held is not None:
        return Added("exists", held)
    row = RequestRuleRow(kind=kind, value=value, created_ms=now)
    session.add(row)
    session.flush()
    audit.append(session, "rule.add", {"rule": row.id, "kind": kind, "value": value}, time_ms=now)
    logger.info("request rule %d added: hide %s %s", row.id, kind, value)
    return Added("added", row)


def remove(session: Session, rule_id: int, *, now: int) -> RequestRuleRow:
    """Remove the rule numbered ``rule_id``; NotFoundError when there is none."""
    row = session.get(RequestRuleRow, rule_id)
    if row is None:
        raise NotFoundError(f"there is no request rule {rule_id} (see 'porchlight requests rules list')")
    session.delete(row)
    session.flush()
    audit.append(session, "rule.remove", {"rule": row.id, "kind": row.kind, "value": row.value}, time_ms=now)
    logger.info("request rule %d removed", row.id)
    return row


def hiding(
    held: list[RequestRuleRow], row: AgencyRequestRow, request: Request | None, overbroad: bool
) -> tuple[int, ...]:
    """The numbers of the rules in ``held`` that hide the stored request ``row`` (``request`` its
    content, None when it no longer verifies)."""
    basis = str(request.legal_basis) if request is not None and request.legal_basis is not None else None
    return tuple(
        rule.id
        for rule in held
        if (rule.kind == "card" and rule.value == row.kid)
        or (rule.kind == "legal_basis" and rule.value == basis)
        or (rule.kind == "overbroad" and overbroad)
    )


def _value(session: Session, kind: str, value: str) -> str:
    if kind not in get_args(RuleKind):
        raise ValidationError(
            f"a rule hides requests by card, legal_basis or overbroad, not {kind[:40]!r}",
            field="kind",
            rule="one_of",
        )
    if kind == "card":
        return trust.find(session, value).kid
    if kind == "legal_basis":
        if value not in _BASES:
            raise ValidationError(
                f"a legal basis is voluntary or warrant, not {value[:40]!r}", field="value", rule="one_of"
            )
        return value
    if value:
        raise ValidationError("the overbroad rule takes no value", field="value", rule="format")
    return ""
