"""The trust cards the owner holds, in the index: add one, revoke one, list them.

A card is keyed by its key id. Adding the same card again changes nothing. A different card for a
key already held (a renewed expiry, a new name) replaces the stored one only when the owner says so,
and so does a card for a key the owner revoked: revocation sticks until the owner undoes it on
purpose. A card that has already expired is refused. Every change appends an audit entry
(``trust.add``, ``trust.revoke``) in the same transaction, so the log and the store never disagree.
Whether a card is in force (not expired, not revoked) is judged when it is used, against the clock
of that moment.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community import audit
from hub.community.formats.fields import FormatError, b64url_decode, b64url_encode, fingerprint
from hub.community.formats.trust import Card, parse_card
from hub.core.errors import ConflictError, NotFoundError, ValidationError
from hub.core.times import format_ms
from hub.db.schema import TrustCardRow

__all__ = [
    "KID_PREFIX_MIN",
    "Change",
    "Outcome",
    "add",
    "cards",
    "find",
    "key_fingerprint",
    "name_key",
    "parse",
    "public_key",
    "revoke",
]

logger = logging.getLogger(__name__)

Outcome = Literal["added", "replaced", "unchanged", "revoked", "already_revoked"]
#: The shortest key-id prefix accepted to name a card.
KID_PREFIX_MIN = 4
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class Change:
    """What a trust command did: the card as now stored, and the one it replaced."""

    outcome: Outcome
    row: TrustCardRow
    previous: TrustCardRow | None = None


def parse(data: bytes) -> Card:
    """The card in ``data``, or a ValidationError about ``card`` saying what is wrong with it."""
    try:
        return parse_card(data)
    except FormatError as exc:
        raise ValidationError(str(exc), field="card", rule="format") from None


def add(session: Session, data: bytes, *, replace: bool, now: int) -> Change:
    """Trust the card in ``data`` (in ``session``'s write transaction)."""
    card = parse(data)
    if card.expires_ms <= now:
        raise ValidationError(
            f"this card expired on {format_ms(card.expires_ms)}: ask the agency for a current one",
            field="card",
            rule="min",
        )
    held = session.get(TrustCardRow, card.kid)
    if held is not None and _card(held) == card and held.revoked_ms is None:
        return Change("unchanged", held)
    if held is not None and not replace:
        raise ConflictError(_conflict(held, card))
    previous = _copy(held) if held is not None else None
    row = held or TrustCardRow(kid=card.kid, added_ms=now)
    _fill(row, card, data, now)
    if held is None:
        session.add(row)
    session.flush()
    audit.append(
        session,
        "trust.add",
        {
            "kid": card.kid,
            "fingerprint": card.fingerprint,
            "name": card.name,
            "expires": format_ms(card.expires_ms),
            "card_sha256": hashlib.sha256(data).hexdigest(),
            **({"replaces": _summary(previous)} if previous is not None else {}),
        },
        time_ms=now,
    )
    logger.info("trusted the card %s (%s)", card.kid, "replaced" if previous else "new")
    return Change("replaced" if previous is not None else "added", row, previous)


def revoke(session: Session, ref: str, *, now: int) -> Change:
    """Stop trusting the card named by ``ref`` (its kid or a unique prefix of at least 4)."""
    row = find(session, ref)
    if row.revoked_ms is not None:
        return Change("already_revoked", row)
    row.revoked_ms = now
    row.updated_ms = now
    session.flush()
    audit.append(
        session,
        "trust.revoke",
        {"kid": row.kid, "fingerprint": key_fingerprint(row), "name": row.name},
        time_ms=now,
    )
    logger.info("revoked the card %s", row.kid)
    return Change("revoked", row)


def find(session: Session, ref: str) -> TrustCardRow:
    """The card ``ref`` names: its key id, a prefix of it (at least 4 hex characters), or its full
    fingerprint (spaces allowed, as ``trust list`` groups it). NotFoundError, or ValidationError when
    ``ref`` is none of those or a prefix names several cards."""
    wanted = "".join(ref.split()).lower()
    if not _HEX.fullmatch(wanted) or not (KID_PREFIX_MIN <= len(wanted) <= 16 or len(wanted) == 64):
        raise ValidationError(
            f"a card is named by its key id (16 hex characters), its first {KID_PREFIX_MIN} or more, "
            f"or its fingerprint (64), not {ref[:40]!r}",
            field="kid",
            rule="format",
        )
    prefix = wanted[:16]
    found = [
        row
        for row in session.scalars(
            select(TrustCardRow).where(TrustCardRow.kid.startswith(prefix, autoescape=True))
        )
        if len(wanted) < 64 or key_fingerprint(row) == wanted
    ]
    if not found:
        what = "fingerprint" if len(wanted) == 64 else "key id"
        raise NotFoundError(f"no trust card has the {what} {wanted}{'…' * (len(wanted) < 16)}")
    if len(found) > 1:
        kids = ", ".join(sorted(r.kid for r in found))
        raise ValidationError(
            f"{wanted}… names {len(found)} cards ({kids}): give more of the key id",
            field="kid",
            rule="unique",
        )
    return found[0]


def cards(engine: Engine) -> list[TrustCardRow]:
    """Every card held, revoked ones too, by name then key id."""
    with Session(engine) as session:
        return list(session.scalars(select(TrustCardRow).order_by(TrustCardRow.name, TrustCardRow.kid)))


def name_key(name: str) -> str:
    """What two names are compared by when warning that two cards share one (case and spacing aside)."""
    return " ".join(name.casefold().split())


def _card(row: TrustCardRow) -> Card:
    return parse_card(row.card)


def _fill(row: TrustCardRow, card: Card, data: bytes, now: int) -> None:
    row.name = card.name
    row.jurisdiction = card.jurisdiction
    row.website = card.website
    row.public_key = b64url_encode(card.public_key)
    row.age_recipient = card.age_recipient
    row.expires_ms = card.expires_ms
    row.card = data.decode("utf-8")
    row.updated_ms = now
    row.revoked_ms = None


def _copy(row: TrustCardRow) -> TrustCardRow:
    return TrustCardRow(**{c.key: getattr(row, c.key) for c in TrustCardRow.__table__.columns})


def public_key(row: TrustCardRow) -> bytes:
    """A stored card's raw 32-byte Ed25519 key."""
    return b64url_decode(row.public_key, "public_key")


def key_fingerprint(row: TrustCardRow) -> str:
    """The full fingerprint of a stored card's key."""
    return fingerprint(public_key(row))


def _summary(row: TrustCardRow) -> dict[str, str]:
    return {
        "name": row.name,
        "expires": format_ms(row.expires_ms) or "",
        **({"revoked": format_ms(row.revoked_ms) or ""} if row.revoked_ms is not None else {}),
    }


def _conflict(held: TrustCardRow, card: Card) -> str:
    if held.revoked_ms is not None:
        return (
            f"you revoked the card of this key ({held.kid}, {held.name}) on {format_ms(held.revoked_ms)}; "
            "add it with --replace to trust the key again"
        )
    differs = [
        what
        for what, old, new in (
            ("name", held.name, card.name),
            ("jurisdiction", held.jurisdiction, card.jurisdiction),
            ("website", held.website, card.website),
            ("age recipient", held.age_recipient, card.age_recipient),
            ("expiry", format_ms(held.expires_ms), format_ms(card.expires_ms)),
        )
        if old != new
    ]
    return (
        f"a different card of this key ({held.kid}, {held.name}) is already trusted "
        f"(this one changes its {', '.join(differs)}); add it with --replace to use this one instead"
    )
