"""Write transactions with retry: what counts as a transient conflict, and a helper that retries it.

Transient: SQLite "database is locked"/"busy" (another process held the write lock past the busy
timeout) and PostgreSQL serialization failures, deadlocks and lock timeouts. Everything else is a
real error and is raised at once.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.db.engine import write_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_ATTEMPTS = 8
_PG_TRANSIENT = {"40001", "40P01", "55P03"}  # serialization_failure, deadlock_detected, lock_not_available


def is_transient(exc: BaseException) -> bool:
    """True for lock/serialization conflicts that succeed when the transaction is simply re-run."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    return getattr(orig, "sqlstate", None) in _PG_TRANSIENT


def backoff_s(attempt: int) -> float:
    """Sleep before retry number ``attempt`` (0-based): 50 ms doubling to 1 s, with jitter."""
    return min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0)


def new_write_session(engine: Engine) -> Session:
    """A session whose transactions take the write lock up front (SQLite ``BEGIN IMMEDIATE``)."""
    return Session(write_engine(engine), expire_on_commit=False, autoflush=True)


def run_write(engine: Engine, fn: Callable[[Session], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run ``fn(session)`` in its own write transaction and commit; re-run it on transient conflicts."""
    for attempt in range(attempts):
        try:
            with new_write_session(engine) as session, session.begin():
                return fn(session)
        except DBAPIError as exc:
            if not is_transient(exc) or attempt == attempts - 1:
                raise
            delay = backoff_s(attempt)
            logger.warning("write conflict (%s); retrying in %.2f s", exc.orig, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")
