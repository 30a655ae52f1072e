"""The audit log's signed checkpoints and the copy of its head in the storage folder (issue 14, step g).

A hash chain cannot show its own tail cut off, or the whole index swapped for an older copy. These
tests do exactly that, on the database directly with sqlite3 and by copying files as a person would
(never through hub code), and check that ``audit verify`` says so through every backend and the CLI:
a truncated tail, the pre-migration backup restored while the storage folder's copy is kept, a
forged checkpoint or copy. Without a keyring, checkpoints are written unsigned and a decline still
works; verify says so."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.api import HubApi
from hub.api.index import IndexOnly
from hub.community import checkpoints
from hub.community.checkpoints import MIRROR_NAME, KeyLookup
from hub.community.formats import audit as chain
from hub.community.seal_check import judge
from hub.db import repo_config
from hub.db.engine import default_sqlite_url, open_engine
from hub.db.schema import AuditCheckpointRow
from hub.storage.manager import ensure_storage
from tests.support.agency import Agency
from tests.support.apitools import open_api
from tests.support.clitools import cli_json, ok, run_cli
from tests.support.footage import imported
from tests.support.hubtools import configure
from tests.support.migrations import migrate_to
from tests.support.tamper import sql


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir whose storage folder is prepared (as the hub does on its first start)."""
    data = tmp_path / "data"
    configure(data, [])
    engine = open_engine(default_sqlite_url(data))
    try:
        ensure_storage(engine, data / "recordings")
    finally:
        engine.dispose()
    return data


def _some_actions(api: HubApi) -> None:
    """Seven entries in six write transactions: a card, two requests, a view, a decline, and a
    withdrawal of the second request (its import and the withdrawal: two entries, one checkpoint)."""
    spd = Agency()
    api.trust_add(spd.card_bytes())
    first = imported(api, spd)
    second = imported(api, spd)
    api.request_show(first.ref)
    api.request_decline(first.ref, "no")
    withdrawal = spd.payload(kind="withdrawal", refers_to=second.id, window=None)
    assert api.request_import(spd.sign(withdrawal).encode()).closes == (second.id,)


def _kinds(api: HubApi) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in api.audit_verify().problems]


def test_every_write_is_checkpointed_signed_and_mirrored(api: HubApi, data: Path) -> None:
    _some_actions(api)
    check = api.audit_verify()
    assert check.intact and check.entries == 7, check
    seal = check.seal
    assert seal is not None and seal.key_id is not None and seal.keyring is None
    assert (seal.checkpoints, seal.signed, seal.unsigned, seal.other_key, seal.vouched) == (6, 6, 0, 0, 7)
    m = seal.mirror
    assert (m.state, m.seq, m.hash, m.signed) == ("current", 7, check.head_hash, True)
    mirror = json.loads((data / "recordings" / MIRROR_NAME).read_text())
    assert (mirror["seq"], mirror["head"], mirror["kid"]) == (7, check.head_hash, seal.key_id)
    assert check.notes == ()


@pytest.mark.parametrize("also_checkpoints", [False, True], ids=["entries", "entries-and-checkpoints"])
def test_a_cut_off_tail_is_found(api: HubApi, data: Path, also_checkpoints: bool) -> None:
    _some_actions(api)
    tail = ["DELETE FROM audit_entry WHERE seq > 3"]
    sql(data, *tail, *(["DELETE FROM audit_checkpoint WHERE seq > 3"] if also_checkpoints else []))
    found = _kinds(api)
    # what is left is a good chain: only the checkpoints and the copy of the head show the cut
    assert found == ([] if also_checkpoints else [(4, "cut")]) + [(4, "rolled_back")]
    check = api.audit_verify()
    assert not check.intact and check.seal is not None and check.seal.mirror.state == "ahead"
    result = run_cli(data, "audit", "verify")
    assert result.returncode == 1 and "cut off" in result.stdout and "not intact" in result.stderr


