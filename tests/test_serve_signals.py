"""``porchlight serve`` stops on SIGTERM even when the kernel hands the signal to one of the hub's
threads rather than the main one (it may, when the main thread already has a signal pending).
Python runs its handler only once the main thread wakes, so a main thread asleep in a wait with no
timeout would never stop; serve waits in short steps."""

from __future__ import annotations

import ctypes
import os
import platform
import signal

import pytest

from tests.support.clitools import Serve, ok, run_cli, wait_state

#: tgkill(2): send a signal to one thread of a process.
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())


def _tgkill(pid: int, tid: int, signum: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_TGKILL, pid, tid, signum) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@pytest.mark.skipif(SYS_TGKILL is None, reason=f"no tgkill number known for {platform.machine()}")
def test_serve_stops_when_the_signal_lands_on_another_thread(tmp_path):
    data = tmp_path / "data"
    ok(run_cli(data, "demo-camera", "add", "--mode", "continuous"))
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    with Serve(data, log=tmp_path / "serve.log") as serve:
        wait_state(data, "Demo", "recording", 40)
        others = sorted(int(t) for t in os.listdir(f"/proc/{serve.pid}/task") if int(t) != serve.pid)
        assert others, "serve runs no thread besides the main one"
        _tgkill(serve.pid, others[-1], signal.SIGTERM)
        rc = serve.wait(15)
        assert rc == 0, serve.output()[-3000:]
        assert "demo: stopped" in serve.output()
