"""The community audit log in a real index: appends from several processes at once (SQLite and
PostgreSQL), every backend of the Hub API, and ``porchlight audit verify|list`` finding tampering
done on the database directly with sqlite3 (never through hub code)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.api import HubApi
from hub.api.client import SocketHub
from hub.api.errors import ValidationError
from hub.api.index import IndexOnly
from hub.community import audit
from hub.db.engine import default_sqlite_url, open_engine
from hub.db.tx import run_write
from hub.db.upgrade import migrate
from tests.support.apitools import BACKENDS, open_api
from tests.support.clitools import REPO_ROOT, RFC3339_MS_Z, assert_one_line_error, ok, run_cli
from tests.support.hubtools import configure
from tests.support.tamper import sql

pytest_plugins = ["tests.support.postgres"]

WRITER = """
import sys, time
from pathlib import Path
from hub.community import audit
from hub.db.engine import open_engine
from hub.db.tx import run_write
url, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
engine = open_engine(url)
while not go.exists():
    time.sleep(0.005)
for i in range(count):
    run_write(engine, audit.append, "request.view", {"writer": name, "i": i})
engine.dispose()
"""


def _append(engine: Engine, n: int, action: audit.Action = "trust.add") -> None:
    for i in range(n):
        run_write(engine, audit.append, action, {"kid": f"{i:016x}", "name": "Springfield PD ✓", "n": i})


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose index holds five audit entries written by the hub's code."""
    data = tmp_path / "data"
    engine = open_engine(default_sqlite_url(data))
    try:
        migrate(engine)
        _append(engine, 5)
    finally:
        engine.dispose()
    return data


def _verify(data: Path) -> tuple[int, dict]:
    result = run_cli(data, "audit", "verify", "--json")
    return result.returncode, json.loads(result.stdout)


def test_appends_from_several_processes_at_once_form_one_chain(db_url: str, tmp_path: Path) -> None:
    engine = open_engine(db_url)
    try:
        migrate(engine, backup_dir=tmp_path / "backups")
    finally:
        engine.dispose()
    go = tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, db_url, name, "30", str(go)], cwd=REPO_ROOT)
        for name in ("a", "b", "c")
    ]
    try:
        time.sleep(1.0)  # every writer waits at the line
        go.touch()
        codes = [w.wait(120) for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert codes == [0, 0, 0]
    with IndexOnly.open(tmp_path / "data", db_url) as api:
        check = api.audit_verify()
        entries = api.audit_log(limit=1000)
    assert check.intact and check.entries == 90 and check.head_seq == 90
    assert [e.seq for e in entries] == list(range(1, 91))
    assert all(e.prev == before.hash for before, e in zip(entries, entries[1:], strict=False))
    for name in ("a", "b", "c"):  # each writer's entries in its own order
        mine = [e.data["i"] for e in entries if e.data and e.data["writer"] == name]
        assert mine == list(range(30))


def test_an_entry_is_appended_only_in_a_write_transaction(tmp_path: Path) -> None:
    engine = open_engine(default_sqlite_url(tmp_path))
    try:
        migrate(engine)
        with Session(engine) as session, session.begin():
            with pytest.raises(RuntimeError, match="write transaction"):
                audit.append(session, "trust.add", {})
        assert audit.entries(engine) == []
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, data: Path) -> Iterator[tuple[str, HubApi]]:
    configure(data, [])
    api = open_api(request.param, data)
    try:
        yield request.param, api
    finally:
        api.close()


def test_every_backend_reads_and_checks_the_log_as_stored_now(
    backend: tuple[str, HubApi], data: Path
) -> None:
    kind, api = backend
    assert isinstance(api, SocketHub) == (kind == "socket")
    page = api.audit_log(after=2, limit=2)
    assert [e.seq for e in page] == [3, 4]
    assert page[0].action == "trust.add" and page[0].data == {
        "kid": f"{2:016x}",
        "name": "Springfield PD ✓",
        "n": 2,
    }
    assert api.audit_verify().intact
    with pytest.raises(ValidationError) as refused:
        api.audit_log(limit=0)
    assert refused.value.field == "limit"
    with pytest.raises(ValidationError):
        api.audit_log(limit=10_001)

    # Appended by another process while this one runs (the database orders them), then tampered with.
    engine = open_engine(default_sqlite_url(data))
    try:
        _append(engine, 2, "request.decline")
    finally:
        engine.dispose()
    check = api.audit_verify()
    assert check.intact and check.entries == 7 and [e.seq for e in api.audit_log(after=5)] == [6, 7]
    sql(data, "UPDATE audit_entry SET action = 'request.share' WHERE seq = 6")
    check = api.audit_verify()
    assert not check.intact and [(p.seq, p.kind) for p in check.problems] == [(6, "changed")]

    # Hostile text in the index is shown as far as it reads, never a crash on either side of the wire.
    sql(
        data,
        'UPDATE audit_entry SET data = \'{"n":' + "9" * 30 + "}' WHERE seq = 5",
        "UPDATE audit_entry SET data = '[1, 2' WHERE seq = 4",
        "UPDATE audit_entry SET time_ms = 9000000000000000000 WHERE seq = 7",
    )
    shown = {e.seq: e for e in api.audit_log()}
    assert shown[5].data == {"n": float("9" * 30)} and shown[4].data is None
    check = api.audit_verify()
    assert [(p.seq, p.kind) for p in check.problems] == [
        (4, "unreadable"),
        (5, "changed"),
        (6, "changed"),
        (7, "changed"),
    ]


