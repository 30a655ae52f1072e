"""Engine pragmas, migrations (fresh, backup first, rollback, concurrency) and schema drift."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from hub.core.model import CameraConfig, Segment
from hub.db import repo, repo_protect
from hub.db.engine import default_sqlite_url, open_engine, sqlite_path
from hub.db.schema import Base
from hub.db.tx import run_write
from hub.db.upgrade import MIGRATIONS_DIR, current_revision, head_revision, migrate
from tests.support.migrations import migrate_to

pytest_plugins = ["tests.support.postgres"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_default_url_and_parent_dir(tmp_path: Path) -> None:
    data = tmp_path / "not" / "yet"
    url = default_sqlite_url(data)
    assert url.endswith(str(data / "porchlight.db"))
    engine = open_engine(url)
    try:
        assert data.is_dir()
        assert sqlite_path(engine) == data / "porchlight.db"
    finally:
        engine.dispose()


def test_sqlite_pragmas_on_every_connection(tmp_path: Path) -> None:
    engine = open_engine(default_sqlite_url(tmp_path))
    try:
        for _ in range(2):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            engine.dispose()  # the second round gets a brand-new connection
    finally:
        engine.dispose()


def test_foreign_keys_enforced(db_engine: Engine) -> None:
    seg = Segment(None, "no-such-camera", "x/a.mp4", 0, 10_000, 1)
    with pytest.raises(IntegrityError):
        run_write(db_engine, repo.insert_segment, seg)


def test_migrate_fresh_makes_no_backup(tmp_path: Path) -> None:
    engine = open_engine(default_sqlite_url(tmp_path / "data"))
    backups = tmp_path / "backups"
    try:
        assert current_revision(engine) is None
        migrate(engine, backup_dir=backups)
        assert current_revision(engine) == head_revision()
        assert head_revision() == sorted(f.name[:4] for f in (MIGRATIONS_DIR / "versions").glob("0*.py"))[-1]
        migrate(engine, backup_dir=backups)  # at head: nothing to do, still no backup
        assert not backups.exists() or not any(backups.iterdir())
        assert set(inspect(engine).get_table_names()) >= {"camera", "segment", "event", "meta"}
    finally:
        engine.dispose()


def test_schema_matches_models(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_are_package_data() -> None:
    files = resources.files("hub.db.migrations")
    assert files.joinpath("env.py").is_file()
    assert files.joinpath("versions", "0001_initial.py").is_file()
    assert MIGRATIONS_DIR.is_dir()


def _scripts_with(tmp_path: Path, body: str) -> Path:
    """A copy of the packaged migrations plus a revision 9999 (after the packaged head) whose
    upgrade() runs ``body``."""
    scripts = tmp_path / "scripts"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    header = textwrap.dedent(f'''
        """Test revision."""
        import time

        import sqlalchemy as sa
        from alembic import op

        revision = "9999"
        down_revision = "{head_revision()}"
        branch_labels = None
        depends_on = None


        def upgrade():
        ''')
    body = textwrap.indent(textwrap.dedent(body), "    ")
    (scripts / "versions" / "9999_extra.py").write_text(header + body + "\n\ndef downgrade():\n    pass\n")
    return scripts


ADD_TABLE = """
op.create_table("extra", sa.Column("id", sa.Integer, primary_key=True))
"""


def test_backup_before_upgrading_an_older_index(tmp_path: Path) -> None:
    engine = open_engine(default_sqlite_url(tmp_path / "data"))
    backups = tmp_path / "backups"
    try:
        migrate(engine, backup_dir=backups)  # at the packaged head
        run_write(engine, repo.add_camera, CameraConfig(id="", name="Porch"))
        migrate(engine, backup_dir=backups, script_location=_scripts_with(tmp_path, ADD_TABLE))
        assert current_revision(engine) == "9999"
        assert "extra" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    found = list(backups.iterdir())
    assert len(found) == 1
    assert re.fullmatch(rf"porchlight\.db\.bak-{head_revision()}-\d{{8}}T\d{{6}}Z", found[0].name)
    with sqlite3.connect(found[0]) as backup:
        assert backup.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        assert backup.execute("SELECT id FROM camera").fetchall() == [("porch",)]
        tables = {r[0] for r in backup.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "extra" not in tables
    backup_engine = open_engine(f"sqlite:///{found[0]}")
    try:  # the copy is a complete, usable index
        assert [c.name for c in repo.list_cameras(backup_engine)] == ["Porch"]
    finally:
        backup_engine.dispose()


def test_failed_upgrade_leaves_the_index_unchanged(db_url: str, tmp_path: Path) -> None:
    engine = open_engine(db_url)
    try:
        migrate(engine, backup_dir=tmp_path / "backups")
        failing = _scripts_with(tmp_path, ADD_TABLE + 'raise RuntimeError("boom")\n')
        with pytest.raises(RuntimeError, match="boom"):
            migrate(engine, backup_dir=tmp_path / "backups", script_location=failing)
        assert current_revision(engine) == head_revision()
        assert "extra" not in inspect(engine).get_table_names()  # DDL was rolled back
    finally:
        engine.dispose()


def test_newer_index_is_refused(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(RuntimeError, match="newer version"):
        migrate(db_engine)


MIGRATE_CHILD = """
import sys, time
from pathlib import Path
from hub.db.engine import open_engine
from hub.db.upgrade import migrate
url, scripts, backups, go = sys.argv[1:5]
engine = open_engine(url)
while not Path(go).exists():
    time.sleep(0.005)
