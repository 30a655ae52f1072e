"""The hub as a systemd user service (``porchlight service``), never with the machine's own systemd.

Each test gets ``XDG_CONFIG_HOME`` in its tmp folder and a shim ``systemctl`` first on PATH
(tests/support/systemctl_shim.py): it runs a unit's ``ExecStart=`` as written, after a
``daemon-reload``, so the unit's command line is tested for real. ``systemd-analyze --user verify``
checks the unit file where it is installed (CI has it). ``loginctl`` is never run.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hub.api import hub_holds, launch, service
from hub.api.errors import UnavailableError
from hub.core import secrets
from hub.core.secrets import LOCKED_MESSAGE
from tests.support import keyring_backend, systemctl_shim
from tests.support.clitools import REPO_ROOT, assert_one_line_error, cli_json, ok, run_cli
from tests.support.hubtools import segments, wait_for
from tests.support.systemctl_shim import parse, unquote
from tests.support.uitools import live_tile

SHIM = REPO_ROOT / "tests" / "support" / "systemctl_shim.py"


class Systemd:
    """The shim's view: the calls made, and the hub each unit runs."""

    def __init__(self, root: Path) -> None:
        self.state = root / "shim"
        self.config = root / "config"
        self.units = self.config / "systemd" / "user"

    def calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def pid(self, unit: str) -> int | None:
        """The pid of the hub ``unit`` runs (the shim's own answer; its state dir is in the env)."""
        return systemctl_shim.main_pid(unit)

    def stop_all(self) -> None:
        for pidfile in self.state.glob("*.pid"):
            try:
                proc = psutil.Process(int(pidfile.read_text()))
                proc.terminate()
                proc.wait(60)
            except (psutil.Error, ValueError):
                pass


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Systemd]:
    shim = Systemd(tmp_path)
    shim.state.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "systemctl"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{SHIM}" "$@"\n')
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(shim.config))
    monkeypatch.setenv("SYSTEMCTL_SHIM_STATE", str(shim.state))
    try:
        yield shim
    finally:
        shim.stop_all()


def _demo(data: Path) -> str:
    ok(run_cli(data, "demo-camera", "add", "--mode", "continuous"))
    return str(cli_json(data, "cameras", "list")[0]["id"])


def _porch(data: Path, url: str) -> str:
    """Add the camera "Porch" at ``url`` (user admin, password right-password; continuous, no
    detection); returns its id."""
    ok(
        run_cli(
            data,
            *("cameras", "add", "Porch", "--url", url, "--username", "admin", "--password-stdin"),
            *("--detect", "no", "--mode", "continuous"),
            input="right-password\n",
        )
    )
    return str(next(c["id"] for c in cli_json(data, "cameras", "list") if c["name"] == "Porch"))


