"""Engines for the index: SQLite by default (WAL, foreign keys, busy timeout), PostgreSQL by URL.

SQLite transactions are begun by SQLAlchemy, not by the ``sqlite3`` module (whose legacy mode would
run DDL and SELECTs outside any transaction): reads use ``BEGIN`` (deferred, never blocking in WAL),
writes go through :func:`write_engine` and use ``BEGIN IMMEDIATE``, so a writer takes the file's write
lock up front and waits for it with the busy timeout instead of failing half-way through.

:func:`hub.db.upgrade.migrate` brings the schema to the newest Alembic revision; this module knows
nothing of migrations (upgrade imports it, never the reverse).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

logger = logging.getLogger(__name__)

DB_FILENAME = "porchlight.db"
BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "porchlight_write"  # execution option: this connection's transactions write


def default_sqlite_url(data_dir: Path) -> str:
    """The URL of the default index, ``<data_dir>/porchlight.db``."""
    return URL.create("sqlite+pysqlite", database=str(Path(data_dir) / DB_FILENAME)).render_as_string()


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def sqlite_path(engine: Engine) -> Path | None:
    """The file behind a SQLite engine; None for PostgreSQL and in-memory databases."""
    if not is_sqlite(engine):
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def open_engine(url: str) -> Engine:
    """Create the engine for ``url``: SQLite gets its pragmas and transaction hooks, others pool_pre_ping."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(parsed, pool_pre_ping=True)
        logger.debug("opened %s index at %s", engine.dialect.name, parsed.render_as_string())
        return engine
    engine = create_engine(parsed)
    path = sqlite_path(engine)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    logger.debug("opened SQLite index at %s", path or ":memory:")
    return engine


def write_engine(engine: Engine) -> Engine:
    """A view of ``engine`` (same pool) whose transactions take the write lock when they begin."""
    if engine.get_execution_options().get(WRITE_OPTION):
        return engine
    return engine.execution_options(**{WRITE_OPTION: True})


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """Per-connection pragmas; hand transaction control to SQLAlchemy (see the module docstring)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        mode = cursor.fetchone()
        if mode and str(mode[0]).lower() not in ("wal", "memory"):
            logger.warning("SQLite refused WAL mode (journal_mode is %s)", mode[0])
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    """Emit BEGIN ourselves: IMMEDIATE for write connections, deferred for reads."""
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
