"""Promise 5: camera passwords live in the OS keyring only (never the index, logs, status or exceptions),
and without a secure keyring Porchlight refuses to store one instead of falling back to plain text."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.clips import ClipSpec
from tests.support.clitools import (
    REPO_ROOT,
    Serve,
    assert_one_line_error,
    cli_json,
    db_cameras,
    ok,
    run_cli,
    status_of,
    wait_state,
)
from tests.support.keyring_backend import ENV as KEYRING_ENV
from tests.support.tcp_counter import CountingRelay

SERVICE = "porchlight"
NO_STORE = "no secure password store"
ALT_SIM = REPO_ROOT / "tests" / "support" / "keyrings_alt_sim"


def keyring_file() -> dict:
    """The test FileKeyring's content (service -> key -> secret)."""
    path = Path(os.environ[KEYRING_ENV])
    return json.loads(path.read_text()) if path.exists() else {}


def stored(camera_id: str) -> tuple[str | None, str | None]:
    """The camera's keyring entries (keys are scoped by the index id: ``<index>/camera/<id>/...``)."""
    entries = keyring_file().get(SERVICE, {})
    found = {}
    for key, value in entries.items():
        for field in ("username", "password"):
            if key.endswith(f"/camera/{camera_id}/{field}"):
                assert field not in found, f"two indexes hold credentials for {camera_id}: ambiguous"
                found[field] = value
    return found.get("username"), found.get("password")


