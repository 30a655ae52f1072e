"""Alembic migrations of the index (run by :func:`hub.db.upgrade.migrate`; no alembic.ini)."""
