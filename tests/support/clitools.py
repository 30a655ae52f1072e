"""Run ``porchlight`` as a subprocess, the way other tools script against it.

Every call is ``[sys.executable, "-m", "cli", "--data-dir", DIR, ...]`` from the repo root with
this process's environment (conftest already points the keyring at the test FileKeyring).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from tests.support.hubtools import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]

#: RFC 3339, UTC, ``Z``, exactly three fractional digits: what every ``--json`` time must look like.
RFC3339_MS_Z = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$"
)


def porchlight_cmd(data_dir: Path | None, *args: str, verbose: int = 0) -> list[str]:
    """The argv of one ``porchlight`` invocation."""
    cmd = [sys.executable, "-m", "cli"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if verbose:
        cmd.append("-" + "v" * verbose)
    return cmd + list(args)


def run_cli(
    data_dir: Path | None,
    *args: str,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    verbose: int = 0,
) -> subprocess.CompletedProcess[str]:
    """Run one command to completion (stdin is empty unless ``input`` is given)."""
    return subprocess.run(
        porchlight_cmd(data_dir, *args, verbose=verbose),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=dict(env) if env is not None else os.environ.copy(),
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert exit status 0 (showing stderr otherwise); return the result."""
    assert result.returncode == 0, f"{result.args[3:]} exited {result.returncode}: {result.stderr[-2000:]}"
    return result


def cli_json(data_dir: Path, *args: str, **kw: Any) -> Any:
    """Run a ``--json`` command and parse its stdout."""
    return json.loads(ok(run_cli(data_dir, *args, "--json", **kw)).stdout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Non-zero exit, exactly one non-empty line on stderr, no traceback; returns that line."""
    assert result.returncode != 0, f"expected failure, got 0; stdout: {result.stdout!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    line = lines[0]
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in {line!r}"
    return line


def parse_z(text: str) -> float:
    """An RFC 3339 ``...Z`` time -> epoch seconds (checks the strict format first)."""
    assert RFC3339_MS_Z.match(text), f"not RFC 3339 UTC with ms and Z: {text!r}"
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC).timestamp()


def fmt_z(epoch_s: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    ms = round(epoch_s * 1000)
    d = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


class Serve:
    """A running ``porchlight serve`` (stderr goes to a file, readable at any time)."""

    def __init__(
        self, data_dir: Path, *args: str, log: Path, verbose: int = 0, env: Mapping[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log
        self._log: IO[bytes] = open(log, "ab")  # closed in wait()/kill()
        self.proc = subprocess.Popen(
            porchlight_cmd(data_dir, "serve", *args, verbose=verbose),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            cwd=REPO_ROOT,
            # A hang at stop then shows every thread's stack in the log (see stop()).
            env={**(env if env is not None else os.environ), "PYTHONFAULTHANDLER": "1"},
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """Everything serve printed so far (stdout and stderr)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def send(self, signum: int) -> None:
        """Send a signal."""
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        """Wait for exit; return the exit status."""
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is not None:
                self._log.close()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal and wait; return the exit status. A serve that does not stop within ``timeout``
        is aborted with SIGABRT, so the failure shows where each of its threads was."""
        if self.proc.poll() is None:
            self.send(signum)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGABRT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self._log.close()
            raise AssertionError(
                f"serve did not stop within {timeout:g} s of signal {signum}; its log ends:\n"
                + self.output()[-12000:]
            ) from None

    def kill(self) -> None:
        """Last resort at teardown."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> Serve:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def status_of(data_dir: Path, camera: str) -> dict | None:
    """The ``status --json`` row of ``camera`` (by name), or None when it is not listed."""
    doc = cli_json(data_dir, "status")
    return next((row for row in doc["cameras"] if row["camera"] == camera), None)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll until ``predicate()`` is truthy (every ``interval`` s: each poll may run a CLI command)."""
    return wait_for(predicate, timeout, what, interval)


def wait_state(data_dir: Path, camera: str, states: Sequence[str] | str, timeout: float) -> dict:
    """Wait until ``status --json`` shows ``camera`` in one of ``states``; return its row."""
    wanted = (states,) if isinstance(states, str) else tuple(states)
    seen: list[str] = []
    errors: list[str] = []

    def check() -> dict | None:
        row = status_of(data_dir, camera)
        seen.append(row["state"] if row else "absent")
        if row and row["last_error"] and row["last_error"] not in errors:
            errors.append(row["last_error"])
        return row if row and row["state"] in wanted else None

    try:
        return wait_until(check, timeout, f"{camera} in {wanted}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; states seen: {sorted(set(seen))}; errors seen: {errors}") from None


def db_cameras(data_dir: Path) -> list[tuple[str, str]]:
    """(id, name) of the live cameras, read from the index in this process (cheaper than a CLI call)."""
    from hub.db import repo_config
    from hub.db.engine import open_engine

    if not (data_dir / "porchlight.db").exists():
        return []
    engine = open_engine(f"sqlite:///{data_dir / 'porchlight.db'}")
    try:
        return [(c.id, c.name) for c in repo_config.list_cameras(engine)]
    finally:
        engine.dispose()


def db_settings(data_dir: Path) -> object:
    """The hub settings as stored in the index (read in this process)."""
    from hub.db import repo_config
    from hub.db.engine import open_engine

    engine = open_engine(f"sqlite:///{data_dir / 'porchlight.db'}")
    try:
        return repo_config.load_settings(engine)
    finally:
        engine.dispose()