def leak_forms(secret: str, user: str | None = None) -> list[bytes]:
    """The byte strings that would reveal ``secret``: as is, percent-encoded, and in a Basic auth header."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    if user is not None:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return sorted(f.encode() for f in forms)


def assert_not_in_files(root: Path, secret: str, user: str | None = None) -> int:
    """No file under ``root`` (SQLite db, -wal, -shm, backups, lock, thumbnails, recordings) holds it."""
    checked = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            checked += 1
            for form in leak_forms(secret, user):
                assert form not in data, f"{form!r} found in {path}"
    return checked


def assert_not_in_text(text: str, secret: str, where: str, user: str | None = None) -> None:
    for form in leak_forms(secret, user):
        assert form.decode() not in text, f"{form.decode()!r} found in {where}"


def _env(**changes: str | None) -> dict[str, str]:
    env = os.environ.copy()
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


# --- credentials go to the keyring ----------------------------------------------------------------------


def test_url_credentials_move_to_keyring(tmp_path):
    data = tmp_path / "data"
    pw = "Quokka-Lantern_5519"
    r = ok(
        run_cli(
            data,
            "cameras",
            "add",
            "UrlCreds Cam",
            "--url",
            f"rtsp://alice:{pw}@127.0.0.1:9/main?channel=1",
            "--sub-url",
            f"rtsp://alice:{pw}@127.0.0.1:9/sub",
        )
    )
    assert_not_in_text(r.stdout + r.stderr, pw, "cameras add output")
    (cam,) = cli_json(data, "cameras", "list")
    assert cam["url"] == "rtsp://127.0.0.1:9/main?channel=1"
    assert cam["sub_url"] == "rtsp://127.0.0.1:9/sub"
    assert cam["has_credentials"] is True
    listing = ok(run_cli(data, "cameras", "list")).stdout + json.dumps(cam)
    assert_not_in_text(listing, pw, "cameras list")
    assert "alice" not in listing
    assert stored(cam["id"]) == ("alice", pw)
    assert assert_not_in_files(data, pw, "alice") >= 1

    # Removing the camera forgets its credentials.
    ok(run_cli(data, "cameras", "remove", "UrlCreds Cam"))
    assert stored(cam["id"]) == (None, None)


def test_password_stdin_stores_credentials(tmp_path):
    data = tmp_path / "data"
    pw = "Marmot Velvet 8842 ~ ok"  # spaces and a tilde: read as one line, kept exactly
    ok(
        run_cli(
            data,
            "cameras",
            "add",
            "Stdin Cam",
            "--url",
            "rtsp://127.0.0.1:9/main",
            "--username",
            "bob",
            "--password-stdin",
            input=pw + "\n",
        )
    )
    (cam,) = cli_json(data, "cameras", "list")
    assert cam["has_credentials"] is True and cam["url"] == "rtsp://127.0.0.1:9/main"
    assert stored(cam["id"]) == ("bob", pw)
    assert_not_in_files(data, pw)

    # Changing the password later goes to the keyring as well.
    pw2 = "Marmot-Second_1190"
    ok(
        run_cli(
            data, "cameras", "set", "Stdin Cam", "--username", "bob", "--password-stdin", input=pw2 + "\r\n"
        )
    )
    assert stored(cam["id"]) == ("bob", pw2)
    assert_not_in_files(data, pw2)


def test_credentials_given_twice_are_refused(tmp_path):
    data = tmp_path / "data"
    r = run_cli(
        data,
        "cameras",
        "add",
        "Twice",
        "--url",
        "rtsp://a:b1234@127.0.0.1:9/m",
        "--username",
        "c",
        "--password-stdin",
        input="d5678\n",
    )
    assert_one_line_error(r, "once")
    assert_not_in_text(r.stderr, "b1234", "stderr")
    r = run_cli(
        data,
        "cameras",
        "add",
        "Twice",
        "--url",
        "rtsp://a:b1234@127.0.0.1:9/m",
        "--sub-url",
        "rtsp://x:y9876@127.0.0.1:9/s",
    )
    assert_one_line_error(r, "same credentials")
    assert_not_in_text(r.stderr, "y9876", "stderr")
    assert db_cameras(data) == []


def test_two_data_dirs_keep_separate_credentials(tmp_path):
    a, b = tmp_path / "home", tmp_path / "shop"
    ok(
        run_cli(
            a,
            "cameras",
            "add",
            "Same Name",
            "--url",
            "rtsp://127.0.0.1:9/a",
            "--username",
            "u",
            "--password-stdin",
            input="Home-Secret_4401\n",
        )
    )
    ok(
        run_cli(
            b,
            "cameras",
            "add",
            "Same Name",
            "--url",
            "rtsp://127.0.0.1:9/b",
            "--username",
            "u",
            "--password-stdin",
            input="Shop-Secret_9902\n",
        )
    )
    secrets_now = set(keyring_file().get(SERVICE, {}).values())
    try:
        assert "Home-Secret_4401" in secrets_now, "adding a camera to another data dir replaced this password"
        ok(run_cli(b, "cameras", "remove", "Same Name"))
        assert "Home-Secret_4401" in set(keyring_file().get(SERVICE, {}).values())
    finally:
        for d in (a, b):
            run_cli(d, "cameras", "remove", "Same Name")


# --- which keyring ----------------------------------------------------------------------------------------

_SHOW_BACKEND = (
    "import keyring, hub.core.secrets as s; k = keyring.get_keyring(); b = s.backend(); "
    "print(type(k).__module__ + '.' + type(k).__qualname__); print(b is k)"
)


def test_subprocess_uses_the_test_file_keyring():
    r = subprocess.run(
        [sys.executable, "-c", _SHOW_BACKEND],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["tests.support.keyring_backend.FileKeyring", "True"]


def _refused_everywhere(data: Path, env: dict[str, str]) -> None:
    """With ``env``'s keyring, credentials are refused in one line and nothing is added."""
    r = run_cli(
        data,
        "cameras",
        "add",
        "Creds",
        "--url",
        "rtsp://127.0.0.1:9/m",
        "--username",
        "u",
        "--password-stdin",
        input="Never-Stored_3141\n",
        env=env,
    )
    assert_one_line_error(r, NO_STORE, "plain text")
    r = run_cli(data, "cameras", "add", "Creds", "--url", "rtsp://u:Never-Stored_3141@127.0.0.1:9/m", env=env)
    assert_one_line_error(r, NO_STORE)
    assert_not_in_text(r.stderr, "Never-Stored_3141", "stderr")
    assert db_cameras(data) == []
    # A camera without credentials needs no keyring.
    ok(run_cli(data, "cameras", "add", "Open Cam", "--url", "rtsp://127.0.0.1:9/open", env=env))
    assert db_cameras(data) == [("open-cam", "Open Cam")]
    # ...but giving it a password later is refused too, and changes nothing.
    r = run_cli(
        data,
        "cameras",
        "set",
        "Open Cam",
        "--username",
        "u",
        "--password-stdin",
        input="Never-Stored_3141\n",
        env=env,
    )
    assert_one_line_error(r, NO_STORE)
    assert cli_json(data, "cameras", "list", env=env)[0]["has_credentials"] is False
    if data.exists():
        assert_not_in_files(data, "Never-Stored_3141")


