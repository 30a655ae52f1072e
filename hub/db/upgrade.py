"""Alembic upgrades run from code: no alembic.ini, a lock against concurrent upgrades, backup first.

The whole upgrade runs in one transaction that holds the database's write lock (SQLite: ``BEGIN
IMMEDIATE`` with a long busy timeout; PostgreSQL: a transaction-level advisory lock), so two processes
starting at once cannot both upgrade: the second waits, then finds the index at head. SQLite and
PostgreSQL both have transactional DDL, so a failed upgrade leaves the index as it was.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text

from hub.db.engine import BUSY_TIMEOUT_MS, is_sqlite, sqlite_path, write_engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
LOCK_WAIT_MS = 10 * 60 * 1000  # how long a second process waits for a running upgrade
PG_LOCK_KEY = 0x506F7263  # "Porc": advisory lock id for upgrades


def alembic_config(script_location: Path | None = None) -> Config:
    """An in-memory Alembic config pointing at the packaged migrations (or ``script_location``)."""
    config = Config()
    config.set_main_option("script_location", str(script_location or MIGRATIONS_DIR))
    return config


def head_revision(script_location: Path | None = None) -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config(script_location)).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The index's revision; None for an empty (never migrated) database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, *, backup_dir: Path | None = None, script_location: Path | None = None) -> None:
    """Upgrade the index to the newest revision; back up an existing SQLite file first.

    The backup (``<db name>.bak-<from-rev>-<UTC time>``) goes to ``backup_dir``, or next to the
    database when None. Concurrent callers (threads or processes) are serialized: one upgrades, the
    others wait and then find nothing to do. ``script_location`` replaces the packaged migrations
    (tests, tools).
    """
    config = alembic_config(script_location)
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    with _locked_transaction(engine) as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        if current == heads:
            logger.debug("index is at head %s", ",".join(sorted(heads)))
            return
        for rev in current:
            try:
                script.get_revision(rev)
            except CommandError:
                raise RuntimeError(
                    f"the index is at revision {rev}, which this version of Porchlight does not know "
                    "(it was written by a newer version); upgrade Porchlight or use a backup"
                ) from None
        from_rev = "+".join(sorted(current)) or "none"
        db_path = sqlite_path(engine)
        if db_path is not None and _has_tables(conn):
            target_dir = Path(backup_dir) if backup_dir is not None else db_path.parent
            backup_sqlite(db_path, target_dir / backup_name(db_path, from_rev))
        logger.info("upgrading the index from %s to %s", from_rev, ",".join(sorted(heads)))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
    logger.info("index upgraded to %s", ",".join(sorted(heads)))


def backup_name(db_path: Path, from_rev: str, now: _dt.datetime | None = None) -> str:
    """``porchlight.db.bak-<from-rev>-<UTC timestamp>``."""
    stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{db_path.name}.bak-{from_rev}-{stamp}"


def backup_sqlite(db_path: Path, target: Path) -> Path:
    """Copy the SQLite database ``db_path`` to ``target`` with SQLite's online backup API.

    Reads through a connection of its own (SQLite refuses to back up from a connection that holds
    the write lock). During an upgrade the caller holds that lock, so nothing changes during the
    copy. The copy is written to a temporary name and renamed: a file with the final name is complete.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    os.replace(partial, target)
    logger.info("backed up the index to %s before upgrading", target)
    return target


def _has_tables(conn: Connection) -> bool:
    count = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).scalar_one()
    return bool(count)


@contextmanager
def _locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that holds the upgrade lock; rolled back unless committed."""
    with write_engine(engine).connect() as conn:
        if is_sqlite(engine):
            raw = conn.connection.driver_connection
            assert raw is not None  # an open pooled connection has its sqlite3 one
            raw.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
            try:
                conn.begin()  # BEGIN IMMEDIATE: waits while another process upgrades
            finally:
                raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        elif engine.dialect.name == "postgresql":
            conn.begin()
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        else:
            conn.begin()  # no lock known for this database: concurrent upgrades are the caller's problem
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
