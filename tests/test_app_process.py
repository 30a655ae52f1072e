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
from hub.storage.lock import HubLock
from tests.support.apitools import ServedHub, frames_for
from tests.support.clitools import REPO_ROOT, assert_one_line_error, cli_json, ok, run_cli
from tests.support.hubtools import camera, configure, segments, wait_for


class App:
    """A ``porchlight`` desktop app process (offscreen), in its own session; output to a file."""

    def __init__(self, data: Path, log: Path, *args: str) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", *args, "--data-dir", str(data)],
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

    def live_slots(self) -> set[str]:
        """The live-view slots the app has mapped now (its tiles read them), removed ones left out."""
        maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        return {
            line.split(None, 5)[5]
            for line in maps.splitlines()
            if "/porchlight-" in line and not line.endswith("(deleted)") and len(line.split(None, 5)) == 6
        }


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

        hub = psutil.Process(hub_pid)  # taken before: a hub gone and reaped has no pid to look up
        ok(run_cli(data, "stop"))
        hub.wait(30)
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


@pytest.mark.slow
def test_the_apps_follow_their_hub_stopping_coming_back_and_dying(tmp_path):
    """Two apps and the CLI on one hub run from a terminal: ``porchlight stop`` is shown by both
    apps, which wait; ``serve`` again and both reconnect, their tiles watching again; the hub killed,
    and one hub is started again in its place, which both apps show."""
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Demo", None, driver="demo", mode="continuous")], segment_seconds=2.0)
    apps: list[App] = []
    api = ServedHub.start(data)
    hub_pid: int | None = None
    try:
        apps += [App(data, tmp_path / f"app{i}.log", "-v") for i in (1, 2)]
        for app in apps:
            wait_for(app.live_slots, 60, "the app's tile watching the camera")
        assert cli_json(data, "status")["cameras"][0]["state"] == "recording"  # the CLI, meanwhile

        ok(run_cli(data, "stop"))
        assert api.serve.wait(30) == 0
        api.close()
        for app in apps:
            wait_for(
                lambda a=app: "it was asked to stop; waiting for a hub" in a.output(), 20, "the app saying so"
            )
            wait_for(lambda a=app: not a.live_slots(), 10, "the app letting go of the stopped hub's views")
        assert HubLock.holder(data) is None  # stopped on purpose: no app starts one by itself
        assert all(app.proc.poll() is None for app in apps)

        api = ServedHub.start(data)  # serve again, from the terminal
        for app in apps:
            wait_for(lambda a=app: f"(pid {api.hub_pid})" in a.output(), 30, "the app reconnecting")
            wait_for(app.live_slots, 30, "the app's tile watching again")
        assert _watched(api) == ("detect",)

        api.serve.send(signal.SIGKILL)  # no goodbye: the apps start a hub again, one between them
        api.serve.wait(10)
        api.close()
        hub_pid = wait_for(lambda: (HubLock.holder(data) or {}).get("pid"), 60, "a hub started again")
        for app in apps:
            wait_for(lambda a=app: f"(pid {hub_pid})" in a.output(), 60, "the app on the new hub")
            wait_for(app.live_slots, 30, "the app's tile watching the new hub")
        assert sum(f"again (pid {hub_pid})" in app.output() for app in apps) == 1
        assert os.getsid(hub_pid) == hub_pid  # detached, as an app starts it
        done = len(segments(data, cfg.id))
        wait_for(lambda: len(segments(data, cfg.id)) >= done + 1, 30, "recording again")

        for app in apps:
            assert app.quit(signal.SIGTERM) == 0, app.output()[-4000:]
        hub = psutil.Process(hub_pid)  # taken before: a hub gone and reaped has no pid to look up
        ok(run_cli(data, "stop"))
        hub.wait(30)
        hub_pid = None
    finally:
        for app in apps:
            app.kill()
        api.close()
        if hub_pid is not None and psutil.pid_exists(hub_pid):
            os.kill(hub_pid, signal.SIGKILL)
