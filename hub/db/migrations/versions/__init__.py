"""Alembic revisions of the index, oldest first (``0001_initial.py``, ...)."""
