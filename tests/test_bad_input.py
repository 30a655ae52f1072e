"""Cameras that misbehave get a clear state and message; the good camera never stops."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from hub.core import secrets
from tests.support.clips import ClipSpec
from tests.support.hubtools import camera, configure, segments, start_hub, state_of, wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Silent:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


class _Text(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = b"<html><body>this is a web page, not a camera</body></html>" * 50
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def text_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Text)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/stream"
    server.shutdown()
    server.server_close()


def test_bad_cameras_get_clear_errors_and_the_good_one_keeps_recording(rtsp_camera, tmp_path, text_server):
    spec = ClipSpec(seconds=20, passages=())
    good = rtsp_camera(spec)
    locked = rtsp_camera(spec, user="admin", password="right-password")
    silent = _Silent()
    data = tmp_path / "data"
    cams = configure(
        data,
        [
            camera("Good", good.url, detect=False),
            camera("Refused", f"rtsp://127.0.0.1:{_free_port()}/stream", detect=False),
            camera("Silent", f"rtsp://127.0.0.1:{silent.port}/stream", detect=False),
            camera("WrongPath", good.url.rsplit("/", 1)[0] + "/no-such-stream", detect=False),
            camera("WebPage", text_server, detect=False),
            camera("WrongPassword", locked.url, detect=False, has_credentials=True),
        ],
        segment_seconds=4.0,
    )
    ids = {c.name: c.id for c in cams}
    from hub.db import repo_config
    from hub.db.engine import open_engine

    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    secrets.set_camera_credentials(
        repo_config.index_id(engine), ids["WrongPassword"], "admin", "not-the-password"
    )
    engine.dispose()
    hub = start_hub(data, open_timeout_s=4.0)
    try:
        wait_for(lambda: state_of(hub, ids["Good"]) == "recording", 20, "the good camera recording")
        start = time.time() * 1000

        def settled() -> bool:
            st = {s.camera_id: s for s in hub.statuses()}
            return all(st[ids[n]].last_error for n in ids if n != "Good")

        wait_for(settled, 25, "every bad camera to report an error")
        statuses = {s.camera_id: s for s in hub.statuses()}
        time.sleep(4)
        end = time.time() * 1000
        assert state_of(hub, ids["Good"]) == "recording"
    finally:
        hub.stop()
        silent.close()

    def err(name: str) -> str:
        return statuses[ids[name]].last_error or ""

    assert statuses[ids["WrongPassword"]].state == "auth_failed"
    assert "refused the username or password" in err("WrongPassword")
    assert "refused the connection" in err("Refused")
    assert "sent nothing" in err("Silent") or "did not answer" in err("Silent")
    assert "no stream at this path" in err("WrongPath")
    assert "video" in err("WebPage")
    for name in ("Refused", "Silent", "WrongPath", "WebPage"):
        assert statuses[ids[name]].state in ("reconnecting", "offline"), (name, statuses[ids[name]])
    for name in ids:
        assert "not-the-password" not in err(name) and "right-password" not in err(name)
    # The good camera recorded throughout, without a gap.
    segs = [s for s in segments(data, ids["Good"]) if s.end_ms > start and s.start_ms < end]
    assert segs and segs[0].start_ms <= start and segs[-1].end_ms >= end - 4500
    assert all(b.start_ms - a.end_ms <= 100 for a, b in zip(segs, segs[1:], strict=False))
    for name in ids:
        if name != "Good":
            assert segments(data, ids[name]) == []
