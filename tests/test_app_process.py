"""The app is a client of a hub process, for real: ``porchlight`` (offscreen Qt) starts a detached
hub when none runs, shows its cameras live, and quitting or killing the app never stops recording;
a second app attaches to the same hub, and a second ``serve`` is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from hub.api.client import NoHub, SocketHub
from hub.api.frames import FrameReader
from tests.support.apitools import frames_for
from tests.support.clitools import REPO_ROOT, assert_one_line_error, ok, run_cli
from tests.support.hubtools import camera, configure, segments, wait_for


class App:
    """A ``porchlight`` desktop app process (offscreen), in its own session; output to a file."""

    def __init__(self, data: Path, log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "--data-dir", str(data)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=REPO_ROOT,
                start_new_session=True,
                env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1"},
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def quit(self, signum: int) -> int:
        """Send ``signum`` and wait; the exit status."""
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: the log shows where it hung
            self.proc.wait(10)
            raise AssertionError(
                f"the app did not quit on signal {signum}:\n{self.output()[-6000:]}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _open(data: Path) -> SocketHub | None:
    try:
        return SocketHub.open(data)
    except NoHub:
        return None


def _watched(api: SocketHub) -> tuple[str, ...]:
    (cam,) = api.status().cameras
    return cam.watched


@pytest.mark.slow
def test_the_hub_outlives_the_app(tmp_path):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Demo", None, driver="demo", mode="continuous")], segment_seconds=2.0)
    apps: list[App] = []
    api: SocketHub | None = None
    hub_pid = None
    try:
        # No hub runs: the app starts one, detached, and shows its camera live.
        apps.append(App(data, tmp_path / "app1.log"))
        api = wait_for(lambda: _open(data), 60, "the hub the app started")
        hub_pid = api.hub_pid
        assert hub_pid != apps[0].proc.pid and os.getsid(hub_pid) == hub_pid
        wait_for(lambda: _watched(api) == ("detect",), 30, "the app's tile watching the camera")

        # SIGTERM ends the app, not the recording: its live view ends, segments keep coming.
        assert apps[0].quit(signal.SIGTERM) == 0, apps[0].output()[-4000:]
        wait_for(lambda: _watched(api) == (), 10, "the app's live view to end")
        done = len(segments(data, cfg.id))
        wait_for(lambda: len(segments(data, cfg.id)) >= done + 2, 20, "recording after the app quit")
        assert api.status().hub.pid == hub_pid

        # A second serve is refused; a second app attaches to the same hub.
        assert_one_line_error(run_cli(data, "serve", "--duration", "1"), "already running")
        apps.append(App(data, tmp_path / "app2.log"))
        wait_for(lambda: _watched(api) == ("detect",), 60, "the second app's tile watching the camera")
        assert api.status().hub.pid == hub_pid

        # Another client watches too; killing the app takes nothing from it, nor from the recording.
        lease = api.watch("Demo")
        assert lease.frames is not None
        with FrameReader(lease.frames) as reader:
            wait_for(lambda: reader.read() is not None, 10, "a first picture")
            apps[1].kill()
            done = len(segments(data, cfg.id))
            got = frames_for(reader, 2.5)
        assert len(got) >= 8, len(got)
        wait_for(lambda: len(segments(data, cfg.id)) >= done + 1, 20, "recording after the app was killed")
        api.unwatch(lease.id)

        ok(run_cli(data, "stop"))
        psutil.Process(hub_pid).wait(30)
        hub_pid = None
        # One hub ran, and nothing tried to start a second (its log would say the data dir was taken).
        log = (data / "logs" / "hub.log").read_text()
        assert log.count("recording 1 camera(s)") == 1 and "already running" not in log, log[-3000:]
    finally:
        for app in apps:
            app.kill()
        if api is not None:
            api.close()
        if hub_pid is not None and psutil.pid_exists(hub_pid):
            os.kill(hub_pid, signal.SIGKILL)
