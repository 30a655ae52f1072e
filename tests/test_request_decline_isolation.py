"""``porchlight requests decline`` writes to this hub's index (and, the first time, the keyring that keeps
the audit log's checkpoint key) and nowhere else, and sends nothing: the agency learns nothing from a
decline. Checked on a real process twice over: an audit hook logs every write and socket Python makes
(tests/support/netaudit.py), and a snapshot of every folder the process could reach (home, temp, the
XDG folders) catches what native code writes behind the hook's back. A positive control shows that
the same check reports a write outside."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import netaudit
from tests.support.agency import Agency
from tests.support.clitools import cli_json, ok, run_cli

PROMISE = "Nothing was sent to the agency or anyone else"
FOLDERS = ("home", "tmp", "xdg_config", "xdg_data", "xdg_cache", "xdg_state", "xdg_runtime")
Snapshot = dict[str, tuple[int, int]]


@dataclass
class Machine:
    """A machine of its own: every folder a process may write to lies under ``root``."""

    root: Path
    data: Path
    keyring: Path  # the folder of the test keyring's file
    log: Path  # the hook's own output, in a folder of its own
    env: dict[str, str]
    request_id: str
    ref: str

    @property
    def allowed(self) -> tuple[Path, ...]:
        return (self.data, self.keyring)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """Fresh home, temp and XDG folders, a data dir that trusts an agency and holds its request."""
    for name in (*FOLDERS, "data", "keyring", "inputs", "hook"):
        (tmp_path / name).mkdir()
    (tmp_path / "xdg_runtime").chmod(0o700)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        **{f"{name.upper()}_HOME": str(tmp_path / name) for name in FOLDERS[2:6]},
        "XDG_RUNTIME_DIR": str(tmp_path / "xdg_runtime"),
        "PYTHON_KEYRING_BACKEND": "tests.support.keyring_backend.FileKeyring",
        "PORCHLIGHT_TEST_KEYRING": str(tmp_path / "keyring" / "keyring.json"),
        "PYTHONDONTWRITEBYTECODE": "1",  # the interpreter's own caches in the repository are not ours
    }
    data, spd = tmp_path / "data", Agency()
    card = spd.write_card(tmp_path / "inputs" / "spd.card.json")
    jws = tmp_path / "inputs" / "r.request.jws"
    jws.write_text(spd.sign())
    ok(run_cli(data, "trust", "add", str(card), env=env))
    ok(run_cli(data, "requests", "import", str(jws), env=env))
    [listed] = cli_json(data, "requests", "list", env=env)
    log = tmp_path / "hook" / "net.jsonl"
    return Machine(tmp_path, data, tmp_path / "keyring", log, env, listed["id"], listed["ref"])


def _inside(path: str, roots: tuple[Path, ...]) -> bool:
    return any(Path(path).resolve().is_relative_to(root.resolve()) for root in roots)


def _outside(events: list[dict[str, Any]], allowed_roots: tuple[Path, ...]) -> list[str]:
    """The paths the hook saw written, created, renamed or removed outside every allowed root."""
    return [p for p in netaudit.writes(events) if not _inside(p, allowed_roots)]


def _snapshot(root: Path, skip: Path) -> Snapshot:
    """(size, mtime in ns) of every file and folder under ``root``, but ``skip`` and what it holds."""
    found: Snapshot = {}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(top, d) != str(skip)]
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            found[os.path.join(top, name)] = (st.st_size, st.st_mtime_ns)
    return found


def _changed_outside(before: Snapshot, after: Snapshot, allowed_roots: tuple[Path, ...]) -> list[str]:
    """What appeared, changed or went away on disk outside every allowed root."""
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    return sorted(p for p in changed if not _inside(p, allowed_roots))


def _decline(m: Machine, **env: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Decline the request under the hook; what the hook logged and what changed outside on disk."""
    before = _snapshot(m.root, m.log.parent)
    done = netaudit.run(
        m.log,
        m.data,
        "requests",
        "decline",
        m.ref,
        "--note",
        "not comfortable",
        env={**m.env, **env},
        full=True,
    )
    assert done.returncode == 0, done.stderr
    assert PROMISE in done.stdout
    return netaudit.events(m.log), _changed_outside(before, _snapshot(m.root, m.log.parent), m.allowed)


def test_a_decline_writes_only_the_index_and_the_keyring_and_sends_nothing(machine: Machine) -> None:
    events, changed = _decline(machine)
    assert [p for p in netaudit.writes(events) if _inside(p, (machine.data,))], "the hook saw no write"
    assert _outside(events, machine.allowed) == []
    assert changed == []  # also what native code wrote, which the hook cannot see
    assert netaudit.socket_families(events) <= {"AF_UNIX"}
    assert netaudit.lookups(events) == []

    last = cli_json(machine.data, "audit", "list", env=machine.env)[-1]
    assert last["action"] == "request.decline" and last["data"]["id"] == machine.request_id
    shown = cli_json(machine.data, "requests", "show", machine.ref, env=machine.env)
    assert (shown["status"], shown["note"]) == ("declined", "not comfortable")


def test_the_same_check_reports_a_write_outside(machine: Machine) -> None:
    leak = machine.root / "home" / "leak.txt"
    events, changed = _decline(machine, **{netaudit.CONTROL_ENV: str(leak)})
    assert str(leak) in _outside(events, machine.allowed)
    assert str(leak) in changed
