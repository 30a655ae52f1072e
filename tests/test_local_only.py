"""Promise 1: nothing leaves the machine by default. The hub talks only to the cameras the owner
added (here on 127.0.0.1) and listens on nothing."""

from __future__ import annotations

import json
import os
import subprocess
import time

import psutil
import pytest

from tests.support import netaudit
from tests.support.clips import ClipSpec
from tests.support.hubtools import camera, configure, segments

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def test_serve_contacts_only_its_cameras_and_listens_on_nothing(rtsp_camera, tmp_path):
    cam = rtsp_camera(ClipSpec(seconds=20, passages=()))
    data = tmp_path / "data"
    rtsp_cam, demo = configure(
        data,
        [camera("Porch", cam.url, sub_url=cam.sub_url, mode="motion"), camera("Demo", None, driver="demo")],
    )
    log = tmp_path / "audit.jsonl"
    proc = subprocess.Popen(
        netaudit.command(log, data, "serve", "--duration", "20"),
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[tuple] = set()
    try:
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + 40
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                for p in [ps, *ps.children(recursive=True)]:
                    for c in p.net_connections(kind="inet"):
                        seen.add(
                            (
                                c.status,
                                c.laddr.ip if c.laddr else None,
                                c.laddr.port if c.laddr else None,
                                c.raddr.ip if c.raddr else None,
                                c.raddr.port if c.raddr else None,
                            )
                        )
            except psutil.NoSuchProcess:
                break
            time.sleep(0.2)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert segments(data, rtsp_cam.id) and segments(data, demo.id), "the cameras did not record"

    listening = [s for s in seen if s[0] == psutil.CONN_LISTEN]
    assert not listening, f"the hub listens on {listening}"
    remote = {(s[3], s[4]) for s in seen if s[3]}
    assert remote, "no connection observed: the check would prove nothing"
    assert all(ip in LOOPBACK for ip, _port in remote), remote
    assert {port for _ip, port in remote} <= {cam.port}, f"unexpected peers: {remote}"
    assert all(s[1] in LOOPBACK | {None, "0.0.0.0", "::"} for s in seen)
    # Python-level activity: no name lookups, no connects anywhere else.
    events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for e in events:
        text = " ".join(e["args"])
        assert e["event"] != "socket.getaddrinfo" or "127.0.0.1" in text or "localhost" in text, e
        if e["event"] in ("socket.connect", "socket.sendto"):
            assert "127.0.0.1" in text or "::1" in text or "/" in text, e  # unix sockets are local
