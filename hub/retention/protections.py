"""Protecting footage from retention, with a reason (star, evidence, hold).

Each protection is its own row (hub/db/repo_protect.py): a window of one camera's footage. Footage
stays kept while any protection covers it, so releasing one never releases what another one keeps (a
star on a clip that was also shared as evidence stays evidence). Stars and evidence are kept whatever
the disk; holds are released when the disk is full (hub/retention/worker.py). One is released by
:func:`hub.community.holds.release_protection`, which logs the release of a request's hold.
"""

from __future__ import annotations

from typing import get_args

from sqlalchemy import Engine

from hub.core.errors import ValidationError
from hub.core.model import Protection, ProtectReason
from hub.core.validation import check_one_of, check_window
from hub.db import repo_protect
from hub.db.tx import run_write

MAX_NOTE = 1000  # characters


def protect(
    engine: Engine, camera_id: str, start_ms: int, end_ms: int, reason: str, note: str = ""
) -> Protection:
    """Store a protection of ``camera_id``'s footage in ``[start_ms, end_ms)``; return it with its id.
    The window may reach into the future: footage recorded into it later is kept too."""
    check_one_of(reason, get_args(ProtectReason), field="reason", noun="protection reason", nouns="reasons")
    if start_ms < 0:
        raise ValidationError("the window must not start before 1970", field="start_ms", rule="min")
    check_window(start_ms, end_ms)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValidationError(f"a note has at most {MAX_NOTE} characters", field="note", rule="too_long")
    new = Protection(None, camera_id, start_ms, end_ms, reason, note)  # type: ignore[arg-type]
    return run_write(engine, repo_protect.add_protection, new)