def _verify(unit: Path, tmp_path: Path) -> None:
    """``systemd-analyze --user verify``: nothing to say about the unit (warnings included)."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (Debian package: systemd)")
        return
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    done = subprocess.run(
        [exe, "--user", "verify", str(unit)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and unit.name not in done.stderr, done.stderr


def test_install_runs_serve_through_its_unit_and_uninstall_stops_and_removes_it(systemd, tmp_path):
    # A data dir whose path has what a unit file would expand or split: a space, % and $.
    data = tmp_path / "d %h $HOME"
    cam = _demo(data)
    installed = ok(run_cli(data, "service", "install"))
    name = service.unit_name(data)
    unit = systemd.units / name
    assert name.startswith("porchlight-") and unit.is_file()
    assert stat.S_IMODE(unit.stat().st_mode) == 0o600  # a --db-url may hold a password
    cfg = parse(unit.read_text())
    assert unquote(cfg["ExecStart"][0]) == launch.serve_command(data.resolve(), None)
    assert cfg["Restart"] == ["on-failure"] and cfg["RestartPreventExitStatus"] == ["75"]
    assert cfg["WantedBy"] == ["default.target"] and cfg["Type"] == ["exec"]
    assert unquote(cfg["Environment"][0]) == [f"PYTHONPATH={REPO_ROOT}"]
    assert f"{data.resolve()}" in cfg["Description"][0].replace("%%", "%")
    _verify(unit, tmp_path)

    # systemd was reloaded, then started the unit; autostart stays off unless asked for.
    calls = systemd.calls()
    assert calls.index(["--user", "daemon-reload"]) < calls.index(["--user", "start", name])
    assert not any("enable" in c for c in calls)
    assert not list(systemd.units.glob("*.wants/*"))
    assert "loginctl enable-linger" in installed.stderr
    pid = systemd.pid(name)
    assert pid is not None and f"hub pid {pid}" in installed.stdout
    assert cli_json(data, "status")["hub"]["pid"] == pid
    wait_for(lambda: len(segments(data, cam)) >= 1, 30, "the service's hub recording")
    report = cli_json(data, "service", "status")
    assert report == {
        "unit": name,
        "path": str(unit),
        "installed": True,
        "state": "active",
        "autostart": False,
        "linger": service.linger(),
        "hub_pid": pid,
    }
    # Installing again changes nothing, and does not restart the hub.
    again = ok(run_cli(data, "service", "install"))
    assert "already installed" in again.stderr and systemd.pid(name) == pid

    removed = ok(run_cli(data, "service", "uninstall"))
    assert "removed" in removed.stdout
    assert not psutil.pid_exists(pid)  # the shim's stop, like systemd's, waits for it to end
    assert "stopping: it got SIGTERM" in launch.log_path(data).read_text()  # segments finalized
    assert not unit.exists() and ["--user", "disable", "--now", name] in systemd.calls()
    assert systemd.calls()[-1] == ["--user", "daemon-reload"]
    assert cli_json(data, "status")["hub"]["running"] is False
    assert "no user service" in ok(run_cli(data, "service", "uninstall")).stderr


def test_install_takes_the_hub_over_from_the_app_and_autostart_enables_it(systemd, tmp_path):
    data = tmp_path / "data"
    _demo(data)
    with launch.attach(data) as api:  # what the app does: a detached hub of its own
        spawned = api.hub_pid
    try:
        installed = ok(run_cli(data, "service", "install", "--autostart"))
        name = service.unit_name(data)
        assert f"stopped the hub that ran without the service (pid {spawned})" in installed.stderr
        wait_for(lambda: not psutil.pid_exists(spawned), 30, "the app's hub to end")
        pid = systemd.pid(name)
        assert pid is not None and pid != spawned
        assert cli_json(data, "status")["hub"]["pid"] == pid
        link = systemd.units / "default.target.wants" / name
        assert link.is_symlink() and link.resolve() == (systemd.units / name).resolve()
        assert cli_json(data, "service", "status")["autostart"] is True
        # The app's hub stopped on purpose (its log says so), so nothing restarts it beside the service.
        assert "stopping: it was asked to stop" in launch.log_path(data).read_text()
    finally:
        if psutil.pid_exists(spawned):
            psutil.Process(spawned).kill()


def test_the_app_starts_the_service_never_a_hub_of_its_own(systemd, tmp_path, monkeypatch):
    data = tmp_path / "data"
    cam = _demo(data)
    ok(run_cli(data, "service", "install", "--no-start"))
    name = service.unit_name(data)
    assert systemd.pid(name) is None and not hub_holds(data)
    assert ["--user", "start", name] not in systemd.calls()

    told: list[str] = []
    with launch.attach(data, on_start=told.append) as api:  # the app opens
        assert told == [f"the user service {name}"]
        assert api.hub_pid == systemd.pid(name)
    with launch.attach(data, on_start=told.append) as api:  # a second window starts nothing
        assert len(told) == 1 and api.hub_pid == systemd.pid(name)
    wait_for(lambda: len(segments(data, cam)) >= 1, 30, "the service's hub recording")

    # The owner stopped it; systemd cannot start it again (no user bus): the app says so, and still
    # starts no hub of its own.
    ok(run_cli(data, "stop"))
    wait_for(lambda: systemd.pid(name) is None, 30, "the service's hub to stop")
    monkeypatch.setenv("SYSTEMCTL_SHIM_FAIL", "start")
    with pytest.raises(UnavailableError, match=f"{name}.*service uninstall") as info:
        launch.attach(data, timeout_s=10)
    assert "Failed to connect to bus" in str(info.value)
    assert not hub_holds(data)
    assert launch.log_path(data).read_text().count("recording 1 camera(s)") == 1  # only the service's


def test_without_systemd_the_service_commands_say_so(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "PATH": str(tmp_path / "nothing"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert_one_line_error(run_cli(data, "service", "install", env=env), "systemd is not available")
    st = ok(run_cli(data, "service", "status", env=env))
    assert "not installed (and cannot be here: no systemd)" in st.stdout
    assert not (tmp_path / "cfg").exists()


def test_before_log_in_a_locked_keyring_makes_cameras_wait_not_fail(systemd, tmp_path, rtsp_camera):
    """With linger the service starts at boot, before the keyring is unlocked: a camera with a password
    shows keyring_locked (not auth_failed) while one without records, and records once it opens."""
    data = tmp_path / "data"
    porch = rtsp_camera(user="admin", password="right-password")
    demo = _demo(data)
    cam = _porch(data, porch.url)

    def state() -> dict[str, object]:
        return next(c for c in cli_json(data, "status")["cameras"] if c["id"] == cam)

    with keyring_backend.locked():
        ok(run_cli(data, "service", "install"))
        wait_for(lambda: state()["state"] == "keyring_locked", 30, "the camera waiting for the keyring")
        assert state()["last_error"] == LOCKED_MESSAGE
        wait_for(lambda: len(segments(data, demo)) >= 1, 30, "the camera without a password recording")
        time.sleep(secrets.LOCKED_RECHECK_S + 1)  # asked again meanwhile: still waiting, not failed
        assert state()["state"] == "keyring_locked"
    # Logged in: the keyring opens, and the camera records without anyone touching it.
    wait_for(lambda: state()["state"] == "recording", 40, "the camera recording once the keyring opened")
    wait_for(lambda: len(segments(data, cam)) >= 1, 30, "a segment of the camera with a password")
    ok(run_cli(data, "service", "uninstall"))


@pytest.fixture
def ungated() -> Iterator[None]:
    """The keyring's locked gate is module state: leave it open for the next test."""
    yield
    secrets._locked_until = 0.0