migrate(engine, backup_dir=Path(backups), script_location=Path(scripts))
engine.dispose()
"""


def test_two_processes_migrate_at_once(db_url: str, tmp_path: Path) -> None:
    engine = open_engine(db_url)
    backups = tmp_path / "backups"
    try:
        migrate(engine, backup_dir=backups)
        # a slow upgrade that fails if it runs twice (the table would already exist)
        scripts = _scripts_with(tmp_path, ADD_TABLE + "time.sleep(1.0)\n")
        go = tmp_path / "go"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE_CHILD, db_url, str(scripts), str(backups), str(go)],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        go.touch()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
        assert current_revision(engine) == "9999"
        if engine.dialect.name == "sqlite":
            assert len(list(backups.iterdir())) == 1  # only one process upgraded
    finally:
        engine.dispose()


def test_segments_protected_before_0003_become_star_protections(db_url: str, tmp_path: Path) -> None:
    engine = open_engine(db_url)
    try:
        migrate_to(engine, "0002", tmp_path)
        cam = run_write(engine, repo.add_camera, CameraConfig(id="", name="Porch")).id
        with engine.begin() as conn:
            for start, flagged in ((0, True), (10_000, False), (20_000, True)):
                conn.execute(
                    text(
                        "INSERT INTO segment (camera_id, path, start_ms, end_ms, bytes, frames, has_audio,"
                        " protected, unobserved) VALUES (:c, :p, :s, :e, 100, 10, :f, :flag, :f)"
                    ),
                    {
                        "c": cam,
                        "p": f"{cam}/{start}.mp4",
                        "s": start,
                        "e": start + 10_000,
                        "f": False,
                        "flag": flagged,
                    },
                )
        migrate(engine, backup_dir=tmp_path / "backups")
        assert current_revision(engine) == head_revision()
        kept = repo_protect.list_protections(engine)
        assert [(p.camera_id, p.start_ms, p.end_ms, p.reason) for p in kept] == [
            (cam, 0, 10_000, "star"),
            (cam, 20_000, 30_000, "star"),
        ]
        assert [s.protected for s in repo.all_segments(engine)] == [True, False, True]
        # the old flag is gone (revision 0008): the protections say it now
        assert "protected" not in {c["name"] for c in inspect(engine).get_columns("segment")}
    finally:
        engine.dispose()
