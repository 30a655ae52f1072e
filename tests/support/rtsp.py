"""A fake IP camera on 127.0.0.1: the gst-rtsp-server peer plus one ffmpeg pusher.

``RtspCamera`` starts ``tests/peers/rtsp_server.py`` (its own process, ephemeral RTSP port) with mounts
``main`` and ``sub``, then one ``ffmpeg -re -stream_loop -1 ... -c copy -f rtp`` that loops the
camera's clips (and, optionally, a G.711 µ-law tone on ``main``) to the server's UDP ports. The server
can be stopped and restarted on the same port, and the pusher paused (SIGSTOP: the RTSP session stays
up but no media flows). Every child gets SIGKILL when the process (strictly: the thread) that started
it dies, and ``close()`` runs at interpreter exit for cameras left open, so no process outlives a test.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import select
import signal
import subprocess
import time
import urllib.parse
import weakref
from pathlib import Path
from typing import IO

from tests.support.clips import CameraClips
from tests.support.peers import SYSTEM_PYTHON

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "peers" / "rtsp_server.py"
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_live: weakref.WeakSet[RtspCamera] = weakref.WeakSet()


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when its parent goes away (Linux)."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class RtspCamera:
    """One camera: ``url`` (main, spec size, barcode) and ``sub_url`` (half size) on 127.0.0.1."""

    def __init__(
        self,
        clips: CameraClips,
        log_dir: Path,
        *,
        audio: bool = False,
        user: str | None = None,
        password: str | None = None,
        ready_timeout_s: float = 20.0,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("user and password go together")
        self.clips = clips
        self.log_dir = log_dir
        self.audio = audio
        self.user, self.password = user, password
        self.ready_timeout_s = ready_timeout_s
        self.port = 0
        self.udp_ports: dict[tuple[str, str], int] = {}  # (mount, kind) -> port
        self.paused = False
        self._server: subprocess.Popen[bytes] | None = None
        self._pusher: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> RtspCamera:
        """Start the server, then the pusher; return self."""
        _live.add(self)
        try:
            self.start_server()
            self._start_pusher()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> RtspCamera:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the pusher and the server; safe to call twice."""
        if self._pusher is not None:
            self._pusher.kill()  # SIGKILL also ends a stopped (paused) process
            self._pusher.wait()
            self._pusher = None
            self.paused = False
        self.stop_server()
        for fh in self._logs:
            fh.close()
        self._logs.clear()
        _live.discard(self)

    # -- URLs --------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``rtsp://127.0.0.1:PORT/main`` (no credentials)."""
        return self.url_for("main")

    @property
    def sub_url(self) -> str:
        """``rtsp://127.0.0.1:PORT/sub`` (no credentials)."""
        return self.url_for("sub")

    def url_for(self, mount: str = "main", *, user: str | None = None, password: str | None = None) -> str:
        """URL of ``mount``, with ``user:password@`` when given (percent-encoded)."""
        if not self.port:
            raise RuntimeError("the camera has not been started")
        userinfo = ""
        if user is not None:
            userinfo = urllib.parse.quote(user, safe="")
            if password is not None:
                userinfo += ":" + urllib.parse.quote(password, safe="")
            userinfo += "@"
        return f"rtsp://{userinfo}{HOST}:{self.port}/{mount}"

    # -- server ------------------------------------------------------------------------------------
    @property
    def server_pid(self) -> int | None:
        """PID of the running RTSP server process, if any."""
        return self._server.pid if self.server_running and self._server is not None else None

    @property
    def pusher_pid(self) -> int | None:
        """PID of the ffmpeg pusher, if any."""
        return self._pusher.pid if self._pusher is not None else None

    @property
    def server_running(self) -> bool:
        """True while the RTSP server process is alive."""
        return self._server is not None and self._server.poll() is None

    def start_server(self) -> None:
        """Start the RTSP server (again on the same RTSP and UDP ports after a stop)."""
        if self.server_running:
            return
        mounts = {"main": ["video"] + (["audio"] if self.audio else []), "sub": ["video"]}
        args = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--watch-stdin", "--port", str(self.port)]
        if self.user is not None:
            args += ["--user", self.user, "--password", str(self.password)]
        for mount, kinds in mounts.items():
            args.append(mount + "=" + ",".join(f"{k}:{self.udp_ports.get((mount, k), 0)}" for k in kinds))
        log = self._log("rtsp_server.log")
        started = time.monotonic()
        self._server = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, preexec_fn=_die_with_parent
        )
        lines = self._read_until_ready(self._server)
        for line in lines:
            word, *rest = line.split()
            if word == "UDP":
                self.udp_ports[(rest[0], rest[1])] = int(rest[2])
            elif word == "READY":
                self.port = int(rest[0])
        logger.info("rtsp server ready on port %d in %.2f s", self.port, time.monotonic() - started)

    def stop_server(self) -> None:
        """Stop the RTSP server (SIGTERM, then SIGKILL); clients see the connection drop."""
        server, self._server = self._server, None
        if server is None:
            return
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.warning("rtsp server ignored SIGTERM; killing it")
            server.kill()
            server.wait()
        for pipe in (server.stdin, server.stdout):
            if pipe is not None:
                pipe.close()

    def _read_until_ready(self, proc: subprocess.Popen[bytes]) -> list[str]:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self.ready_timeout_s
        data = b""
        while b"READY " not in data or not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                self.stop_server()
                why = "timed out" if remaining <= 0 else f"exited with {proc.returncode}"
                raise RuntimeError(
                    f"rtsp_server.py {why} before READY; see {self.log_dir / 'rtsp_server.log'}"
                )
            if select.select([fd], [], [], min(remaining, 0.2))[0]:
                data += os.read(fd, 4096)
        return data.decode().splitlines()

    # -- pusher ------------------------------------------------------------------------------------
    def _start_pusher(self) -> None:
        args = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin"]
        args += ["-re", "-stream_loop", "-1", "-i", str(self.clips.main_ts)]
        args += ["-re", "-stream_loop", "-1", "-i", str(self.clips.sub_ts)]
        if self.audio:
            args += ["-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000"]
        args += ["-map", "0:v", "-c", "copy", "-f", "rtp", self._rtp_url("main", "video")]
        args += ["-map", "1:v", "-c", "copy", "-f", "rtp", self._rtp_url("sub", "video")]
        if self.audio:
            args += ["-map", "2:a", "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"]
            args += ["-f", "rtp", self._rtp_url("main", "audio")]
        self._pusher = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log("pusher.log"),
            preexec_fn=_die_with_parent,
        )

    def _rtp_url(self, mount: str, kind: str) -> str:
        # localaddr: otherwise ffmpeg binds its sending sockets to 0.0.0.0
        return f"rtp://{HOST}:{self.udp_ports[(mount, kind)]}?pkt_size=1316&localaddr={HOST}"

    def pause(self) -> None:
        """Freeze the pusher (SIGSTOP): sessions stay open, no media reaches clients."""
        if self._pusher is not None and not self.paused:
            self._pusher.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self, *, fresh: bool = False) -> None:
        """Let media flow again.

        Default: SIGCONT, after which ``-re`` catches up with a burst that the server re-stamps
        with near-identical timestamps (a harsh case). ``fresh=True`` replaces the frozen pusher
        with a new one, so live frames simply resume, as with a real camera after a stall.
        """
        if self._pusher is None or not self.paused:
            return
        if fresh:
            self._pusher.kill()
            self._pusher.wait()
            self._start_pusher()
        else:
            self._pusher.send_signal(signal.SIGCONT)
        self.paused = False

    def _log(self, name: str) -> IO[bytes]:
        fh = open(self.log_dir / name, "ab")  # closed in close()
        self._logs.append(fh)
        return fh


@atexit.register
def _close_all() -> None:
    for camera in list(_live):
        camera.close()