def test_a_locked_keyring_is_asked_once_for_all_cameras_until_the_recheck(ungated, monkeypatch):
    monkeypatch.setattr(secrets, "LOCKED_RECHECK_S", 1.0)
    secrets.set_camera_credentials("scope", "a", "admin", "pw-a")
    reads: list[str] = []
    backend = type(secrets.backend())
    real = backend.get_password
    monkeypatch.setattr(backend, "get_password", lambda self, s, u: reads.append(u) or real(self, s, u))
    with keyring_backend.locked():
        with pytest.raises(secrets.SecretsLocked, match="keyring locked"):
            secrets.get_camera_credentials("scope", "a")
        asked = len(reads)
        for cam in ("a", "b", "c"):  # other cameras, at once: the keyring is not asked again
            with pytest.raises(secrets.SecretsLocked):
                secrets.get_camera_credentials("scope", cam)
        assert len(reads) == asked == 1
    with pytest.raises(secrets.SecretsLocked):  # unlocked, but the recheck is not due yet
        secrets.get_camera_credentials("scope", "a")
    time.sleep(1.1)
    creds = secrets.get_camera_credentials("scope", "a")
    assert creds is not None and (creds.username, creds.password) == ("admin", "pw-a")
    with keyring_backend.locked():  # storing while locked: a clear error, nothing stored
        with pytest.raises(secrets.SecretsLocked, match="unlock it"):
            secrets.set_camera_credentials("scope", "d", "admin", "pw-d")
    assert secrets.get_camera_credentials("scope", "d") is None


@pytest.mark.slow
def test_the_window_starts_the_service_and_shows_a_camera_waiting_for_the_keyring(
    qtbot, systemd, tmp_path, rtsp_camera
):
    from ui import tasks
    from ui.app import connect
    from ui.link import HubLink
    from ui.main_window import MainWindow

    data = tmp_path / "data"
    porch = rtsp_camera(user="admin", password="right-password")
    cam_id = _porch(data, porch.url)
    ok(run_cli(data, "service", "install", "--no-start"))
    name = service.unit_name(data)
    window = MainWindow()
    qtbot.addWidget(window)
    link = HubLink(data, parent=window)
    connect(window, link)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    try:
        with keyring_backend.locked():
            link.start()
            window.show()
            qtbot.waitUntil(lambda: cam_id in window.tiles, timeout=60000)
            tile = window.tiles[cam_id]
            qtbot.waitUntil(lambda: tile.state == "keyring_locked", timeout=30000)
            assert tile.badge.text() == "Keyring locked — waiting for log-in"
            assert any(f"Starting the hub (the user service {name})" in m for m in messages)
            assert window.hub_pid == systemd.pid(name)
        live_tile(qtbot, window, cam_id, timeout_ms=40000)  # the keyring opened: it records, live
    finally:
        window.close_quietly()
        window.detach()
        link.close()
        tasks.shutdown()
