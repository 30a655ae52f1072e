"""``setup_logging(log_file=...)`` and ``porchlight serve --log-file``: a rotated, redacted log that
the process's standard output and error (fd 1 and 2) follow across rollovers.

setup_logging points fd 1 and 2 at the file, so it only ever runs in a subprocess here, never in
pytest's own process."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.clitools import REPO_ROOT, ok, run_cli

MAX_BYTES = 2000
#: A rollover is decided before each record; what fd 1 and 2 write in between may go past the size.
SLACK = 200

WRITER = textwrap.dedent(
    """
    import logging, os, sys
    from pathlib import Path
    from hub.core.logs import setup_logging

    setup_logging(logging.INFO, log_file=Path(sys.argv[1]), max_bytes=2000, backups=2)
    log = logging.getLogger("writer")
    for i in range(60):
        log.info("record %d %s", i, "x" * 60)
        os.write(2, b"fd2 write %d\\n" % i)
        print(f"stderr print {i}", file=sys.stderr)
        print(f"stdout print {i}", flush=True)
    log.info("camera at rtsp://admin:hunter2@10.0.0.5/stream")
    os.write(2, b"last fd2 write\\n")
    raise RuntimeError("boom at exit")
    """
)


def run_writer(log: Path) -> subprocess.CompletedProcess[str]:
    """Run WRITER in a fresh interpreter logging into ``log``."""
    return subprocess.run(
        [sys.executable, "-c", WRITER, str(log)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=False,
    )


def test_log_file_rotates_and_takes_fd_1_and_2_along(tmp_path: Path) -> None:
    log = tmp_path / "made" / "logs" / "hub.log"
    result = run_writer(log)
    assert result.returncode == 1, result.stderr
    assert (result.stdout, result.stderr) == ("", ""), "fd 1 and 2 point at the log file"
    folder = log.parent
    assert sorted(p.name for p in folder.iterdir()) == ["hub.log", "hub.log.1", "hub.log.2"]
    for made in (folder, folder.parent):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700, made
    current = log.read_text()
    # Written through fd 2 after many rollovers: the descriptor followed the file.
    assert "last fd2 write" in current
    assert "RuntimeError: boom at exit" in current  # the traceback at exit too
    assert "INFO writer: camera at rtsp://***@10.0.0.5/stream" in current
    everything = "".join(p.read_text() for p in folder.iterdir())
    assert "hunter2" not in everything
    for kind in ("fd2 write 59", "stderr print 59", "stdout print 59"):
        assert kind in everything
    backup = (folder / "hub.log.1").read_text()
    assert "record" in backup and "fd2 write" in backup and "stderr print" in backup
    # fd 2's writes count towards the size: no file grows much past it.
    assert all(p.stat().st_size < MAX_BYTES + SLACK for p in folder.iterdir())


def test_serve_log_file_gets_logs_and_stderr(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "hub.log"
    result = ok(run_cli(tmp_path / "data", "serve", "--duration", "0.5", "--log-file", str(log)))
    assert (result.stdout, result.stderr) == ("", "")
    text = log.read_text()
    assert "INFO hub.storage.lock: hub lock taken" in text
    assert "porchlight: recording 0 camera(s)" in text  # printed to stderr, which is the file


def test_serve_log_file_that_cannot_be_made_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    result = run_cli(tmp_path / "data", "serve", "--log-file", str(tmp_path / "file" / "hub.log"))
    assert result.returncode == 1
    assert result.stderr.startswith("porchlight: error: cannot log there:"), result.stderr
    assert len(result.stderr.splitlines()) == 1
