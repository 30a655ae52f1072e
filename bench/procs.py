"""Child processes of the benchmark: started in their own session (Ctrl-C reaches only the
benchmark, which stops them in order), killed by the kernel if the benchmark itself dies
(PR_SET_PDEATHSIG), and all stopped by :func:`stop_all` (SIGTERM or SIGINT, then SIGKILL)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_started: list[Child] = []


def _child_setup() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """One started process and how to stop it gracefully."""

    def __init__(
        self,
        label: str,
        args: Sequence[str],
        log: Path,
        *,
        stop_signal: int = signal.SIGTERM,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.label = label
        self.args = list(args)
        self.stop_signal = stop_signal
        self.log_path = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
        self.pid = self.proc.pid
        _started.append(self)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal_stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(self.stop_signal)

    def wait(self, timeout: float) -> int | None:
        """Wait for the exit (SIGKILL after ``timeout``); return the exit status."""
        try:
            rc = self.proc.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s (pid %d) did not stop within %.0f s: killing it", self.label, self.pid, timeout
            )
            self.proc.kill()
            rc = self.proc.wait()
        if not self._log.closed:
            self._log.close()
        if self in _started:
            _started.remove(self)
        return rc


def stop(children: Sequence[Child], timeout: float = 30.0) -> dict[str, int | None]:
    """Stop several children at once (signal all, then wait for all)."""
    for c in children:
        c.signal_stop()
    deadline = time.monotonic() + timeout
    return {c.label: c.wait(deadline - time.monotonic()) for c in children}


def stop_all(timeout: float = 30.0) -> None:
    """Stop every child this module started and that is still registered."""
    stop(list(_started), timeout)


def run(
    args: Sequence[str], *, check: bool = True, timeout: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a short command to completion (stdin closed; output captured)."""
    res = subprocess.run(
        list(args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        preexec_fn=_child_setup,
    )
    if check and res.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} failed ({res.returncode}): {res.stderr.strip()[-800:]}"
        )
    return res


def bench_env() -> dict[str, str]:
    """The environment for product commands (no GUI, no user keyring)."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.pop("PORCHLIGHT_DATA_DIR", None)
    return env