def test_the_pre_migration_backup_restored_is_found(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    engine = open_engine(default_sqlite_url(data))
    try:
        migrate_to(engine, "0008", tmp_path)  # an index an older release used: its id, its storage folder
        repo_config.index_id(engine)
        ensure_storage(engine, data / "recordings")
    finally:
        engine.dispose()
    first = chain.next_entry(
        None, 1_700_000_000_000, "request.view", {"id": "old"}
    )  # an older release's entry
    sql(
        data,
        "INSERT INTO audit_entry (seq, time_ms, action, data, prev, hash) VALUES "
        f"(1, {first.time_ms}, '{first.action}', '{{\"id\":\"old\"}}', '{first.prev}', '{first.hash}')",
    )
    with open_api("local", data) as api:  # the hub upgrades the index, backing it up first
        _some_actions(api)
        assert api.audit_verify().intact
    backups = sorted((data / "backups").glob("porchlight.db.bak-0008-*"))
    assert len(backups) == 1
    for side in ("-wal", "-shm"):
        Path(f"{data / 'porchlight.db'}{side}").unlink(missing_ok=True)
    shutil.copyfile(backups[0], data / "porchlight.db")  # the owner's data restored; the storage folder kept

    with IndexOnly.open(data) as api:
        check = api.audit_verify()
        assert check.entries == 1 and [(p.seq, p.kind) for p in check.problems] == [(2, "rolled_back")]
        assert "restored from an older copy" in check.problems[0].message
        assert any("not covered by a checkpoint" in n for n in check.notes)  # the old release wrote none
        api.trust_add(Agency().card_bytes())  # new entries never move the copy back, nor onto this history
        assert _kinds(api) == [(3, "rolled_back")]
        _some_actions(api)
        assert _kinds(api) == [(8, "diverged")]  # the log is longer now, but not the one the copy vouched for
    assert json.loads((data / "recordings" / MIRROR_NAME).read_text())["seq"] == 8
    result = run_cli(data, "audit", "verify", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["seal"]["mirror"]["state"] == "diverged"


def test_forged_checkpoints_and_copies_are_found(data: Path) -> None:
    with IndexOnly.open(data) as api:
        _some_actions(api)
        head = api.audit_verify().head_hash
    # cut the tail, then make the checkpoints and the copy agree with it, without the key
    mirror_file = data / "recordings" / MIRROR_NAME
    copy = json.loads(mirror_file.read_text())
    sql(
        data,
        "DELETE FROM audit_entry WHERE seq > 4",
        "DELETE FROM audit_checkpoint WHERE seq > 4",
        f"UPDATE audit_checkpoint SET head = '{head}' WHERE seq = 4",
    )
    copy["seq"] = 4
    mirror_file.write_text(json.dumps(copy))
    with IndexOnly.open(data) as api:
        found = _kinds(api)
    assert (4, "forged") in found and found.count((4, "forged")) == 2  # the checkpoint and the copy
    assert (4, "diverged") in found  # and both name a hash entry 4 does not have


def test_without_a_keyring_checkpoints_are_unsigned_and_a_decline_still_works(
    data: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    spd = Agency()
    ok(run_cli(data, "trust", "add", str(spd.write_card(tmp_path / "spd.trust.json")), env=env))
    (tmp_path / "r.request.jws").write_text(spd.sign())
    ok(run_cli(data, "requests", "import", str(tmp_path / "r.request.jws"), env=env))
    ref = cli_json(data, "requests", "list", env=env)[0]["ref"]
    said = ok(run_cli(data, "requests", "decline", ref, env=env)).stdout
    assert "Nothing was sent" in said
    check = json.loads(ok(run_cli(data, "audit", "verify", "--json", env=env)).stdout)
    assert check["intact"] is True
    seal = check["seal"]
    assert (seal["checkpoints"], seal["signed"], seal["unsigned"], seal["key_id"]) == (3, 0, 3, None)
    assert seal["keyring"] == "no keyring is available"
    assert any("unsigned: no keyring was available" in n for n in check["notes"])
    text = ok(run_cli(data, "audit", "verify", env=env)).stdout
    assert "3 unsigned" in text and "keyring: no keyring is available" in text
    # with the keyring back, the unsigned checkpoints stay what they are, and are said to be
    later = cli_json(data, "audit", "verify")
    assert later["seal"]["unsigned"] == 3 and later["seal"]["keyring"] is not None


def _row(seq: int, head: str, kid: str | None, signature: str | None) -> AuditCheckpointRow:
    return AuditCheckpointRow(seq=seq, head=head, time_ms=1_700_000_000_000, kid=kid, signature=signature)


def test_judge_counts_what_it_cannot_check_as_notes_not_problems() -> None:
    mine = checkpoints.Signer.of(Ed25519PrivateKey.generate())
    other = checkpoints.Signer.of(Ed25519PrivateKey.generate())
    hashes = {1: "a" * 64, 2: "b" * 64, 3: "c" * 64}

    def signed(by: checkpoints.Signer, seq: int) -> AuditCheckpointRow:
        message = checkpoints.message("idx", seq, hashes[seq], 1_700_000_000_000)
        return _row(seq, hashes[seq], by.kid, by.sign(message))

    rows = [signed(mine, 1), signed(other, 2), _row(3, hashes[3], None, None)]
    seal = judge("idx", hashes, rows, KeyLookup(mine), None, None)
    assert seal.problems == ()
    assert (seal.signed, seal.other_key, seal.unsigned, seal.vouched) == (1, 1, 1, 3)
    assert seal.mirror_state == "out_of_reach"
    # the same rows judged for another index: this machine's signatures no longer verify
    assert [p.kind for p in judge("other", hashes, rows, KeyLookup(mine), None, None).problems] == ["forged"]
    unknown = judge(
        "idx", {**hashes, 4: "d" * 64}, rows, KeyLookup(None, "no keyring is available"), None, None
    )
    assert unknown.problems == () and unknown.key_id is None
    assert any("entry 4 is not covered" in n for n in unknown.notes)
    assert any("signatures not checked: no keyring is available" in n for n in unknown.notes)
