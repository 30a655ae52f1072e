"""Holds: the footage an agency request under review matches, kept from retention until the owner
decides or the request ends.

A hold is a protection with the reason "hold" (:mod:`hub.retention.protections`), one per camera
with footage in the request's window, naming its request (``protection.request_seq``). Footage a
star or evidence also keeps stays kept when a hold goes, and the other way round.

**Which requests.** When a request is imported or shown, it is held if the owner's setting
``hold_requests`` is on, it is a footage request, verified and in force, still open, its area is not
known to be elsewhere (inside, not checked, or none given), the owner's rules do not hide it, and
there is footage in its window. Anything else is "not_held", with the reason: never a hold for a
file that did not verify (it is in the quarantine, not here) or an area that does not match.

**The cap.** Holds never keep more than ``hold_cap_percent`` (20 % unless the owner changes it) of
the disk quota, or of the disk with no quota: a hold that would pass it is not placed ("cap"), and
the request shows that it is not held. Holds are kept by every retention rule but a full disk: when
deleting every unprotected recording is not enough, the retention worker releases holds, the oldest
first (:func:`release_oldest`), so a hold never stops recording. Stars and evidence are never
released.

**Release.** A hold is released, and never placed again for that request, when the request is
withdrawn or replaced, expires, its card expires or is revoked (:func:`sweep`, run before every
retention pass and whenever requests are listed or shown), when the owner decides (declined or
shared), when a full disk needs its space, or when the owner releases it. Placing a hold and
releasing one append an audit entry (``hold.add``, ``hold.release``) in the same transaction.
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community import audit, matching, rules
from hub.community.formats.request import Kind, Request
from hub.core.model import Protection
from hub.core.settings import Settings
from hub.db import repo_protect
from hub.db.repo_config import read_settings
from hub.db.schema import AgencyRequestRow, TrustCardRow
from hub.db.tx import run_write, serialize_writes

__all__ = [
    "NotHeld",
    "Released",
    "bytes_held",
    "changes",
    "close",
    "cap_bytes",
    "consider",
    "due",
    "release",
    "release_oldest",
    "release_ended",
    "release_protection",
    "sweep",
]

logger = logging.getLogger(__name__)

#: Why a request's footage is not held.
NotHeld = Literal[
    "off",  # the owner's setting hold_requests is off
    "not_footage",  # an alert or a withdrawal asks for no footage
    "not_in_force",  # expired, its card expired or revoked, or no longer verifies
    "closed",  # withdrawn, replaced or decided
    "area_outside",  # its area does not include the home location
    "hidden",  # the owner's rules hide it
    "no_footage",  # nothing recorded in its window
    "cap",  # holding it would pass the cap
]
#: Why a request's hold was released.
Released = Literal[
    "withdrawn",
    "replaced",
    "expired",
    "card_expired",
    "card_revoked",
    "declined",
    "shared",
    "disk_full",
    "owner",
]


_CHANGED = "porchlight_holds_changed"  # session.info key: the holds placed and released in it


def changes(session: Session) -> list[tuple[Protection, bool]]:
    """The holds placed (False) and released (True) in ``session`` so far, for the caller to announce
    once committed; each is returned once."""
    return list(session.info.pop(_CHANGED, []))


def _changed(session: Session, protections: list[Protection], *, released: bool) -> None:
    session.info.setdefault(_CHANGED, []).extend((p, released) for p in protections)


def cap_bytes(settings: Settings, disk_bytes: int | None) -> int | None:
    """The most footage holds may keep: ``hold_cap_percent`` of the quota, or of the disk's size
    (``disk_bytes``) with no quota; None when neither is known."""
    base = settings.quota_bytes if settings.quota_bytes is not None else disk_bytes
    return None if base is None else int(base * settings.hold_cap_percent / 100)


def consider(
    session: Session,
    row: AgencyRequestRow,
    content: Request | None,
    found: matching.Match | None,
    *,
    in_force: bool,
    card_name: str,
    disk_bytes: int | None,
    now: int,
) -> None:
    """Hold ``row``'s footage if it should be and is not yet (see the module docstring); a request
    released once is never held again. ``content`` is the request as verified now and ``found`` its
    match (both None when it no longer verifies)."""
    if row.hold_state in ("held", "released"):
        return
    settings = read_settings(session)
    why = _not_held(session, row, content, found, in_force, settings)
    if why is None and found is not None:
        placed = [
            repo_protect.add_protection(
                session,
                Protection(
                    None,
                    f.camera_id,
                    int(row.window_start_ms or 0),
                    int(row.window_end_ms or 0),
                    "hold",
                    f"held for the request {_ref(row)} of {card_name}",
                    now,
                    row.seq,
                ),
            )
            for f in found.footage
            if f.covered_ms > 0
        ]
        session.flush()
        cap = cap_bytes(settings, disk_bytes)
        if cap is None or repo_protect.held_bytes(session) > cap:
            repo_protect.remove(session, _ids(placed))
            why = "cap"
        else:
            _changed(session, placed, released=False)
            row.hold_state, row.hold_why, row.hold_ms = "held", None, now
            held = repo_protect.bytes_by_request(session, [row.seq]).get(row.seq, 0)
            audit.append(
                session,
                "hold.add",
                {"kid": row.kid, "id": row.request_id, "cameras": len(placed), "bytes": held},
                time_ms=now,
            )
            logger.info("footage held for the request %s (%d bytes)", row.request_id, held)
            return
    if (row.hold_state, row.hold_why) != ("not_held", why):
        row.hold_state, row.hold_why, row.hold_ms = "not_held", why, now


def release(session: Session, row: AgencyRequestRow, why: Released, *, now: int) -> list[Protection]:
    """Release every hold of ``row`` (nothing when it holds none) and log it; the holds released."""
    if row.hold_state != "held":
        return []
    gone = repo_protect.request_holds(session, row.seq)
    held = repo_protect.bytes_by_request(session, [row.seq]).get(row.seq, 0)
    repo_protect.remove(session, _ids(gone))
    _changed(session, gone, released=True)
    row.hold_state, row.hold_why, row.hold_ms = "released", why, now
    session.flush()
    audit.append(
        session,
        "hold.release",
        {"kid": row.kid, "id": row.request_id, "why": why, "bytes": held},
        time_ms=now,
    )
    log = logger.warning if why == "disk_full" else logger.info
    log("the hold on the request %s was released (%s): %d bytes no longer held", row.request_id, why, held)
    return gone


def close(session: Session, row: AgencyRequestRow, why: Released, *, now: int) -> list[Protection]:
    """``row`` was withdrawn, replaced or decided: release its holds, or, when it held nothing, say
    that it never will ("closed"); the holds released."""
    if row.hold_state == "held":
        return release(session, row, why, now=now)
    if row.hold_state != "released":
        row.hold_state, row.hold_why, row.hold_ms = "not_held", "closed", now
    return []


def release_protection(session: Session, protection_id: int, *, now: int) -> Protection:
    """The owner releases one protection; a request's hold is logged, and when it was the request's
    last one, the request is no longer held ("owner")."""
    serialize_writes(session, audit.LOCK_KEY)
    gone = repo_protect.release_protection(session, protection_id)
    if gone.request_seq is None:
        return gone
    row = session.get(AgencyRequestRow, gone.request_seq)
    if row is None:
        return gone
    audit.append(
        session,
        "hold.release",
        {"kid": row.kid, "id": row.request_id, "why": "owner", "camera": gone.camera_id},
        time_ms=now,
    )
    if row.hold_state == "held" and not repo_protect.request_holds(session, row.seq):
        row.hold_state, row.hold_why, row.hold_ms = "released", "owner", now
    return gone


def release_oldest(session: Session, *, need_bytes: int, now: int) -> list[Protection]:
    """A full disk needs ``need_bytes``: release holds, the one placed first first (all of a
    request's holds together), until what they kept adds up to it or none is left; the holds
    released. What they kept is counted without what a star or evidence keeps, but another hold
    may still keep some of it: the caller plans again and asks for more if need be."""
    serialize_writes(session, audit.LOCK_KEY)
    gone: list[Protection] = []
    freed = 0
    while freed < need_bytes and (oldest := repo_protect.oldest_hold(session)) is not None:
        row = session.get(AgencyRequestRow, oldest.request_seq) if oldest.request_seq is not None else None
        if row is not None and row.hold_state == "held":
            freed += repo_protect.freed_by(session, _ids(repo_protect.request_holds(session, row.seq)))
            gone += release(session, row, "disk_full", now=now)
            continue
        freed += repo_protect.freed_by(session, _ids([oldest]))  # a hold placed by hand
        repo_protect.remove(session, _ids([oldest]))
        _changed(session, [oldest], released=True)
        logger.warning("a hold of %s's footage was released: the disk is full", oldest.camera_id)
        gone.append(oldest)
    return gone


def due(session: Session, now: int) -> list[tuple[AgencyRequestRow, Released]]:
    """The held requests whose hold must go now (closed, expired, card expired or revoked)."""
    found = session.execute(
        select(AgencyRequestRow, TrustCardRow)
        .outerjoin(TrustCardRow, TrustCardRow.kid == AgencyRequestRow.kid)
        .where(AgencyRequestRow.hold_state == "held")
        .order_by(AgencyRequestRow.seq)
    ).all()
    ended: list[tuple[AgencyRequestRow, Released]] = []
    for row, card in found:
        why = _ended(row, card, now)
        if why is not None:
            ended.append((row, why))
    return ended


def release_ended(engine: Engine, now: int) -> list[Protection]:
    """:func:`sweep` in a write transaction of its own, only when a read finds a hold due (so that
    the retention worker's passes and listing requests take no write lock otherwise); the holds
    released."""
    with Session(engine) as session:
        if not due(session, now):
            return []
    return run_write(engine, sweep, now=now)


def bytes_held(engine: Engine, request_seqs: list[int]) -> dict[int, int]:
    """Per held request (its index row): the bytes of the recordings its holds keep now."""
    with Session(engine) as session:
        return repo_protect.bytes_by_request(session, request_seqs)


def sweep(session: Session, *, now: int) -> list[Protection]:
    """Release the holds of every request that ended (see :func:`due`); the holds released."""
    serialize_writes(session, audit.LOCK_KEY)  # two hubs sharing an index release each hold once
    gone: list[Protection] = []
    for row, why in due(session, now):
        gone += release(session, row, why, now=now)
    return gone


def _ended(row: AgencyRequestRow, card: TrustCardRow | None, now: int) -> Released | None:
    if row.status in ("withdrawn", "replaced", "declined", "shared"):
        return row.status  # type: ignore[return-value]
    if card is not None and card.revoked_ms is not None:
        return "card_revoked"
    if card is not None and card.expires_ms <= now:
        return "card_expired"
    if row.expires_ms <= now:
        return "expired"
    return None


def _not_held(
    session: Session,
    row: AgencyRequestRow,
    content: Request | None,
    found: matching.Match | None,
    in_force: bool,
    settings: Settings,
) -> NotHeld | None:
    if not settings.hold_requests:
        return "off"
    if row.kind != str(Kind.FOOTAGE_REQUEST):
        return "not_footage"
    if row.status != "open":
        return "closed"
    if not in_force or content is None or found is None:
        return "not_in_force"
    if found.area == "outside":
        return "area_outside"
    if rules.hiding(rules.current(session), row, content, bool(found.overbroad)):
        return "hidden"
    if found.covered_ms <= 0:
        return "no_footage"
    return None


def _ids(protections: list[Protection]) -> list[int]:
    return [p.id for p in protections if p.id is not None]


def _ref(row: AgencyRequestRow) -> str:
    return row.request_id.removeprefix("urn:uuid:")
