"""Database fixtures: a throwaway PostgreSQL 15 cluster for the test session, and per-test indexes.

Load with ``pytest_plugins = ["tests.support.postgres"]`` in a test module (or the root conftest). Fixtures:

- ``postgres_server`` (session): initdb + pg_ctl into a temp dir, listening only on 127.0.0.1 (free
  port) and a private unix socket dir, fsync off; stopped and removed at the end of the session.
  As root the cluster runs as the ``postgres`` user (``runuser``), since PostgreSQL refuses root.
  Missing binaries skip the PostgreSQL tests, except with ``CI=true``, where they fail. A watchdog
  process stops and deletes the cluster if pytest is killed before its session teardown.
- ``postgres_url``: a fresh, empty database in that cluster for one test.
- ``db_url``: parametrized over ``sqlite`` (a real file under tmp_path) and ``postgresql``.
- ``db_engine``: an engine on ``db_url``, migrated to head, disposed after the test.
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.db.engine import default_sqlite_url, open_engine
from hub.db.upgrade import migrate
from tests.support import leaks

logger = logging.getLogger(__name__)

PG_VERSION = "15"
USER = "porchlight"


@dataclasses.dataclass
class PostgresServer:
    """A running throwaway cluster."""

    base: Path
    bin_dir: Path
    port: int
    as_postgres: bool
    startup_s: float
    _counter: itertools.count = dataclasses.field(default_factory=itertools.count)
    _watchdog: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` over TCP on 127.0.0.1."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a new empty database and return its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop_argv(self) -> list[str]:
        """The command that stops the cluster (immediate mode: nothing in it is worth keeping)."""
        pg_ctl = str(self.bin_dir / "pg_ctl")
        return _argv(self, [pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"])

    def stop(self) -> None:
        """Stop the cluster and delete its files."""
        if (self.base / "data" / "postmaster.pid").exists():
            try:
                subprocess.run(self.stop_argv(), check=True, capture_output=True, text=True, timeout=60)
            except subprocess.CalledProcessError as exc:
                logger.warning("pg_ctl stop failed: %s", exc.stderr)
        shutil.rmtree(self.base, ignore_errors=True)
        self.stop_watchdog()

    def start_watchdog(self) -> None:
        """Stop and delete the cluster even when pytest is killed: the watchdog waits on a pipe."""
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.base), *self.stop_argv()],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to pytest's process group must not skip the cleanup
        )
        leaks.lives_for_the_session(self._watchdog.pid)

    def stop_watchdog(self) -> None:
        """Let the watchdog go (it stops whatever cluster is left, then exits)."""
        if self._watchdog is not None and self._watchdog.stdin is not None:
            self._watchdog.stdin.close()
            self._watchdog.wait(60)
        self._watchdog = None


# Reads its stdin until EOF, which comes when the test process ends however it ends (even SIGKILL).
_WATCHDOG = """
import os, shutil, subprocess, sys
sys.stdin.buffer.read()
base, stop = sys.argv[1], sys.argv[2:]
try:
    if os.path.exists(os.path.join(base, "data", "postmaster.pid")):
        subprocess.run(stop, capture_output=True, timeout=60)
finally:
    shutil.rmtree(base, ignore_errors=True)
"""


def find_bin_dir() -> Path | None:
    """The PostgreSQL server binaries: $PORCHLIGHT_PG_BIN, Debian's /usr/lib/postgresql/15/bin, PATH."""
    candidates = [os.environ.get("PORCHLIGHT_PG_BIN", ""), f"/usr/lib/postgresql/{PG_VERSION}/bin"]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def start_server() -> PostgresServer:
    """initdb and start a cluster; raise RuntimeError when that is impossible here."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install the 'postgresql' package"
        )
    as_postgres = os.geteuid() == 0
    if as_postgres and (shutil.which("runuser") is None or _uid("postgres") is None):
        raise RuntimeError("running as root needs 'runuser' and a 'postgres' user to run the cluster")
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="porchlight-pg-"))
    if as_postgres:
        shutil.chown(base, user="postgres", group="postgres")
    server = PostgresServer(base=base, bin_dir=bin_dir, port=0, as_postgres=as_postgres, startup_s=0.0)
    server.start_watchdog()
    try:
        _run(
            server,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(base / "data"),
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
        )
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probing and binding
            server.port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={server.port}",
                    f"-c unix_socket_directories={base}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=100",
                ]
            )
            try:
                _run(
                    server,
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(base / "data"),
                        "-l",
                        str(base / "log"),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        options,
                        "start",
                    ],
                )
                server.startup_s = time.monotonic() - started
                logger.info("PostgreSQL test cluster on 127.0.0.1:%s (%.1f s)", server.port, server.startup_s)
                return server
            except subprocess.CalledProcessError as exc:
                last_error = f"{exc.stdout}{exc.stderr}{_tail(base / 'log')}"
        raise RuntimeError(f"PostgreSQL did not start: {last_error}")
    except BaseException:
        server.stop()
        raise


def _argv(server: PostgresServer, argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if server.as_postgres else argv


def _run(server: PostgresServer, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _argv(server, argv),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.base,
        stdin=subprocess.DEVNULL,
    )


def _uid(user: str) -> int | None:
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the whole session (skip, or fail under CI=true)."""
    try:
        server = start_server()
    except RuntimeError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL test peer unavailable in CI: {exc}")
        pytest.skip(f"PostgreSQL test peer unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a fresh, empty database."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty index: a SQLite file under tmp_path, or a PostgreSQL database."""
    if request.param == "sqlite":
        return default_sqlite_url(tmp_path / "data")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db_engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on ``db_url``, migrated to head."""
    engine = open_engine(db_url)
    migrate(engine, backup_dir=tmp_path / "backups")
    try:
        yield engine
    finally:
        engine.dispose()
