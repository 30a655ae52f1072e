"""The Hub API over ``hub.sock``, against real ``porchlight serve`` processes: what only the socket
has. The shared suites (tests/test_api.py, tests/test_api_media.py) run over it too.

- the socket: owner-only, the hub's pid, many clients at once, ``stop`` through the API;
- the CLI through a running hub: the note on stderr, live status, ``porchlight stop``;
- hostile and broken clients get an error and a closed connection while the cameras record;
- a stale socket after ``kill -9``; a data dir too long for a socket path; another version's hub;
- a long list in parts; a client that goes away in the middle of an export cancels it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import psutil
import pytest

from hub.api import connect, endpoint, wire
from hub.api.client import SocketHub
from hub.api.errors import HubStoppedError, HubVersionError, UnavailableError, ValidationError
from hub.api.index import IndexOnly
from hub.api.types import CameraChange, ExportRequest, NewCamera, Recording
from hub.core.model import MotionSettings, Segment
from hub.db import repo_media
from hub.db.tx import run_write
from hub.storage.lock import HubLock
from tests.support import e2e
from tests.support.apitools import ServedHub, answering_hub_pid
from tests.support.clitools import REPO_ROOT, Serve, assert_one_line_error, cli_json, ok, run_cli
from tests.support.hubtools import camera, configure, decode_file, segments, wait_for
from tests.support.rawclient import Raw

DEMO = camera("Demo", None, driver="demo", mode="continuous", motion=MotionSettings(gap_s=1.0))


def _recording(data: Path, **settings: object) -> ServedHub:
    """A serve on ``data`` recording the demo camera in 2-s segments, once it records."""
    configure(data, [DEMO], segment_seconds=2.0, **settings)
    api = ServedHub.start(data)
    wait_for(lambda: _state(api, "Demo") == "recording", 30, "the demo camera recording", 0.2)
    return api


def _state(api: SocketHub | IndexOnly, name: str) -> str:
    return next((c.state for c in api.status().cameras if c.name == name), "absent")


def _files(data: Path) -> int:
    return len(list((data / "recordings").rglob("*.mp4")))


def _failure(msg: object, kind: str) -> wire.ErrorInfo:
    assert isinstance(msg, wire.Failure), msg
    assert msg.error.kind == kind, msg.error
    return msg.error


# -- the socket and the hub behind it ---------------------------------------------------------------------


def test_serve_answers_its_owner_on_hub_sock_and_stops_through_the_api(tmp_path):
    data = tmp_path / "data"
    api = _recording(data)
    try:
        sock = data / "hub.sock"
        assert stat.S_ISSOCK(sock.lstat().st_mode) and stat.S_IMODE(sock.lstat().st_mode) == 0o600
        assert api.hub_pid == api.serve.pid
        st = api.status()
        assert st.hub.running and st.hub.pid == api.serve.pid and st.hub.started_ms
        with connect(data) as other:
            assert isinstance(other, SocketHub) and other.hub_pid == api.serve.pid

        # A camera added through the socket is started before the call returns (no index poll).
        api.add_camera(NewCamera(name="Yard", driver="demo", mode="continuous"))
        assert _state(api, "Yard") in ("connecting", "recording")

        # Many clients at once, each on its own connection.
        errors: list[BaseException] = []

        def client() -> None:
            try:
                with SocketHub.open(data) as c:
                    for _ in range(20):
                        assert c.status().hub.pid == api.serve.pid
                        assert [x.name for x in c.cameras()] == ["Demo", "Yard"]
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors

        before = len(segments(data))
        api.stop()  # returns once the hub has stopped: the lock is free, the socket gone
        assert HubLock.holder(data) is None and not sock.exists()
        assert api.serve.wait(20) == 0
        finalized = segments(data)
        assert len(finalized) > before  # the open segments were closed and indexed
        last = max(finalized, key=lambda s: s.end_ms)
        assert decode_file(data / "recordings" / last.path).times
    finally:
        api.close()
    with connect(data, wait_s=0) as after:  # nothing listens any more: the index
        assert isinstance(after, IndexOnly)
    r = ok(run_cli(data, "stop"))
    assert "no hub runs" in r.stderr


def test_the_cli_goes_through_the_running_hub(tmp_path):
    data = tmp_path / "data"
    configure(data, [DEMO], segment_seconds=2.0)
    with Serve(data, log=tmp_path / "serve.log") as serve:
        wait_for(lambda: endpoint.connect_path(data) is not None, 30, "hub.sock")
        r = ok(run_cli(data, "cameras", "set", "Demo", "--mode", "motion"))
        assert r.stdout == "updated camera 'Demo'\n"
        assert r.stderr == f"porchlight: the running hub (pid {serve.pid}) applied the change\n"
        doc = cli_json(data, "status")
        assert doc["hub"]["running"] and doc["hub"]["pid"] == serve.pid
        assert [c["camera"] for c in doc["cameras"]] == ["Demo"]
        # A query is not a change: no note, and the same JSON as without a hub.
        r = ok(run_cli(data, "cameras", "list", "--json"))
        assert r.stderr == "" and json.loads(r.stdout)[0]["mode"] == "motion"
        # Talking to the hub loads no index, media or Qt library in the CLI's process.
        heavy = ("sqlalchemy", "alembic", "av", "cv2", "numpy", "PySide6", "keyring", "hub.db", "hub.hub")
        code = (
            "import sys, json, cli.main; "
            f"code = cli.main.main(['--data-dir', {str(data)!r}, 'status']); "
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)"
        )
        r = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(r.stderr.strip().splitlines()[-1]) == [] and "running" in r.stdout
        r = ok(run_cli(data, "stop"))
        assert f"the hub (pid {serve.pid}) stopped" in r.stderr
        assert serve.wait(20) == 0
    assert not (data / "hub.sock").exists()


# -- hostile and broken clients -----------------------------------------------------------------------------


def test_hostile_messages_get_an_error_and_the_cameras_keep_recording(tmp_path):
    data = tmp_path / "data"
    api = _recording(data)
    opened: list[Raw] = []

    def raw() -> Raw:
        opened.append(Raw(data))
        return opened[-1]

    try:
        files = _files(data)
        # Half a message, never finished: closed after the read timeout (10 s); checked at the end.
        cut = raw()
        cut.hello()
        cut.sock.sendall(struct.pack(">I", 100) + b"\x81\xa4type")

        # A length over the 1 MiB cap: refused before a byte of it is read.
        big = raw()
        big.sock.sendall(struct.pack(">I", 0xFFFFFFF0))
        assert "cap" in _failure(big.next(), "protocol").message and big.closed()
        # Garbage, and a pickle, where a message should be.
        for junk in (os.urandom(64), b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94."):
            bad = raw()
            bad.sock.sendall(struct.pack(">I", len(junk)) + junk)
            assert "malformed" in _failure(bad.next(), "protocol").message and bad.closed()
        # A call before hello; a hello of another version.
        early = raw()
        _failure(early.send(wire.Call(id=1, method="status")).next(), "protocol")
        assert early.closed()
        newer = raw()
        info = _failure(newer.send(wire.Hello(protocol=wire.PROTOCOL + 1)).next(), "version")
        assert "restart the hub" in info.message and newer.closed()

        # Well framed but wrong: an error reply, and the connection goes on.
        c = raw()
        c.hello()
        assert "restart the hub" in _failure(c.call("format_disk"), "version").message
        info = _failure(c.call("camera", ref=5), "validation")
        assert (info.field, info.rule) == ("ref", "type")
        info = _failure(c.call("add_camera", new={"name": "X", "mode": "sideways"}), "validation")
        assert (info.field, info.rule) == ("mode", "one_of")
        info = _failure(c.call("add_camera", new={"name": "X", "owner": "me"}), "validation")
        assert (info.field, info.rule) == ("owner", "unknown")
        info = _failure(c.call("events", kinds=["burglar"]), "validation")
        assert (info.field, info.rule) == ("kinds", "one_of") and "doorbell" in info.message
        reply = c.call("status")
        assert isinstance(reply, wire.Reply)
        assert msgspec.msgpack.decode(reply.value)["hub"]["pid"] == api.serve.pid

        assert cut.closed(timeout=20), "a cut-off message kept its connection open"
        # Meanwhile the demo camera went on recording, and still does.
        wait_for(lambda: _files(data) >= files + 3, 20, "new segment files")
        assert _state(api, "Demo") == "recording" and api.serve.proc.poll() is None
        assert [c.name for c in api.cameras()] == ["Demo"]  # nothing was added
    finally:
        for r in opened:
            r.close()
        api.close()
    log = api.serve.output()
    assert "Traceback" not in log and "closed the connection" in log


def test_a_client_that_goes_away_mid_export_cancels_it(tmp_path):
    data = tmp_path / "data"
    out = tmp_path / "out"
    out.mkdir()
    api = _recording(data)
    try:
        wait_for(lambda: len(api.recordings()) >= 4, 30, "four segments")
        recs = api.recordings()
        clip = out / "clip.mp4"
        request = ExportRequest(
            camera="Demo", start_ms=recs[0].start_ms, end_ms=recs[-1].end_ms, path=str(clip)
        )
        c = Raw(data)
        c.hello()
        first = c.call("export", request=request)
        assert isinstance(first, wire.Progress)  # the export waits for an Ack that never comes
        c.close()
        time.sleep(1.0)
        assert not list(out.iterdir())  # neither the clip nor a partial file
        # The same export through a client that stays completes.
        assert api.export(request).path == str(clip) and decode_file(clip).times
        assert _state(api, "Demo") == "recording"
    finally:
        api.close()


def test_a_long_list_comes_in_parts(tmp_path):
    data = tmp_path / "data"
    configure(data, [camera("Ghost", "rtsp://127.0.0.1:9/x", enabled=False, mode="continuous")])
    api = _recording(data, max_age_days=None)
    try:
        # 8,000 recordings of a disabled camera, written into the index beside the hub.
        now = int(time.time() * 1000)
        rows = [
            Segment(
                None, "ghost", f"ghost/2026-12-01/00/{i:06d}.mp4", now - 10_000 * (i + 1), now - 10_000 * i, 1
            )
            for i in range(8000)
        ]
        with e2e.index(data) as engine:
            run_write(engine, lambda s: [repo_media.insert_segment(s, r) for r in rows])
        recs = api.recordings(camera="Ghost")
        assert len(wire.encode(recs)) > wire.MAX_FRAME  # one frame could not have carried it
        assert [r.path for r in recs] == [str(data / "recordings" / r.path) for r in reversed(rows)]
        assert all(isinstance(r, Recording) for r in recs)
    finally:
        api.close()


def test_list_parts_stay_under_the_cap():
    items = [{"n": i, "text": "x" * (i % 50)} for i in range(3000)]
    parts = list(wire.list_parts(items, limit=10_000))
    assert len(parts) > 5 and all(len(bytes(p)) <= 10_000 for p in parts)
    assert [x for p in parts for x in msgspec.msgpack.decode(p)] == items
    assert len(list(wire.list_parts(items[:3]))) == 1


# -- where the socket is, and who listens --------------------------------------------------------------------


def test_a_stale_socket_is_removed_only_by_the_hub_that_takes_the_lock(tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    with Serve(data, log=tmp_path / "a.log") as first:
        wait_for(lambda: endpoint.connect_path(data) is not None, 30, "hub.sock")
        assert_one_line_error(run_cli(data, "serve", "--duration", "5"), "already running")
        with connect(data) as api:  # the refused serve left the running hub's socket alone
            assert isinstance(api, SocketHub) and api.hub_pid == first.pid
        first.send(signal.SIGKILL)
        first.wait(10)
    assert stat.S_ISSOCK((data / "hub.sock").lstat().st_mode)  # left behind
    started = time.monotonic()
    with connect(data) as api:  # nothing answers and no hub holds the lock: the index, at once
        assert isinstance(api, IndexOnly)
    assert time.monotonic() - started < 2
    with Serve(data, log=tmp_path / "b.log") as second:
        wait_for(lambda: answering_hub_pid(data) == second.pid, 30, "the new hub on hub.sock")
        ok(run_cli(data, "stop"))
        assert second.wait(20) == 0


def test_a_data_dir_too_long_for_a_socket_listens_in_the_runtime_dir(tmp_path):
    with tempfile.TemporaryDirectory(prefix="plrun-") as short:  # pytest's tmp_path is long itself
        _listen_in_runtime_dir(tmp_path, Path(short))


def _listen_in_runtime_dir(tmp_path: Path, runtime: Path) -> None:
    data = tmp_path / ("a-long-folder-name-" * 4) / "porchlight-data"
    assert not endpoint.fits(data / "hub.sock")
    configure(data, [])
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    with Serve(data, log=tmp_path / "serve.log", env=env) as serve:
        wait_for(lambda: endpoint.connect_path(data) is not None, 30, "hub.sock")
        link = data / "hub.sock"
        target = Path(os.readlink(link))
        assert target.parent == runtime and target.name.startswith("porchlight-")
        assert stat.S_IMODE(target.lstat().st_mode) == 0o600
        assert cli_json(data, "status")["hub"]["pid"] == serve.pid
        ok(run_cli(data, "stop"))
        assert serve.wait(20) == 0
    assert not link.exists() and not link.is_symlink() and not list(runtime.iterdir())


def test_a_socket_path_that_cannot_fit_is_a_clear_error(tmp_path, monkeypatch):
    deep = tmp_path / ("r" * 120)
    deep.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    with pytest.raises(UnavailableError, match="longer than the 107 bytes"):
        endpoint.listen_path(tmp_path / ("d" * 120))


def test_a_hub_of_another_version_says_restart_the_hub(tmp_path):
    """A hub from another Porchlight (played here by a listener that welcomes with another protocol):
    the CLI says what to do, not a decode error."""
    data = tmp_path / "data"
    data.mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(data / "hub.sock"))
    listener.listen(4)
    listener.settimeout(30)

    def other_hub() -> None:
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                wire.FrameReader(conn, 10).read(10)
                wire.send(conn, wire.Welcome(protocol=wire.PROTOCOL + 1, pid=4242))

    t = threading.Thread(target=other_hub)
    t.start()
    try:
        with pytest.raises(HubVersionError, match=r"pid 4242.*restart the hub"):
            SocketHub.open(data)
        assert_one_line_error(run_cli(data, "cameras", "list"), "restart the hub", "porchlight stop")
    finally:
        listener.close()
        t.join(30)


def test_decode_errors_name_the_field_a_hub_in_process_would():
    add = wire.METHODS["add_camera"]
    for raw, field, rule in [
        ({"new": {"name": "X", "pre_roll_s": "long"}}, "pre_roll_s", "type"),
        ({"new": {"name": "X", "motion": {"zones": [{"name": "z"}]}}}, "motion.zones[0].polygon", "required"),
        ({"new": {}}, "name", "required"),
        ({"new": {"name": "X"}, "extra": 1}, "extra", "unknown"),
    ]:
        with pytest.raises(msgspec.ValidationError) as info:
            msgspec.convert(raw, add.args)
        err = wire.decode_error(info.value, add)
        assert isinstance(err, ValidationError) and (err.field, err.rule) == (field, rule), str(info.value)
    change = wire.METHODS["update_camera"]
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert({"ref": "x", "change": {"motion": {"sensitivity": "high"}}}, change.args)
    assert wire.decode_error(info.value, change).field == "motion.sensitivity"


def test_a_change_through_the_socket_is_stored_and_applied(tmp_path):
    data = tmp_path / "data"
    api = _recording(data)
    try:
        api.update_camera("Demo", CameraChange(enabled=False))
        assert _state(api, "Demo") == "stopped"  # at once, not at the next poll
        with IndexOnly.open(data) as index:
            assert not index.camera("Demo").enabled
    finally:
        api.close()


def test_the_app_s_hub_answers_the_cli_and_stops_without_it(tmp_path):
    """The desktop app (a real process, offscreen Qt) starts a hub process with the socket: the CLI
    reaches it, and ``porchlight stop`` finalizes its recording and ends it; the app stays open
    (it shows that the hub stopped) until it is quit."""
    data = tmp_path / "data"
    configure(data, [DEMO], segment_seconds=2.0)
    log = (tmp_path / "app.log").open("wb")
    app = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(data)],
        cwd=REPO_ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    hub_pid = None
    try:
        hub_pid = wait_for(lambda: answering_hub_pid(data), 60, "the app's hub on hub.sock")
        assert hub_pid != app.pid
        wait_for(lambda: cli_json(data, "status")["cameras"][0]["state"] == "recording", 30, "recording")
        hub = psutil.Process(hub_pid)  # taken before: a hub gone and reaped has no pid to look up
        r = ok(run_cli(data, "stop"))
        assert f"(pid {hub_pid}) stopped" in r.stderr
        hub.wait(30)
        hub_pid = None
        assert segments(data, "demo")  # what it recorded was finalized and indexed
        assert app.poll() is None  # the window goes on, saying the hub stopped
        app.send_signal(signal.SIGTERM)
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
        if hub_pid is not None and psutil.pid_exists(hub_pid):
            os.kill(hub_pid, signal.SIGKILL)
        log.close()
    assert not (data / "hub.sock").exists() and HubLock.holder(data) is None


@pytest.mark.parametrize(
    ("how", "why"),
    [("stop", "it was asked to stop"), (signal.SIGTERM, "it got SIGTERM"), (signal.SIGKILL, None)],
)
def test_a_subscriber_is_told_whether_the_hub_stopped_on_purpose(tmp_path, how, why):
    """A planned stop ends every subscription with HubStoppedError and its reason (a client waits
    for such a hub); a hub killed ends it with a lost connection (a client may start another)."""
    data = tmp_path / "data"
    configure(data, [])
    with ServedHub.start(data) as api, api.subscribe(["storage"]) as sub:
        if how == "stop":
            ok(run_cli(data, "stop"))
        else:
            api.serve.send(how)
        with pytest.raises(UnavailableError) as ended:
            while sub.get(timeout=30) is not None:
                pass
        api.serve.wait(30)
    if why is None:
        assert not isinstance(ended.value, HubStoppedError) and "lost" in str(ended.value)
    else:
        assert isinstance(ended.value, HubStoppedError) and str(ended.value) == f"the hub stopped: {why}"
