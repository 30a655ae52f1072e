"""Write transactions: the one way to run repo write functions outside the DB writer's thread.

Every write function of the repo takes a Session and never commits, so writes compose: several go
into one transaction. They run either on the hub's DB writer (the hot path: segments, events and
status, batched: ``writer.submit(repo.insert_segment, row)``) or, for everything else (config
changes, recovery, one-off commands), through :func:`run_write`, which opens a write transaction,
commits it and re-runs it on a transient conflict. Work that must follow the commit (a log line, and
later a published event) is registered with :func:`after_commit`; :func:`serialize_writes` orders
writers of one kind across processes.

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
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.db.engine import WRITE_OPTION, write_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

RETRY_ATTEMPTS = 8
_PG_TRANSIENT = {"40001", "40P01", "55P03"}  # serialization_failure, deadlock_detected, lock_not_available
_AFTER_COMMIT = "porchlight_after_commit"  # session.info key: callables to run once committed


def is_transient(exc: BaseException) -> bool:
    """True for lock/serialization conflicts that succeed when the transaction is simply re-run."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    return getattr(orig, "sqlstate", None) in _PG_TRANSIENT


def backoff_s(attempt: int) -> float:
    """Sleep before retry number ``attempt`` (0-based): 50 ms doubling to 1 s, with jitter."""
    return min(1.0, 0.05 * 2.0**attempt) * random.uniform(0.5, 1.0)


def new_write_session(engine: Engine) -> Session:
    """A session whose transactions take the write lock up front (SQLite ``BEGIN IMMEDIATE``)."""
    return Session(write_engine(engine), expire_on_commit=False, autoflush=True)


def run_write(
    engine: Engine, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``fn(session, *args, **kwargs)`` in its own write transaction and commit; return its result.

    A transient conflict re-runs the whole transaction (each attempt has a fresh session, so work
    registered with :func:`after_commit` by a failed attempt is dropped). Other errors roll back and
    are raised as they are.
    """
    for attempt in range(RETRY_ATTEMPTS):
        try:
            with new_write_session(engine) as session:
                with session.begin():
                    result = fn(session, *args, **kwargs)
                run_after_commit(session)
                return result
        except DBAPIError as exc:
            if not is_transient(exc) or attempt == RETRY_ATTEMPTS - 1:
                raise
            delay = backoff_s(attempt)
            logger.warning("write conflict (%s); retrying in %.2f s", exc.orig, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def after_commit(session: Session, fn: Callable[[], object]) -> None:
    """Run ``fn()`` once this session's transaction has committed; never if it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


def run_after_commit(session: Session) -> None:
    """Run (and forget) what was registered with :func:`after_commit`; for the transaction's owner."""
    for fn in session.info.pop(_AFTER_COMMIT, ()):
        try:
            fn()
        except Exception:  # noqa: BLE001 - the data is committed; a failed follow-up must not hide that
            logger.exception("after-commit callback %r failed", fn)


def serialize_writes(session: Session, key: int) -> None:
    """Hold ``key``'s lock until this transaction ends, so writers of one kind run one at a time.

    SQLite needs no more: a write transaction (``BEGIN IMMEDIATE``) already holds the file's only
    write lock, so a session that is not one (not from :func:`new_write_session`) is a bug, raised as
    RuntimeError. PostgreSQL takes a transaction-level advisory lock: a second writer waits for the
    first to commit and then reads what it wrote (READ COMMITTED), so check-then-insert stays correct.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif bind.dialect.name == "sqlite" and not bind.get_execution_options().get(WRITE_OPTION):
        raise RuntimeError("this needs a write transaction (hub.db.tx.run_write or the DB writer)")
