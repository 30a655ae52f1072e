"""The owner's decisions on agency requests: declining one (sharing comes with the evidence package).

A decline is known to the owner alone. It changes the request's status in the index and appends a
``request.decline`` entry to the audit log, in one write transaction, and releases the footage the
request held; nothing else is written, nothing is sent, and the agency is never told: a request it
hears nothing about looks the same whether it was declined, is still being considered, or was never
read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from hub.community import audit, holds, requests
from hub.community.formats.fields import FormatError, plain_text
from hub.community.formats.request import Kind
from hub.core.errors import ConflictError, Rule, ValidationError
from hub.core.times import format_ms
from hub.db.tx import serialize_writes

__all__ = ["NOTE_MAX", "Decided", "Outcome", "decline"]

logger = logging.getLogger(__name__)

#: The longest note the owner may keep with a decision.
NOTE_MAX = 500
Outcome = Literal["declined", "already_declined"]


@dataclass(frozen=True)
class Decided:
    """What a decision did, and the request as it stands now."""

    outcome: Outcome
    shown: requests.Shown


def decline(session: Session, ref: str, note: str = "", *, now: int) -> Decided:
    """Decline the footage request ``ref`` names (see :func:`hub.community.requests.find`), with the
    owner's ``note`` kept in the index and the log. A request declined already is left as it is
    ("already_declined"); one the agency withdrew or replaced is a ConflictError, an alert a
    ValidationError: neither asks for anything to decide."""
    serialize_writes(session, audit.LOCK_KEY)
    text = _note(note)
    row = requests.find(session, ref)
    if row.kind != Kind.FOOTAGE_REQUEST:
        raise ValidationError(
            f"{row.request_id} is {'an alert' if row.kind == Kind.ALERT else 'a withdrawal'}: it asks for no "
            "footage, so there is nothing to decline",
            field="ref",
            rule="one_of",
        )
    if row.status == "declined":
        return Decided("already_declined", requests.matched(session, row, now))
    if row.status != "open":
        raise ConflictError(
            f"the agency {row.status} the request {row.request_id} ({format_ms(row.closed_ms)}): "
            "there is nothing left to decide"
        )
    seen = requests.matched(session, row, now)
    row.status, row.closed_ms, row.note = "declined", now, text
    session.flush()
    audit.append(
        session,
        "request.decline",
        {"kid": row.kid, "id": row.request_id, "standing": seen.standing, **({"note": text} if text else {})},
        time_ms=now,
    )
    holds.close(session, row, "declined", now=now)
    logger.info("the owner declined the request %s", row.request_id)
    return Decided("declined", seen)  # its row is the one just changed; its match is unchanged


def _note(note: str) -> str | None:
    try:
        text = plain_text(note, "note", max_chars=NOTE_MAX, empty=True, multiline=True).strip()
    except FormatError as exc:
        rule: Rule = "too_long" if len(note) > NOTE_MAX else "format"
        raise ValidationError(
            str(exc).replace("the member 'note'", "the note"), field="note", rule=rule
        ) from None
    return text or None
