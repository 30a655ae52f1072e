"""An index as an older release left it: migrated only up to a given revision, for the tests that
upgrade it with what it holds."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from hub.db.upgrade import MIGRATIONS_DIR, current_revision, migrate


def migrate_to(engine: Engine, revision: str, tmp_path: Path) -> None:
    """Migrate ``engine``'s index up to ``revision`` (a copy of the migrations without the later ones)."""
    old = tmp_path / f"scripts-{revision}"
    later = [p.name for p in (MIGRATIONS_DIR / "versions").glob("0*.py") if p.name[:4] > revision]
    shutil.copytree(MIGRATIONS_DIR, old, ignore=shutil.ignore_patterns("__pycache__", *later))
    migrate(engine, backup_dir=tmp_path / "backups", script_location=old)
    assert current_revision(engine) == revision


def insert_old_alert(conn: Connection) -> None:
    """Store an alert as revision 0006 knew requests (id urn:uuid:x), by SQL."""
    conn.execute(
        text(
            "INSERT INTO agency_request (kid, request_id, kind, issued_ms, expires_ms, jws, sha256,"
            " imported_ms, status) VALUES ('k', 'urn:uuid:x', 'alert', 1, 2, 'j', 's', 3, 'open')"
        )
    )
