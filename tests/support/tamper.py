"""Tampering with an index as someone holding the file would: SQL run with sqlite3 directly, never
through hub code."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def sql(data: Path, *statements: str) -> None:
    """Run ``statements`` on ``data``'s index (``porchlight.db``) in one transaction."""
    db = sqlite3.connect(data / "porchlight.db")
    try:
        with db:
            for statement in statements:
                db.execute(statement)
    finally:
        db.close()
