"""The agency requests the owner imported, in the index: import one file, find one, show them.

A file is checked by :func:`hub.community.formats.request.verify` against the cards the owner holds,
at the moment of import. A refused file goes to the quarantine (:mod:`hub.community.quarantine`);
nothing of it is matched or shown as a request. A verified one is stored by (card kid, id), as the
format says, and only then compared with what is held: the same file again (whitespace at its ends
aside) is a silent no-op; a different file with the same card and id is refused as a replay.

A file that ``refers_to`` an earlier request of the same card closes it: a withdrawal withdraws it,
a request or alert replaces it. Files may arrive in any order (a folder is read in name order), so
a request whose withdrawal was imported first is closed as it is stored.

A stored request is read again, and re-checked, whenever it is shown: its signature with the card's
key (an index edited by hand no longer verifies: "altered"), the card's state now (revoked or
expired) and the request's own expiry. Every change appends an audit entry in the same transaction
(``request.import``, ``request.reject``, ``request.withdraw``; showing one, ``request.view``).
A request under review holds the footage it matches (:mod:`hub.community.holds`) until it ends.
A request is matched against this hub's footage and home location (:mod:`hub.community.matching`)
whenever it is shown; its first match found on import or when shown is logged (``request.match``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community import audit, holds, matching, quarantine, trust
from hub.community.formats.fields import printable
from hub.community.formats.request import (
    Kind,
    Reason,
    Rejection,
    Request,
    TrustedKey,
    read_verified,
    verify,
)
from hub.core.errors import NotFoundError, ValidationError
from hub.core.times import format_ms
from hub.db.schema import AgencyRequestRow, QuarantineRow, TrustCardRow
from hub.db.tx import serialize_writes

__all__ = [
    "NAME_MAX",
    "REF_MIN",
    "Imported",
    "Outcome",
    "Shown",
    "Standing",
    "find",
    "import_file",
    "matched",
    "recheck",
    "show",
    "shown",
]

logger = logging.getLogger(__name__)

Outcome = Literal["imported", "duplicate", "rejected", "already_rejected"]
#: Whether a stored request counts now: "in_force", or why not.
Standing = Literal["in_force", "expired", "card_expired", "card_revoked", "altered"]
#: The longest file name kept with a refused file (a label, shown; longer ones are cut).
NAME_MAX = 255
#: The fewest characters of a request's id that name it on the command line.
REF_MIN = 4
_WHITESPACE = b" \t\r\n"  # what the verifier strips from a file's ends
_REF = re.compile(r"[0-9a-f-]+")


@dataclass(frozen=True)
class Shown:
    """A stored request read again now: its content (None when it no longer verifies), its card
    (None if gone from the index), and whether it counts (``problem`` says why it is "altered");
    ``match`` is its content against this hub's footage and home location."""

    row: AgencyRequestRow
    request: Request | None
    card: TrustCardRow | None
    standing: Standing
    problem: str | None = None
    match: matching.Match | None = None


@dataclass(frozen=True)
class Imported:
    """What importing one file did: the request stored (or held already), read again as
    :func:`show` would, or the file's row in the quarantine; ``closes`` names the requests this file
    withdrew or replaced."""

    outcome: Outcome
    shown: Shown | None = None
    refused: QuarantineRow | None = None
    closes: tuple[str, ...] = ()


def import_file(
    session: Session, data: bytes, name: str, *, now: int, disk_bytes: int | None = None
) -> Imported:
    """Import one request file (in ``session``'s write transaction): verify it, then store it, or
    know it already, or quarantine it. A new request's footage is held if it should be
    (:mod:`hub.community.holds`; ``disk_bytes``, the disk's size, caps holds with no quota)."""
    serialize_writes(session, audit.LOCK_KEY)  # imports one at a time: the check and the insert are one step
    label = printable(name, NAME_MAX) or "(no name)"
    digest = hashlib.sha256(data.strip(_WHITESPACE)).hexdigest()
    verdict = verify(data, _keys(session), now)
    if isinstance(verdict, Rejection):
        return _refuse(session, data, digest, label, verdict, now)
    held = _held(session, verdict.kid, verdict.id)
    if held is not None and held.sha256 == digest:
        return Imported("duplicate", shown=matched(session, held, now))
    if held is not None:
        message = (
            f"the card {held.kid} already sent a different file with the id {verdict.id} "
            f"(imported {format_ms(held.imported_ms)}): a second file with the same id is refused as a replay"
        )
        why = Rejection(Reason.REPLAY, message, "id", verdict.kid, verdict.id, verified=True)
        return _refuse(session, data, digest, label, why, now)
    row = _store(session, verdict, data.strip(_WHITESPACE).decode("ascii"), digest, now)
    quarantine.forget(session, digest)
    closes = _close_target(session, row, now)
    _close_if_referred(session, row, now)
    logger.info("imported the %s %s from the card %s", verdict.kind, verdict.id, verdict.kid)
    seen = matched(session, row, now, note=True)
    _hold(session, seen, disk_bytes, now)
    return Imported("imported", shown=seen, closes=closes)


