"""Attaching to a data dir's hub, starting one when none runs (hub.api.launch, what the app does):
the hub it starts is a detached ``porchlight serve`` with no terminal and its log in the data dir;
a running or starting hub is attached to, never doubled; a hub that cannot start says why."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from hub.api import launch
from hub.api.client import NoHub
from hub.api.errors import UnavailableError
from hub.storage.lock import HubLock
from tests.support.hubtools import configure, wait_for


def _stop(api, pid: int) -> None:
    """Stop the hub through the API and wait until its process has ended."""
    try:
        api.stop()
    finally:
        api.close()
        try:
            psutil.Process(pid).wait(30)
        except psutil.NoSuchProcess:
            pass


def _pids(told: list[str]) -> list[int]:
    """The pids of the hubs ``attach`` said it started ("pid 1234")."""
    assert all(t.startswith("pid ") for t in told), told
    return [int(t.removeprefix("pid ")) for t in told]


def _fd_target(pid: int, fd: int) -> str:
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def test_attach_starts_a_detached_hub_and_attaches_to_it_after(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data, [])
    told: list[str] = []
    api = launch.attach(data, on_start=told.append)
    started = _pids(told)
    try:
        (pid,) = started
        assert api.hub_pid == pid != os.getpid()
        # Detached: its own session and process group, no terminal; what it prints goes to its log.
        assert os.getsid(pid) == pid and os.getpgid(pid) == pid
        log = data / "logs" / "hub.log"
        assert _fd_target(pid, 0) == "/dev/null"
        assert _fd_target(pid, 1) == _fd_target(pid, 2) == str(log)
        assert (data / "logs").stat().st_mode & 0o777 == 0o700
        # serve prints its start line once its socket listens, which is when attach returns: poll for it.
        wait_for(lambda: "recording 0 camera(s)" in log.read_text(), 10, "serve's start line in its log")
        assert "serve" in psutil.Process(pid).cmdline() and str(log) in psutil.Process(pid).cmdline()
        # A second client attaches to the same hub; nothing new is started.
        with launch.attach(data, on_start=told.append) as again:
            assert again.hub_pid == pid and told == [f"pid {pid}"]
            assert again.status().hub.running
    finally:
        _stop(api, started[0])
    assert not psutil.pid_exists(started[0]) or psutil.Process(started[0]).status() == psutil.STATUS_ZOMBIE
    assert HubLock.holder(data) is None


def test_attach_without_starting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data, [])
    with pytest.raises(NoHub):
        launch.attach(data, start=False)
    assert not (data / "logs").exists()


def test_a_hub_that_holds_the_data_dir_is_waited_for_never_doubled(tmp_path: Path) -> None:
    """A hub that holds the data dir but does not listen yet (starting, e.g. migrating its index) is
    waited for: no second hub is started beside it."""
    data = tmp_path / "data"
    configure(data, [])
    told: list[str] = []
    with HubLock(data), pytest.raises(UnavailableError, match="did not answer within 1.5 s"):
        launch.attach(data, timeout_s=1.5, on_start=told.append)
    assert told == [] and not (data / "logs").exists()


def test_a_hub_that_cannot_start_says_why(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "porchlight.db").write_bytes(b"not an index, " * 100)  # a damaged index
    told: list[str] = []
    with pytest.raises(UnavailableError) as err:
        launch.attach(data, timeout_s=60, on_start=told.append)
    started = _pids(told)
    msg = str(err.value)
    assert "could not start" in msg and "exit status 1" in msg, msg
    # The hub's own reason, from the end of its log.
    assert "cannot open the index" in msg and "file is not a database" in msg, msg
    assert len(started) == 1
    assert not psutil.pid_exists(started[0])  # it had ended (and the launcher reaped it)
