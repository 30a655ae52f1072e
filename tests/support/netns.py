"""Tests that multicast or talk to ONVIF peers run inside a loopback-only network namespace.

``make test`` runs ``tests/netns/`` through ``scripts/netns-run.sh`` (``unshare -n`` with ``lo``
up and 224.0.0.0/4 routed to it). ipycam (a real ONVIF device from PyPI) lives in a venv of its
own (it needs the GUI ``opencv-python``, which would replace the project's cv2) and binds 0.0.0.0,
which inside the namespace means loopback only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
IPYCAM_VENV = REPO_ROOT / "tests" / ".cache" / "ipycam-venv"
IPYCAM_VERSION = "1.3.0"


def in_netns() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    return [name for _i, name in socket.if_nameindex()] == ["lo"]


def require_netns() -> None:
    """Skip (or, with CI=true, fail) unless running inside the loopback-only namespace."""
    if in_netns():
        return
    message = "needs a loopback-only network namespace: run through scripts/netns-run.sh (make test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def ipycam_python() -> Path:
    """The interpreter of ipycam's own venv (created once, safe across processes)."""
    py = IPYCAM_VENV / "bin" / "python"
    IPYCAM_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(str(IPYCAM_VENV) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (IPYCAM_VENV / ".ready").exists():
            if in_netns():  # no network in here: pip cannot reach PyPI
                raise RuntimeError(
                    "ipycam's venv is missing: run `python -m tests.support.netns --provision` "
                    "outside the namespace first (make test does)"
                )
            venv.create(IPYCAM_VENV, with_pip=True, clear=True)
            subprocess.run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    f"ipycam=={IPYCAM_VERSION}",
                ],
                check=True,
                timeout=600,
            )
            (IPYCAM_VENV / ".ready").write_text(IPYCAM_VERSION)
    return py


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.2)
    return False


class IpyCam:
    """ipycam serving a clip on 127.0.0.1 (ONVIF device + media + RTSP; no events service)."""

    def __init__(
        self,
        source: Path,
        log_dir: Path,
        *,
        username: str = "",
        password: str = "",
        onvif_port: int = 8080,
        rtsp_port: int = 8554,
        name: str = "LabCam",
    ) -> None:
        self.source = source
        self.log_dir = log_dir
        self.username, self.password = username, password
        self.onvif_port, self.rtsp_port = onvif_port, rtsp_port
        self.name = name
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> IpyCam:
        require_netns()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "name": self.name,
            "local_ip": "127.0.0.1",
            "onvif_port": self.onvif_port,
            "rtsp_port": self.rtsp_port,
            "main_width": 640,
            "main_height": 360,
            "main_fps": 10,
            "main_bitrate": "1M",
            "sub_width": 320,
            "sub_height": 180,
            "sub_fps": 10,
            # "300k" crashes ipycam's GetProfiles; "300K" works (TESTING.md)
            "sub_bitrate": "300K",
            "hw_accel": "cpu",
            "show_timestamp": True,
            "username": self.username,
            "password": self.password,
        }
        cfg = self.log_dir / "ipycam.json"
        cfg.write_text(json.dumps(config))
        log = open(self.log_dir / "ipycam.log", "ab")  # noqa: SIM115 - closed in __exit__
        self._log = log
        self.proc = subprocess.Popen(
            [
                str(ipycam_python()),
                "-m",
                "ipycam",
                "--config",
                str(cfg),
                "--source",
                str(self.source),
                "--width",
                "640",
                "--height",
                "360",
                "--fps",
                "10",
                "--hw",
                "cpu",
                "--log-level",
                "INFO",
            ],
            cwd=self.log_dir,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        if not (_wait_port(self.onvif_port, 60) and _wait_port(self.rtsp_port, 30)):
            self.__exit__()
            raise RuntimeError(f"ipycam did not start; see {self.log_dir / 'ipycam.log'}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.onvif_port}"


@pytest.fixture
def ipycam(tmp_path: Path, camera_clips) -> Iterator[IpyCam]:
    """ipycam without authentication."""
    from tests.support.clips import ClipSpec

    clips = camera_clips(ClipSpec(width=640, height=360, seconds=20, passages=((4.0, 10.0),)))
    with IpyCam(clips.main_ts, tmp_path / "ipycam") as cam:
        yield cam


@pytest.fixture
def ipycam_auth(tmp_path: Path, camera_clips) -> Iterator[IpyCam]:
    """ipycam demanding WS-UsernameToken ``admin`` / ``Porch-Light_42``."""
    from tests.support.clips import ClipSpec

    clips = camera_clips(ClipSpec(width=640, height=360, seconds=20, passages=((4.0, 10.0),)))
    with IpyCam(clips.main_ts, tmp_path / "ipycam-auth", username="admin", password="Porch-Light_42") as cam:
        yield cam


if __name__ == "__main__":
    if "--provision" in sys.argv:
        print(ipycam_python())


__all__ = ["IpyCam", "in_netns", "ipycam", "ipycam_auth", "ipycam_python", "require_netns", "sys"]