def find(session: Session, ref: str) -> AgencyRequestRow:
    """The stored request ``ref`` names: its id (with or without ``urn:uuid:``) or a unique prefix of
    at least 4 characters, optionally after its card's key id (or a prefix) and a slash, to tell
    apart two cards' requests with the same id. NotFoundError; ValidationError when ``ref`` is not
    such a name or names several."""
    kid, _, wanted = "".join(ref.split()).lower().rpartition("/")
    wanted = wanted.removeprefix("urn:uuid:")
    if not _REF.fullmatch(wanted) or not REF_MIN <= len(wanted) <= 36 or (kid and not _REF.fullmatch(kid)):
        raise ValidationError(
            f"a request is named by its id (like 5b1c2f9e-1d2c-4e5f-8a9b-0c1d2e3f4a5b) or its first "
            f"{REF_MIN} or more characters, not {ref[:60]!r}",
            field="ref",
            rule="format",
        )
    found = list(
        session.scalars(
            select(AgencyRequestRow)
            .where(AgencyRequestRow.request_id.startswith("urn:uuid:" + wanted, autoescape=True))
            .where(AgencyRequestRow.kid.startswith(kid, autoescape=True))
            .order_by(AgencyRequestRow.seq)
        )
    )
    if not found:
        raise NotFoundError(f"no request has the id {wanted}{'…' * (len(wanted) < 36)}")
    if len(found) > 1:
        named = ", ".join(f"{r.kid}/{r.request_id.removeprefix('urn:uuid:')}" for r in found[:5])
        raise ValidationError(
            f"{ref[:60]} names {len(found)} requests ({named}{', …' * (len(found) > 5)}): give more of the id, "
            "or the card's key id and a slash before it",
            field="ref",
            rule="unique",
        )
    return found[0]


def shown(engine: Engine, now: int) -> list[Shown]:
    """Every stored request, re-checked at ``now``, the most recently issued first."""
    with Session(engine) as session:
        cards = {card.kid: card for card in session.scalars(select(TrustCardRow))}
        against = matching.reference(session)
        rows = session.scalars(
            select(AgencyRequestRow).order_by(AgencyRequestRow.issued_ms.desc(), AgencyRequestRow.seq.desc())
        )
        return [_with_match(session, recheck(row, cards.get(row.kid), now), against) for row in rows]


def show(session: Session, ref: str, *, now: int, disk_bytes: int | None = None) -> Shown:
    """The request ``ref`` names (see :func:`find`), re-checked and matched at ``now``; the owner's
    viewing it is logged (``request.view``) in ``session``'s write transaction, and so is its match
    if this is the first time it is found (``request.match``); its footage is held if it should be
    and is not yet."""
    row = find(session, ref)
    seen = matched(session, row, now, note=True)
    _hold(session, seen, disk_bytes, now)
    audit.append(
        session,
        "request.view",
        {"kid": row.kid, "id": row.request_id, "standing": seen.standing},
        time_ms=now,
    )
    return seen


def matched(session: Session, row: AgencyRequestRow, now: int, *, note: bool = False) -> Shown:
    """``row`` re-checked and matched at ``now`` (in ``session``); with ``note``, a first match of a request in force is
    recorded (:func:`hub.community.matching.note`)."""
    seen = recheck(row, session.get(TrustCardRow, row.kid), now)
    seen = _with_match(session, seen, matching.reference(session))
    if note and seen.match is not None and seen.standing == "in_force" and row.status == "open":
        matching.note(session, row, seen.match, now=now)
    return seen


def _hold(session: Session, seen: Shown, disk_bytes: int | None, now: int) -> None:
    holds.consider(
        session,
        seen.row,
        seen.request,
        seen.match,
        in_force=seen.standing == "in_force",
        card_name=seen.card.name if seen.card is not None else seen.row.kid,
        disk_bytes=disk_bytes,
        now=now,
    )
    session.flush()


