"""Another account on the machine cannot use the owner's hub: three locks, each tested alone.

A client runs as ``nobody`` (``runuser -u nobody -- /usr/bin/python3``, standard library only: the
venv under /root is not for nobody) against a ``porchlight serve`` recording a data dir inside a 0711
folder (nobody may pass through it, not list it):

1. the data dir as the hub makes it (0700): nobody cannot reach ``hub.sock`` at all;
2. the data dir opened to passing through (0711): the socket's own mode (0600) refuses the connect;
3. the socket opened to everyone as well (0666): the connect succeeds and the hub's ``SO_PEERCRED``
   check refuses the client (a Failure, a closed connection, a warning naming its uid) — the
   self-test that the peer check holds when the file modes do not.

Meanwhile the owner's client works and the camera records. Needs root (runuser); CI runs as root.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.api import endpoint, wire
from tests.support.apitools import ServedHub
from tests.support.hubtools import camera, configure, wait_for
from tests.support.peers import require_peer

SYSTEM_PYTHON = "/usr/bin/python3"

# Connect, say hello, print what happened: "connect ERRNO", or "reply HEX" (the hub's bytes).
CLIENT = r"""
import socket, sys
path, hello = sys.argv[1], bytes.fromhex(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect(path)
except OSError as exc:
    print("connect", exc.errno)
    sys.exit(0)
try:
    s.sendall(hello)
except OSError:
    pass  # the hub may have closed already: what it sent is still there to read
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print("reply", data.hex())
"""


def _as_nobody(sock: Path) -> tuple[str, bytes]:
    hello = wire.frame(wire.encode(wire.Hello(protocol=wire.PROTOCOL, client="nobody")))
    r = subprocess.run(
        ["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-c", CLIENT, str(sock), hello.hex()],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert r.returncode == 0, r.stderr
    what, _, value = r.stdout.strip().partition(" ")
    return what, bytes.fromhex(value) if what == "reply" else value.encode()


@pytest.fixture
def served() -> Iterator[tuple[ServedHub, Path]]:
    """A serve recording the demo camera on a data dir inside a 0711 folder."""
    require_peer("root (runuser -u nobody)", os.geteuid() == 0 and shutil.which("runuser") is not None)
    require_peer(SYSTEM_PYTHON, os.access(SYSTEM_PYTHON, os.X_OK))
    require_peer("the nobody account", _has_nobody())
    base = Path(tempfile.mkdtemp(prefix="porchlight-acct-", dir="/tmp"))
    try:
        os.chmod(base, 0o711)
        data = base / "data"
        configure(data, [camera("Demo", None, driver="demo", mode="continuous")], segment_seconds=2.0)
        api = ServedHub.start(data)
        try:
            wait_for(lambda: api.status().cameras[0].state == "recording", 30, "the demo recording")
            yield api, data
        finally:
            api.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _has_nobody() -> bool:
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


def _still_the_owner_s(api: ServedHub) -> None:
    assert api.status().cameras[0].state == "recording" and api.serve.proc.poll() is None


def test_the_data_dir_keeps_another_account_away_from_the_socket(served):
    api, data = served
    assert os.stat(data).st_mode & 0o777 == 0o700
    assert _as_nobody(endpoint.link_path(data)) == ("connect", str(errno.EACCES).encode())
    _still_the_owner_s(api)


def test_the_socket_s_mode_alone_refuses_another_account(served):
    api, data = served
    os.chmod(data, 0o711)  # nobody may now pass through the data dir to the socket
    sock = endpoint.link_path(data)
    assert os.stat(sock).st_mode & 0o777 == 0o600
    assert _as_nobody(sock) == ("connect", str(errno.EACCES).encode())
    _still_the_owner_s(api)


def test_the_peer_check_alone_refuses_another_account(served):
    """The self-test: with the data dir and the socket open to everyone, only the hub's peer check
    stands between nobody and the hub, and it refuses before reading a byte."""
    api, data = served
    os.chmod(data, 0o711)
    sock = endpoint.link_path(data)
    os.chmod(sock, 0o666)
    what, reply = _as_nobody(sock)
    assert what == "reply", (what, reply)
    assert len(reply) > 4, "the hub said nothing"
    size = int.from_bytes(reply[:4], "big")
    msg = wire.hub_decoder.decode(reply[4 : 4 + size])
    assert isinstance(msg, wire.Failure), msg
    assert (msg.error.kind, msg.error.message) == ("unavailable", "this hub belongs to another account")
    assert len(reply) == 4 + size, "the hub went on talking to another account"
    nobody = pwd.getpwnam("nobody").pw_uid
    wait_for(lambda: f"(uid {nobody})" in api.serve.output(), 10, "the refusal in the hub's log")
    _still_the_owner_s(api)