def test_an_intact_log_on_the_command_line(data: Path) -> None:
    said = ok(run_cli(data, "audit", "verify")).stdout
    assert "intact: 5 entries" in said
    code, check = _verify(data)
    assert code == 0
    assert set(check) == {
        "intact",
        "entries",
        "head",
        "problems",
        "more_problems",
        "seal",
        "notes",
        "checked",
    }
    assert (check["intact"], check["entries"], check["head"]["seq"], check["problems"]) == (True, 5, 5, [])
    seal = check["seal"]
    assert (seal["checkpoints"], seal["signed"], seal["unsigned"], seal["vouched"]) == (5, 5, 0, 5)
    assert seal["mirror"]["state"] == "out_of_reach"  # written by hub code alone: no storage folder
    assert RFC3339_MS_Z.match(check["checked"])
    listed = json.loads(ok(run_cli(data, "audit", "list", "--json")).stdout)
    assert [e["seq"] for e in listed] == [1, 2, 3, 4, 5] and listed[-1]["hash"] == check["head"]["hash"]
    assert set(listed[0]) == {"seq", "time", "action", "data", "prev", "hash"}
    assert all(RFC3339_MS_Z.match(e["time"]) for e in listed)
    assert listed[0]["prev"] == "0" * 64 and listed[1]["prev"] == listed[0]["hash"]
    lines = ok(run_cli(data, "audit", "list", "--after", "3", "--limit", "1")).stdout.splitlines()
    assert len(lines) == 1 and lines[0].split()[:3] == ["4", listed[3]["time"], "trust.add"]
    assert_one_line_error(run_cli(data, "audit", "list", "--limit", "20000"), "limit", "10000")
    empty = data.parent / "empty"
    assert "empty" in ok(run_cli(empty, "audit", "verify")).stdout


def _rewrite_with_fresh_hash(data: Path, seq: int) -> str:
    """Forge entry ``seq`` and give it a correct hash, computed here (hashlib, not the hub)."""
    db = sqlite3.connect(data / "porchlight.db")
    try:
        time_ms, action, prev = db.execute(
            "SELECT time_ms, action, prev FROM audit_entry WHERE seq = ?", (seq,)
        ).fetchone()
    finally:
        db.close()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time_ms // 1000)) + f".{time_ms % 1000:03d}Z"
    forged = {"kid": "ffffffffffffffff", "n": 0}
    body = {"v": 1, "seq": seq, "time": stamp, "action": action, "data": forged, "prev": prev}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return (
        f"UPDATE audit_entry SET data = '{json.dumps(forged, separators=(',', ':'))}', hash = '{digest}' "
        f"WHERE seq = {seq}"
    )


@pytest.mark.parametrize(
    ("tampering", "found"),
    [
        (
            ["UPDATE audit_entry SET data = replace(data, 'Springfield', 'Shelbyville') WHERE seq = 3"],
            [(3, "changed")],
        ),
        (["UPDATE audit_entry SET time_ms = time_ms - 3600000 WHERE seq = 5"], [(5, "changed")]),
        (["DELETE FROM audit_entry WHERE seq = 3"], [(3, "missing")]),
        (["DELETE FROM audit_entry WHERE seq IN (1, 2)"], [(1, "missing")]),
        (
            [
                "UPDATE audit_entry SET seq = -1 WHERE seq = 3",
                "UPDATE audit_entry SET seq = 3 WHERE seq = 4",
                "UPDATE audit_entry SET seq = 4 WHERE seq = -1",
            ],
            [(3, "moved"), (4, "moved"), (3, "diverged"), (4, "diverged")],
        ),
        ("rewrite 3", [(4, "unlinked"), (3, "diverged")]),
        (["""UPDATE audit_entry SET data = '{"kid":"a","kid":"b"}' WHERE seq = 2"""], [(2, "unreadable")]),
    ],
    ids=["edited", "retimed", "removed", "removed-first", "reordered", "rewritten", "duplicate-key"],
)
def test_the_command_line_names_each_tampering(data: Path, tampering: list[str] | str, found: list) -> None:
    statements = [_rewrite_with_fresh_hash(data, 3)] if tampering == "rewrite 3" else tampering
    sql(data, *statements)
    code, check = _verify(data)
    assert code == 1 and check["intact"] is False
    assert [(p["seq"], p["kind"]) for p in check["problems"]] == found
    result = run_cli(data, "audit", "verify")
    assert result.returncode == 1
    assert "not intact" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    named = [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("entry ")]
    assert named == [f"entry {s}" for s, _ in found]


def test_a_log_rewritten_wholesale_is_reported_in_one_answer(data: Path) -> None:
    configure(data, [])
    engine = open_engine(default_sqlite_url(data))
    try:
        run_write(
            engine,
            lambda s: [audit.append(s, "request.view", {"i": i, "pad": "x" * 200}) for i in range(3000)],
        )
    finally:
        engine.dispose()
    sql(data, "UPDATE audit_entry SET time_ms = time_ms + 1")  # every entry: one problem each
    with open_api("socket", data) as api:
        check = api.audit_verify()
    assert len(check.problems) == 1000 and check.more_problems == 2005 and not check.intact
    assert check.problems[0].seq == 1 and check.entries == 3005
    result = run_cli(data, "audit", "verify")
    assert result.returncode == 1 and "3005 problems" in result.stderr and "2005 more" in result.stdout