def _with_match(session: Session, seen: Shown, against: matching.Reference) -> Shown:
    if seen.request is None:
        return seen
    return dataclasses.replace(seen, match=matching.match(session, seen.request, against))


def _keys(session: Session) -> dict[str, TrustedKey]:
    return {
        card.kid: TrustedKey(trust.public_key(card), card.expires_ms, revoked=card.revoked_ms is not None)
        for card in session.scalars(select(TrustCardRow))
    }


def _held(session: Session, kid: str, request_id: str) -> AgencyRequestRow | None:
    return session.scalars(
        select(AgencyRequestRow).where(AgencyRequestRow.kid == kid, AgencyRequestRow.request_id == request_id)
    ).one_or_none()


def _refuse(session: Session, data: bytes, digest: str, label: str, why: Rejection, now: int) -> Imported:
    refusal = quarantine.hold(session, data, digest, label, why, now=now)
    return Imported("rejected" if refusal.new else "already_rejected", refused=refusal.row)


def _store(session: Session, request: Request, jws: str, digest: str, now: int) -> AgencyRequestRow:
    row = AgencyRequestRow(
        kid=request.kid,
        request_id=request.id,
        kind=str(request.kind),
        refers_to=request.refers_to,
        issued_ms=request.issued_ms,
        expires_ms=request.expires_ms,
        window_start_ms=request.window.start_ms if request.window else None,
        window_end_ms=request.window.end_ms if request.window else None,
        jws=jws,
        sha256=digest,
        imported_ms=now,
        status="open",
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        "request.import",
        {
            "kid": request.kid,
            "id": request.id,
            "kind": str(request.kind),
            "sha256": digest,
            "issued": format_ms(request.issued_ms),
            "expires": format_ms(request.expires_ms),
            **({"case": request.case} if request.case else {}),
            **({"refers_to": request.refers_to} if request.refers_to else {}),
        },
        time_ms=now,
    )
    return row


def _close_target(session: Session, row: AgencyRequestRow, now: int) -> tuple[str, ...]:
    """Close the earlier request of the same card that ``row`` refers to, if it is held and open."""
    if row.refers_to is None:
        return ()
    target = _held(session, row.kid, row.refers_to)
    if target is None or target.status != "open":
        return ()
    _close(session, target, row, now)
    return (target.request_id,)


def _close_if_referred(session: Session, row: AgencyRequestRow, now: int) -> None:
    """Close ``row`` at once if a file of its card imported before it refers to it."""
    closer = session.scalars(
        select(AgencyRequestRow)
        .where(AgencyRequestRow.kid == row.kid, AgencyRequestRow.refers_to == row.request_id)
        .where(AgencyRequestRow.seq != row.seq)
        .order_by(AgencyRequestRow.seq)
        .limit(1)
    ).one_or_none()
    if closer is not None and row.status == "open":
        _close(session, row, closer, now)


def _close(session: Session, target: AgencyRequestRow, closer: AgencyRequestRow, now: int) -> None:
    how: holds.Released = "withdrawn" if closer.kind == Kind.WITHDRAWAL else "replaced"
    target.status, target.closed_by, target.closed_ms = how, closer.request_id, now
    session.flush()
    audit.append(
        session,
        "request.withdraw",
        {"kid": target.kid, "id": target.request_id, "by": closer.request_id, "how": how},
        time_ms=now,
    )
    holds.close(session, target, how, now=now)
    logger.info("the request %s was %s by %s", target.request_id, how, closer.request_id)


def recheck(row: AgencyRequestRow, card: TrustCardRow | None, now: int) -> Shown:
    """The stored request ``row`` read again with the key of ``card`` (its card, as held now) and
    judged at ``now``."""
    if card is None:
        return Shown(row, None, None, "altered", f"the card {row.kid} that verified it is not in the index")
    content = read_verified(row.jws, row.kid, trust.public_key(card))
    if isinstance(content, Rejection):
        return Shown(row, None, card, "altered", f"the stored file no longer verifies: {content.message}")
    if (
        content.id != row.request_id
        or hashlib.sha256(row.jws.encode("utf-8", "surrogatepass")).hexdigest() != row.sha256
    ):
        return Shown(row, None, card, "altered", "the stored file is not the one imported under this id")
    standing: Standing = (
        "card_revoked"
        if card.revoked_ms is not None
        else "card_expired"
        if now >= card.expires_ms
        else "expired"
        if now >= content.expires_ms
        else "in_force"
    )
    return Shown(row, content, card, standing)