def test_fail_backend_refuses_credentials(tmp_path):
    env = _env(PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    _refused_everywhere(tmp_path / "data", env)


def test_headless_default_keyring_refuses_credentials(tmp_path):
    """No backend chosen and no Secret Service reachable (a headless box): refuse, never plain text."""
    home = tmp_path / "home"
    home.mkdir()
    env = _env(
        PYTHON_KEYRING_BACKEND=None,
        **{KEYRING_ENV: None},
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path / 'no-bus'}",
    )
    _refused_everywhere(tmp_path / "data", env)


@pytest.mark.parametrize("source", ["keyrings.alt (installed)", "keyrings.alt stand-in"])
def test_plaintext_keyring_backend_is_refused(tmp_path, source):
    if source.endswith("(installed)"):
        if importlib.util.find_spec("keyrings") is None or importlib.util.find_spec("keyrings.alt") is None:
            pytest.skip("keyrings.alt is not installed; the stand-in case covers it")
        env = _env(
            PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring", XDG_DATA_HOME=str(tmp_path / "xdg")
        )
        plain = tmp_path / "xdg"
    else:
        plain = tmp_path / "plaintext.json"
        env = _env(
            PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
            PYTHONPATH=os.pathsep.join([str(ALT_SIM), os.environ["PYTHONPATH"]]),
            PORCHLIGHT_TEST_PLAINTEXT_KEYRING=str(plain),
        )
        # The stand-in really is what the subprocesses get.
        r = subprocess.run(
            [sys.executable, "-c", "import keyring; print(type(keyring.get_keyring()).__module__)"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=60,
            check=False,
        )
        assert r.stdout.strip() == "keyrings.alt.file", r.stderr
    _refused_everywhere(tmp_path / "data", env)
    assert not plain.exists() or b"Never-Stored_3141" not in b"".join(
        p.read_bytes() for p in ([plain] if plain.is_file() else plain.rglob("*")) if p.is_file()
    )


# --- exceptions ------------------------------------------------------------------------------------------


def _exception_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def _texts_of(e: BaseException) -> str:
    parts = [str(e), repr(e)] + [repr(a) for a in e.args]
    parts += [repr(getattr(e, name, None)) for name in ("filename", "filename2", "strerror")]
    return "\n".join(parts)


def test_driver_error_text_has_no_password():
    import traceback

    from drivers.base import Credentials, DriverError, StreamRequest
    from drivers.registry import get_driver

    pw = "Narwhal-Ember_2718"
    req = StreamRequest(
        url="rtsp://127.0.0.1:9/main", credentials=Credentials("eve", pw), open_timeout_s=3, read_timeout_s=1
    )
    with pytest.raises(DriverError) as info:
        get_driver("rtsp").open_stream(req)
    shown = "".join(traceback.format_exception(info.value)) + str(info.value) + repr(info.value)
    assert_not_in_text(shown, pw, "the driver error and its traceback", "eve")


def test_driver_error_chain_has_no_password():
    from drivers.base import Credentials, DriverError, StreamRequest
    from drivers.registry import get_driver

    pw = "Narwhal-Ember_2718"
    req = StreamRequest(
        url="rtsp://127.0.0.1:9/main", credentials=Credentials("eve", pw), open_timeout_s=3, read_timeout_s=1
    )
    with pytest.raises(DriverError) as info:
        get_driver("rtsp").open_stream(req)
    for e in _exception_chain(info.value):
        assert_not_in_text(_texts_of(e), pw, f"chained {type(e).__name__}", "eve")


# --- recording from a camera that demands a password -------------------------------------------------------

SPEC = ClipSpec(seconds=20, passages=())
RIGHT_USER = "porch-owner"
RIGHT_PW = "Tangerine-Walrus_7731"
WRONG_PW = "Pelican-Harbor_4096"


@pytest.mark.rtsp
@pytest.mark.slow
def test_auth_camera_right_and_wrong_password(rtsp_camera, tmp_path):
    cam = rtsp_camera(SPEC, user=RIGHT_USER, password=RIGHT_PW)
    data = tmp_path / "data"
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    ok(
        run_cli(
            data,
            "cameras",
            "add",
            "Good Auth",
            "--url",
            cam.url,
            "--username",
            RIGHT_USER,
            "--password-stdin",
            "--audio",
            "drop",
            input=RIGHT_PW + "\n",
        )
    )
    statuses: list[str] = []
    with CountingRelay(cam.port) as relay:
        # Through the relay (to count connections) and on the other mount: the server keys its shared
        # media by URL, and two media reading one UDP input would each get half of the packets.
        ok(
            run_cli(
                data,
                "cameras",
                "add",
                "Bad Auth",
                "--url",
                f"rtsp://{RIGHT_USER}:{WRONG_PW}@127.0.0.1:{relay.port}/sub",
            )
        )
        with Serve(data, log=tmp_path / "serve.log", verbose=2) as serve:
            wait_state(data, "Good Auth", "recording", 40)
            bad = wait_state(data, "Bad Auth", "auth_failed", 40)
            t_fail = time.monotonic()
            assert "password" in bad["last_error"].lower(), bad
            assert "127.0.0.1" in bad["last_error"]
            # Not a retry storm: over ~20 s at most one more attempt (each may take two connections).
            # Meanwhile, collect what the CLI shows.
            listing = (
                json.dumps(cli_json(data, "cameras", "list")) + ok(run_cli(data, "cameras", "list")).stdout
            )
            while time.monotonic() - t_fail < 20:
                statuses.append(json.dumps(cli_json(data, "status")) + ok(run_cli(data, "status")).stdout)
                time.sleep(1)
            attempts = relay.connections
            assert 1 <= attempts <= 4, (
                f"{attempts} connections in {time.monotonic() - t_fail:.0f} s after auth failure"
            )
            row = status_of(data, "Bad Auth")
            assert row["state"] == "auth_failed" and row["stats"]["connects"] == 0, row

            # The owner fixes the password: the camera tries again at once and records.
            t_fix = time.monotonic()
            ok(
                run_cli(
                    data,
                    "cameras",
                    "set",
                    "Bad Auth",
                    "--username",
                    RIGHT_USER,
                    "--password-stdin",
                    input=RIGHT_PW + "\n",
                )
            )
            wait_state(data, "Bad Auth", "recording", 30)
            fixed_s = time.monotonic() - t_fix
            statuses.append(json.dumps(cli_json(data, "status")))
            time.sleep(3)
            assert serve.stop(signal.SIGTERM) == 0, serve.output()
        output = serve.output()
    print(f"{attempts} connection(s) while auth_failed; recording {fixed_s:.1f} s after the fix")
    assert fixed_s < 20

    segs = cli_json(data, "recordings", "list")
    assert {s["camera"] for s in segs} == {"Good Auth", "Bad Auth"}, segs
    assert "DEBUG" in output, "serve -vv printed no debug log"
    assert "Traceback" not in output, output
    listing += json.dumps(segs) + json.dumps(cli_json(data, "events", "list"))
    for pw in (RIGHT_PW, WRONG_PW):
        assert_not_in_text(output, pw, "serve -vv output", RIGHT_USER)
        assert_not_in_text("\n".join(statuses), pw, "status --json", RIGHT_USER)
        assert_not_in_text(listing, pw, "list output", RIGHT_USER)
        assert_not_in_files(data, pw, RIGHT_USER)
    assert any(data.glob("porchlight.db*")), "no index file was checked"
    assert stored("bad-auth") == (RIGHT_USER, RIGHT_PW)
