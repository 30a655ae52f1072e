"""Alembic environment for the index.

Normally run by :func:`hub.db.upgrade.migrate`, which passes an open connection (already inside the
locked upgrade transaction) as ``config.attributes["connection"]``. For development tools a URL may
be given instead as the main option ``sqlalchemy.url``; then an engine is opened here.
No logging configuration happens here: the application owns logging.
"""

from __future__ import annotations

from alembic import context

from hub.db.schema import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        transactional_ddl=True,  # SQLite too: hub.db.engine emits BEGIN, so DDL is transactional
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection (or on a fresh engine from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from hub.db.engine import open_engine

    engine = open_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; give a database URL")
run_migrations_online()
