"""Alembic migrations of the index (run by :func:`hub.db.engine.migrate`; no alembic.ini)."""
