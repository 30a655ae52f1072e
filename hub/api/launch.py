"""Attach to the hub of a data dir, starting one when none runs: what the desktop app does.

The hub is a process of its own, ``porchlight serve``, so recording never depends on a window. One
started here is detached from whoever started it: its own session (a Ctrl-C in the app's terminal,
or the app being killed, does not reach it), no terminal (standard input and output are
``/dev/null``), and its log in the data dir (``logs/hub.log``, rotated by the hub; standard error
goes there too, so a crash before logging is set up still leaves its reason).

Loads the client and the standard library; the engine stays in the hub's process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import hub as _hub_package
from hub.api import service
from hub.api.client import NoHub, SocketHub
from hub.api.errors import CancelledError, UnavailableError

logger = logging.getLogger(__name__)

#: The hub's log, in its data dir (the hub rotates it).
LOG_PATH = Path("logs") / "hub.log"
#: How long a new hub may take to answer (it opens, and may migrate, its index first).
START_TIMEOUT_S = 60.0
_POLL_S = 0.1


def log_path(data_dir: Path) -> Path:
    """Where the hub of ``data_dir`` writes its log."""
    return Path(data_dir) / LOG_PATH


def serve_command(data_dir: Path, db_url: str | None = None) -> list[str]:
    """The command line of a hub on ``data_dir`` that logs into the data dir."""
    cmd = [sys.executable, "-m", "cli", "--data-dir", str(data_dir)]
    if db_url:
        cmd += ["--db-url", db_url]
    return [*cmd, "serve", "--log-file", str(log_path(data_dir))]


def code_root() -> str:
    """The folder this process's Porchlight packages (hub/, cli/) are in."""
    return str(Path(_hub_package.__file__).resolve().parents[1])


def spawn(data_dir: Path, db_url: str | None = None) -> subprocess.Popen[bytes]:
    """Start ``porchlight serve`` on ``data_dir``, detached; returns at once (it may still fail:
    another hub holds the data dir, the index cannot be opened; its log says why)."""
    log = log_path(data_dir)
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The packages this process runs from come first, so the hub runs the same code as its app
    # also when Porchlight is not installed (run from a checkout).
    root = code_root()
    paths = [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            serve_command(data_dir, db_url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
            cwd=data_dir,
            env=env,
        )
    # The hub is this process's child until this process ends: collect its exit status when it stops,
    # so that a stopped hub does not linger as a zombie beside a window that stays open.
    threading.Thread(target=proc.wait, name=f"porchlight-hub-reaper-{proc.pid}", daemon=True).start()
    logger.info("started a hub on %s (pid %d); its log: %s", data_dir, proc.pid, log)
    return proc


def attach(
    data_dir: Path,
    db_url: str | None = None,
    *,
    start: bool = True,
    timeout_s: float = START_TIMEOUT_S,
    on_start: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> SocketHub:
    """The Hub API of the hub running on ``data_dir``, over its socket.

    When none runs and ``start`` is true, one is started and waited for until it answers: through
    the data dir's user service when one is installed (:mod:`hub.api.service`: it owns the hub, so
    none is started beside it), else a detached ``porchlight serve``. ``on_start`` is told how
    ("pid 1234", "the user service porchlight.service"). A hub that holds the data dir but does not
    listen yet (it is starting, started by another app or a service) is waited for, never doubled.
    NoHub when none runs and ``start`` is false; UnavailableError when the hub could not start
    (with the end of its log) or did not answer within ``timeout_s``; HubVersionError when the
    running hub speaks another version of the API; CancelledError once ``cancel`` is set (a hub
    started meanwhile runs on). ``close()`` the result when done."""
    from hub.api import hub_holds

    data_dir = Path(data_dir)
    deadline = time.monotonic() + timeout_s
    proc: subprocess.Popen[bytes] | None = None
    unit: str | None = None  # the user service that was asked to start the hub
    checked = 0.0  # when the service's state was last asked for
    while True:
        try:
            return SocketHub.open(data_dir)
        except NoHub:
            if not start and not hub_holds(data_dir):
                raise
        # While a hub we started is starting, the lock is not tried: trying it could make that very
        # hub find the data dir taken.
        if proc is None and unit is None and not hub_holds(data_dir):
            data_dir.mkdir(parents=True, exist_ok=True)
            if service.installed(data_dir):
                service.start(data_dir)  # ServiceError (an UnavailableError) when systemd refuses
                unit, checked = service.unit_name(data_dir), time.monotonic()
                if on_start is not None:
                    on_start(f"the user service {unit}")
            else:
                proc = spawn(data_dir, db_url)
                if on_start is not None:
                    on_start(f"pid {proc.pid}")
        elif proc is not None and proc.poll() is not None and not hub_holds(data_dir):
            raise UnavailableError(
                f"the hub could not start on {data_dir} (exit status {proc.returncode}): {_last_words(data_dir)}"
            )
        elif unit is not None and time.monotonic() - checked >= 1.0 and not hub_holds(data_dir):
            checked = time.monotonic()
            state = service.active_state(data_dir)
            if state in ("failed", "inactive"):
                raise UnavailableError(f"the user service {unit} stopped ({state}): {_last_words(data_dir)}")
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"stopped waiting for the hub on {data_dir}")
        if time.monotonic() > deadline:
            raise UnavailableError(
                f"the hub on {data_dir} did not answer within {timeout_s:g} s; its log: {log_path(data_dir)}"
            )
        time.sleep(_POLL_S)


def _last_words(data_dir: Path, lines: int = 3) -> str:
    """The end of the hub's log: why it stopped, in its own words."""
    try:
        with open(log_path(data_dir), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            tail = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return f"no log at {log_path(data_dir)}"
    return " / ".join(tail[-lines:]) or f"see {log_path(data_dir)}"


class Backoff:
    """How long to wait before restarting a hub that went away without saying it stopped (it was
    killed, or crashed): a little longer each time it fails again soon, so that a hub that cannot
    run is not started in a tight loop; back to the first step once a hub has run ``settle_s``."""

    STEPS_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    SETTLE_S = 300.0

    def __init__(self, steps_s: tuple[float, ...] = STEPS_S, settle_s: float = SETTLE_S) -> None:
        self.steps_s = steps_s
        self.settle_s = settle_s
        self.attempt = 0  # restarts since the last hub that settled
        self._up_since: float | None = None

    def up(self, now: float | None = None) -> None:
        """A hub answers (from ``now``, monotonic seconds)."""
        self._up_since = time.monotonic() if now is None else now

    def next_delay(self, now: float | None = None) -> float:
        """The wait before the next attempt to start a hub (counts the attempt)."""
        now = time.monotonic() if now is None else now
        if self._up_since is not None and now - self._up_since >= self.settle_s:
            self.attempt = 0  # the last one ran well: this is a new failure, not a loop
        self._up_since = None
        delay = self.steps_s[min(self.attempt, len(self.steps_s) - 1)]
        self.attempt += 1
        return delay
