"""One hub per data folder, tested with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.core.times import parse_rfc3339
from hub.storage.lock import LOCK_NAME, HubLock, HubLockedError

REPO = Path(__file__).resolve().parents[1]

# A stand-in hub: takes the lock, says so, releases on "release", exits on EOF.
HOLDER = r"""
import json, os, sys
from hub.storage.lock import HubLock, HubLockedError
lock = HubLock(sys.argv[1])
try:
    lock.acquire()
except HubLockedError as exc:
    print(json.dumps({"refused": str(exc)}), flush=True)
    sys.exit(3)
print(json.dumps({"locked": os.getpid()}), flush=True)
for line in sys.stdin:
    if line.strip() == "release":
        lock.release()
        print(json.dumps({"released": True}), flush=True)
    if line.strip() == "spawn":  # a child process that outlives our lock
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        print(json.dumps({"child": child.pid}), flush=True)
"""


class Hub:
    """A HOLDER process and its line protocol."""

    def __init__(self, data_dir: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, f"holder exited with {self.proc.wait(10)}"
        return json.loads(line)

    def send(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def hubs():
    started: list[Hub] = []

    def start(data_dir: Path) -> Hub:
        hub = Hub(data_dir)
        started.append(hub)
        return hub

    yield start
    for hub in started:
        if hub.proc.poll() is None:
            hub.proc.kill()
        hub.stop()


def test_a_second_hub_is_refused_while_the_first_runs(tmp_path, hubs):
    first = hubs(tmp_path)
    pid = first.read()["locked"]
    with pytest.raises(HubLockedError) as err:
        HubLock(tmp_path).acquire()
    message = str(err.value)
    assert f"pid {pid}" in message and str(tmp_path) in message and "\n" not in message
    assert err.value.info["pid"] == pid
    info = HubLock.holder(tmp_path)
    assert info is not None and info["pid"] == pid and parse_rfc3339(info["started"]) > 0

    second = hubs(tmp_path)
    refused = second.read()["refused"]
    assert f"pid {pid}" in refused and second.proc.wait(10) == 3

    assert first.send("release") == {"released": True}
    assert HubLock.holder(tmp_path) is None
    with HubLock(tmp_path) as lock:
        assert lock.held and HubLock.holder(tmp_path)["pid"] == os.getpid()
    assert not lock.held and HubLock.holder(tmp_path) is None


def test_a_killed_hub_leaves_no_stale_lock(tmp_path, hubs):
    hub = hubs(tmp_path)
    pid = hub.read()["locked"]
    os.kill(pid, signal.SIGKILL)
    hub.proc.wait(10)
    assert str(pid) in (tmp_path / LOCK_NAME).read_text()  # the file still names the dead hub...
    assert HubLock.holder(tmp_path) is None  # ...but the lock itself is free
    with HubLock(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_this_process_holding_refuses_another_process(tmp_path, hubs):
    with HubLock(tmp_path):
        hub = hubs(tmp_path)
        assert f"pid {os.getpid()}" in hub.read()["refused"]
    hub = hubs(tmp_path)
    assert "locked" in hub.read()


def test_child_processes_do_not_inherit_the_lock(tmp_path, hubs):
    hub = hubs(tmp_path)
    hub.read()
    child = hub.send("spawn")["child"]
    try:
        hub.send("release")
        assert HubLock.holder(tmp_path) is None  # the sleeping child holds nothing
        with HubLock(tmp_path):
            pass
    finally:
        os.kill(child, signal.SIGKILL)


def test_in_process_rules(tmp_path):
    data = tmp_path / "new" / "data"
    assert HubLock.holder(data) is None  # no data folder yet
    lock = HubLock(data).acquire()
    assert (data / LOCK_NAME).exists()
    with pytest.raises(RuntimeError):
        lock.acquire()
    with pytest.raises(HubLockedError):  # a second lock object conflicts, even in one process
        HubLock(data).acquire()
    lock.release()
    lock.release()  # no-op
    assert (data / LOCK_NAME).read_text() == ""  # released: the holder info is cleared
    assert HubLock.holder(data) is None


def test_holder_waits_briefly_for_the_info_of_a_hub_that_just_started(tmp_path):
    with HubLock(tmp_path):
        (tmp_path / LOCK_NAME).write_text("")  # as if the new holder had not written it yet
        t = time.monotonic()
        assert HubLock.holder(tmp_path) == {"pid": None, "started": None}
        assert time.monotonic() - t < 2
        with pytest.raises(HubLockedError, match="another process"):
            HubLock(tmp_path).acquire()
