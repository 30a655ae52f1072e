"""Agency requests in a real index, through every backend of the Hub API (the hub in this process,
index-only, a served hub over its socket), on SQLite and PostgreSQL, and ``porchlight requests
import|list|show|quarantine`` as a user runs it. The files come from an independent agency
(tests/support/agency.py), dated by the wall clock as the hub checks them."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, get_args

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.api import HubApi
from hub.api.client import SocketHub
from hub.api.errors import NotFoundError, ValidationError
from hub.api.index import IndexOnly
from hub.api.types import QUARANTINE_MAX, REQUEST_MAX_BYTES, RejectReason
from hub.community import quarantine
from hub.community.formats import request as formats
from tests.support import netaudit
from tests.support.agency import Agency, epoch_ms, zulu
from tests.support.apitools import open_api
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli

pytest_plugins = ["tests.support.postgres"]


def _actions(api: HubApi) -> list[str]:
    return [e.action for e in api.audit_log(limit=1000)]


def _urn(prefix: str = "") -> str:
    """A fresh urn:uuid: whose hex starts with ``prefix``."""
    text = str(uuid.uuid4())
    return "urn:uuid:" + prefix + text[len(prefix) :]


def _at_once(api: HubApi, jws: bytes, threads: int) -> list[str]:
    """Import ``jws`` from ``threads`` threads at once; the outcomes."""
    outcomes: list[str] = []
    started = [
        threading.Thread(target=lambda: outcomes.append(api.request_import(jws).outcome))
        for _ in range(threads)
    ]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return outcomes


def test_types_name_every_reason_the_verifier_and_the_store_give() -> None:
    assert set(get_args(RejectReason)) == {str(r) for r in formats.Reason}
    assert "replay" in get_args(RejectReason)  # the store's reason, beside the verifier's
    assert REQUEST_MAX_BYTES == formats.REQUEST_MAX_BYTES
    assert QUARANTINE_MAX == quarantine.QUARANTINE_MAX


def test_every_backend_imports_lists_and_shows_a_request_and_logs_each_step(api: HubApi) -> None:
    spd = Agency()
    api.trust_add(spd.card_bytes())
    payload = spd.payload(legal_basis="warrant", warrant_ref="W-26-118", message="Line one.\nLine two.")
    jws = spd.sign(payload)
    done = api.request_import(jws.encode(), "elm.request.jws")
    assert done.outcome == "imported" and done.refused is None and done.closes == ()
    r = done.request
    assert r is not None
    assert (r.id, r.ref, r.kid, r.kind) == (payload["id"], payload["id"][9:], spd.kid, "footage_request")
    assert (r.card_name, r.agency, r.agency_differs, r.same_name) == (spd.name, spd.name, False, ())
    assert (r.case, r.title, r.message, r.contact) == (
        payload["case"],
        payload["title"],
        "Line one.\nLine two.",
        payload["contact"],
    )
    assert (r.window_start_ms, r.window_end_ms) == (
        epoch_ms(payload["window"]["start"]),
        epoch_ms(payload["window"]["end"]),
    )
    assert r.area is not None and (r.area.lat, r.area.lon, r.area.radius_m) == (39.7817, -89.6501, 400)
    assert (r.legal_basis, r.warrant_ref, r.retention_days) == ("warrant", "W-26-118", 365)
    assert (r.issued_ms, r.expires_ms) == (epoch_ms(payload["issued"]), epoch_ms(payload["expires"]))
    assert (r.status, r.standing, r.problem) == ("open", "in_force", None)

    again = api.request_import(f"\n{jws}\r\n".encode(), "copy.request.jws")  # an editor's newlines
    assert again.outcome == "duplicate" and again.request == r
    assert api.request_list() == [r]
    assert api.request_show(r.ref[:6].upper()) == r
    assert api.request_show(r.id) == r
    assert api.request_quarantine() == []
    assert _actions(api) == ["trust.add", "request.import", "request.view", "request.view"]
    entry = api.audit_log(after=1, limit=1)[0].data
    assert entry is not None and entry["id"] == r.id and entry["kid"] == spd.kid
    assert entry["sha256"] == r.sha256 and entry["case"] == payload["case"]
    assert api.audit_verify().intact


def test_a_different_file_with_the_same_card_and_id_is_a_replay(api: HubApi) -> None:
    spd = Agency()
    api.trust_add(spd.card_bytes())
    payload = spd.payload()
    first = api.request_import(spd.sign(payload).encode(), "a.request.jws").request
    replay = spd.sign({**payload, "window": {"start": zulu(0), "end": zulu(86400 * 365 * 50)}})
    refused = api.request_import(replay.encode(), "b.request.jws")
    assert refused.outcome == "rejected" and refused.request is None and refused.refused is not None
    q = refused.refused
    assert (q.reason, q.kid, q.claimed_id, q.verified, q.name, q.times) == (
        "replay",
        spd.kid,
        payload["id"],
        True,
        "b.request.jws",
        1,
    )
    assert "replay" in q.message and payload["id"] in q.message
    assert api.request_list() == [first]  # the request imported first is untouched

    twice = api.request_import(replay.encode(), "b-again.request.jws")
    assert twice.outcome == "already_rejected" and twice.refused is not None
    assert twice.refused.times == 2 and twice.refused.name == "b-again.request.jws"
    assert [f.id for f in api.request_quarantine()] == [q.id]
    assert _actions(api) == ["trust.add", "request.import", "request.reject"]  # a second refusal is not news
    other = Agency()  # another card may use the same id: duplicates are per card
    api.trust_add(other.card_bytes())
    assert api.request_import(other.sign(other.payload(id=payload["id"])).encode()).outcome == "imported"


BAD_FILES: list[tuple[str, Any, str, bool]] = [
    ("forged", lambda spd: spd.sign(spd.payload(), key=Ed25519PrivateKey.generate()), "bad_signature", False),
    ("unknown card", lambda spd: Agency().sign(), "unknown_kid", False),
    ("expired", lambda spd: spd.sign(spd.payload(expires=zulu(time.time() - 1))), "expired", True),
    (
        "issued in the future",
        lambda spd: spd.sign(spd.payload(issued=zulu(time.time() + 3600))),
        "issued_in_future",
        True,
    ),
    (
        "duplicate keys",
        lambda spd: spd.sign(b'{"v": 1, "kind": "alert", "kind": "footage_request"}'),
        "duplicate_key",
        True,
    ),
    ("NaN", lambda spd: spd.sign(b'{"v": 1, "kind": "alert", "radius": NaN}'), "not_a_number", True),
    ("missing members", lambda spd: spd.sign(spd.payload(window=None)), "missing_member", True),
    ("not a request", lambda spd: "not a request at all", "malformed", False),
    ("oversize", lambda spd: b"\xff" * (REQUEST_MAX_BYTES + 1), "oversize", False),
]


@pytest.mark.parametrize(
    ("make", "reason", "verified"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_a_refused_file_is_quarantined_with_its_reason_and_never_listed(
    data: Path, make: Any, reason: str, verified: bool
) -> None:
    spd = Agency()
    made = make(spd)
    raw = made if isinstance(made, bytes) else made.encode()
    with IndexOnly.open(data) as api:
        api.trust_add(spd.card_bytes())
        done = api.request_import(raw, "in.request.jws")
        assert done.outcome == "rejected" and done.request is None and done.refused is not None
        q = done.refused
        assert (q.reason, q.verified, q.size) == (reason, verified, len(raw))
        assert "\n" not in q.message and len(q.message) <= 300
        assert api.request_list() == [] and api.request_quarantine() == [q]
        logged = api.audit_log(after=1)
        assert [e.action for e in logged] == ["request.reject"]
        assert logged[0].data is not None and logged[0].data["reason"] == reason
        assert logged[0].data["sha256"] == q.sha256 and logged[0].data["verified"] is verified
    with sqlite3.connect(data / "porchlight.db") as db:  # an oversize file keeps none of its bytes
        (kept,) = db.execute("SELECT data FROM request_quarantine").fetchone()
    assert (kept is None) == (reason == "oversize") and (kept is None or bytes(kept) == raw)


def test_a_quarantined_file_imports_once_its_card_is_trusted(api: HubApi) -> None:
    spd = Agency()
    jws = spd.sign().encode()
    assert api.request_import(jws).refused.reason == "unknown_kid"  # type: ignore[union-attr]
    api.trust_add(spd.card_bytes())
    assert api.request_import(jws).outcome == "imported"
    assert api.request_quarantine() == []  # resolved: the audit log keeps the refusal
    assert _actions(api) == ["request.reject", "trust.add", "request.import"]


@pytest.mark.parametrize("order", ["request first", "withdrawal first"])
def test_a_withdrawal_closes_its_request_in_either_order(api: HubApi, order: str) -> None:
    spd, other = Agency(), Agency(name="Shelbyville Sheriff")
    api.trust_add(spd.card_bytes())
    api.trust_add(other.card_bytes())
    request = spd.payload()
    files = [
        spd.sign(request),
        spd.sign(spd.payload(kind="withdrawal", refers_to=request["id"].upper(), window=None, case=None)),
    ]
    if order == "withdrawal first":
        files.reverse()
    # another card cannot withdraw it, whatever it refers to
    foreign = other.sign(other.payload(kind="withdrawal", refers_to=request["id"]))
    assert api.request_import(foreign.encode()).closes == ()
    done = [api.request_import(f.encode()) for f in files]
    assert [d.outcome for d in done] == ["imported", "imported"]
    withdrawal_id = next(d.request.id for d in done if d.request and d.request.kind == "withdrawal")
    closed = {r.id: r for r in api.request_list()}[request["id"]]
    assert (closed.status, closed.closed_by) == ("withdrawn", withdrawal_id) and closed.closed_ms
    assert (done[1].closes == (request["id"],)) == (order == "request first")
    withdraws = [e.data for e in api.audit_log(limit=100) if e.action == "request.withdraw"]
    assert withdraws == [{"kid": spd.kid, "id": request["id"], "by": withdrawal_id, "how": "withdrawn"}]


def test_a_request_that_refers_to_an_earlier_one_replaces_it(api: HubApi) -> None:
    spd = Agency()
    api.trust_add(spd.card_bytes())
    old, new = spd.payload(title="Theft"), spd.payload(title="Theft (corrected)")
    api.request_import(spd.sign(old).encode())
    replacing = api.request_import(spd.sign({**new, "refers_to": old["id"]}).encode())
    assert replacing.closes == (old["id"],)
    by_id = {r.id: r for r in api.request_list()}
    assert (by_id[old["id"]].status, by_id[old["id"]].closed_by) == ("replaced", new["id"])
    assert by_id[new["id"]].status == "open" and by_id[new["id"]].refers_to == old["id"]
    withdrawal = spd.sign(spd.payload(kind="withdrawal", refers_to=old["id"]))  # closed already: no effect
    assert api.request_import(withdrawal.encode()).closes == ()
    assert {r.id: r.status for r in api.request_list()}[old["id"]] == "replaced"


def test_a_stored_request_is_re_checked_whenever_it_is_shown(data: Path) -> None:
    spd, brief = Agency(), Agency(name="Ogdenville PD")
    with IndexOnly.open(data) as api:
        api.trust_add(spd.card_bytes())
        card_expires_ms = api.trust_add(brief.card_bytes(expires=zulu(time.time() + 3))).card.expires_ms
        lasting = api.request_import(spd.sign().encode()).request
        soon = api.request_import(spd.sign(spd.payload(expires=zulu(time.time() + 2))).encode()).request
        card_soon = api.request_import(brief.sign().encode()).request
        assert lasting and soon and card_soon
        assert {r.standing for r in api.request_list()} == {"in_force"}
        time.sleep(max(0.0, card_expires_ms / 1000 - time.time()) + 0.1)
        api.trust_revoke(spd.kid)
        standing = {r.id: r.standing for r in api.request_list()}
        assert standing == {lasting.id: "card_revoked", soon.id: "card_revoked", card_soon.id: "card_expired"}
        api.trust_add(spd.card_bytes(), replace=True)  # trusted again: the request counts again
        standing = {r.id: r.standing for r in api.request_list()}
        assert standing == {lasting.id: "in_force", soon.id: "expired", card_soon.id: "card_expired"}
        assert api.request_show(soon.ref).standing == "expired"


def test_a_request_edited_in_the_index_is_shown_as_altered(data: Path) -> None:
    spd = Agency()
    with IndexOnly.open(data) as api:
        api.trust_add(spd.card_bytes())
        original = api.request_import(spd.sign().encode()).request
        payload = spd.payload(title="The first title")
        other = api.request_import(spd.sign(payload).encode()).request
        replay = api.request_import(spd.sign({**payload, "title": "Another title"}).encode()).refused
        assert original and other and replay and replay.reason == "replay"
    with sqlite3.connect(data / "porchlight.db") as db:  # edited directly, not through hub code
        (jws,) = db.execute("SELECT jws FROM agency_request WHERE request_id = ?", (original.id,)).fetchone()
        header, body, _signature = jws.split(".")
        forged = spd.sign_parts(header, body, key=Ed25519PrivateKey.generate())
        db.execute("UPDATE agency_request SET jws = ? WHERE request_id = ?", (forged, original.id))
        # the refused file kept in the quarantine: the same card and id, validly signed, other content
        (kept,) = db.execute("SELECT data FROM request_quarantine WHERE id = ?", (replay.id,)).fetchone()
        db.execute("UPDATE agency_request SET jws = ? WHERE request_id = ?", (bytes(kept).decode(), other.id))
    with IndexOnly.open(data) as api:
        shown = {r.id: r for r in api.request_list()}
        assert shown[original.id].standing == "altered"
        assert "no longer verifies" in (shown[original.id].problem or "")
        assert shown[original.id].title is None and shown[original.id].card_name == spd.name
        assert shown[other.id].standing == "altered" and shown[other.id].title is None
        assert "not the one imported" in (shown[other.id].problem or "")


def test_a_request_is_named_by_a_unique_prefix_or_by_card_and_id(data: Path) -> None:
    spd, other = Agency(), Agency(name="Shelbyville Sheriff")
    first, second = _urn("abcd1"), _urn("abcd2")
    with IndexOnly.open(data) as api:
        for agency in (spd, other):
            api.trust_add(agency.card_bytes())
        api.request_import(spd.sign(spd.payload(id=first)).encode())
        api.request_import(spd.sign(spd.payload(id=second)).encode())
        api.request_import(other.sign(other.payload(id=first)).encode())
        with pytest.raises(ValidationError, match="names 3 requests") as ambiguous:
            api.request_show("abcd")
        assert ambiguous.value.rule == "unique" and spd.kid in str(ambiguous.value)
        assert api.request_show("ABCD2").id == second
        with pytest.raises(ValidationError, match="names 2 requests"):
            api.request_show(first)  # the same id from two cards
        assert api.request_show(f"{other.kid[:6]}/{first[9:]}").kid == other.kid
        assert api.request_show(f"{spd.kid}/urn:uuid:{first[9:17]}").kid == spd.kid
        for bad in ("abc", "xyz12", "abcd%", first[9:] + "0", "a/b/abcd1"):
            with pytest.raises(ValidationError, match="named by its id"):
                api.request_show(bad)
        with pytest.raises(NotFoundError):
            api.request_show("0000" if not first[9:].startswith("0000") else "ffff")
        assert [e.action for e in api.audit_log(limit=100)].count("request.view") == 3


def test_the_quarantine_keeps_the_most_recently_seen_files(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quarantine, "QUARANTINE_MAX", 3)
    with IndexOnly.open(data) as api:
        for n in (0, 1, 2, 0, 3, 4):  # the first seen again before 3 and 4 arrive: kept
            api.request_import(f"junk {n}".encode(), f"{n}.request.jws")
            time.sleep(0.005)  # each seen in a later millisecond
        assert [q.name for q in api.request_quarantine()] == [
            "4.request.jws",
            "3.request.jws",
            "0.request.jws",
        ]
        assert api.request_quarantine()[2].times == 2
        assert [e.action for e in api.audit_log()] == ["request.reject"] * 5  # each refusal stays logged
        hostile = api.request_import(b"junk", "a\x1b[31m\u202eb\n" + "n" * 400).refused
        assert (
            hostile is not None
            and hostile.name.startswith("a\ufffd[31m\ufffdb\ufffdn")
            and len(hostile.name) == 255
        )


def test_concurrent_imports_of_one_file_store_it_once(data: Path) -> None:
    spd = Agency()
    jws = spd.sign().encode()
    with IndexOnly.open(data) as api:
        api.trust_add(spd.card_bytes())
        outcomes = _at_once(api, jws, 6)
        assert sorted(outcomes) == ["duplicate"] * 5 + ["imported"]
        assert len(api.request_list()) == 1 and api.audit_verify().intact


def test_requests_live_in_the_index_on_sqlite_and_postgresql(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    spd = Agency()
    request = spd.payload()
    with IndexOnly.open(data, db_url) as api:
        api.trust_add(spd.card_bytes())
        api.request_import(spd.sign(request).encode(), "r.request.jws")
        api.request_import(spd.sign({**request, "title": "changed"}).encode(), "replay.request.jws")
        api.request_import(spd.sign(spd.payload(kind="withdrawal", refers_to=request["id"])).encode())
        outcomes = _at_once(api, spd.sign().encode(), 4)
        assert sorted(outcomes) == ["duplicate"] * 3 + ["imported"]
    with IndexOnly.open(data, db_url) as api:  # read back by another opening
        assert {r.id: r.status for r in api.request_list()}[request["id"]] == "withdrawn"
        assert [q.reason for q in api.request_quarantine()] == ["replay"]
        assert _actions(api) == [
            "trust.add", "request.import", "request.reject", "request.import", "request.withdraw", "request.import"
        ]  # fmt: skip
        assert api.audit_verify().intact


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int, bytes | str]]:
    """Each entry's mode, size, time of change and content (a huge file's by its size and time)."""
    return {
        p.name: (
            (st := p.lstat()).st_mode,
            st.st_size,
            st.st_mtime_ns,
            os.readlink(p)
            if p.is_symlink()
            else "a folder"
            if p.is_dir()
            else p.read_bytes()
            if st.st_size < 1 << 20
            else "huge",
        )
        for p in folder.iterdir()
    }


def test_the_cli_imports_a_folder_once_without_touching_it(data: Path, tmp_path: Path) -> None:
    spd = Agency()
    ok(run_cli(data, "trust", "add", str(spd.write_card(tmp_path / "spd.trust.json"))))
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    elsewhere.mkdir()
    request = spd.payload(agency="Springfield PD")
    (inbox / "01-elm.request.jws").write_text(spd.sign(request) + "\n")
    (inbox / "02-withdraw.REQUEST.JWS").write_text(
        spd.sign(spd.payload(kind="withdrawal", refers_to=request["id"]))
    )
    (inbox / "03-forged.request.jws").write_text(spd.sign(key=Ed25519PrivateKey.generate()))
    (inbox / "notes.txt").write_text("not a request")
    (inbox / "sub.request.jws").mkdir()  # a folder, not followed into
    outside = elsewhere / "outside.request.jws"
    outside.write_text(spd.sign())
    (inbox / "04-link.request.jws").symlink_to(outside)
    hostile = os.path.join(os.fsencode(inbox), b"06-\xff\x1b[2J.request.jws")  # not UTF-8, an escape
    with open(hostile, "w") as f:
        f.write(spd.sign())
    huge = inbox / "05-huge.request.jws"
    with huge.open("wb") as f:  # a sparse 8 GiB file: refused after reading past the limit only
        f.truncate(8 << 30)
    before = _snapshot(inbox)
    result = run_cli(data, "requests", "import", str(inbox), "--json", timeout=60)
    assert result.returncode == 1 and result.stdout, result.stderr  # something was refused
    report = json.loads(result.stdout)
    assert _snapshot(inbox) == before
    assert {k: v for k, v in report.items() if k != "files"} == {
        "imported": 3, "duplicates": 0, "rejected": 2, "unreadable": 1, "skipped": 1, "ignored": 1,
    }  # fmt: skip
    by_file = {Path(f["file"]).name: f for f in report["files"]}
    assert set(by_file["01-elm.request.jws"]) == {"file", "outcome", "request", "refused", "closes"}
    assert by_file["02-withdraw.REQUEST.JWS"]["closes"] == [request["id"]]
    assert by_file["03-forged.request.jws"]["refused"]["reason"] == "bad_signature"
    assert by_file["04-link.request.jws"] == {
        "file": str(inbox / "04-link.request.jws"), "outcome": "skipped", "message": "a link, not followed"
    }  # fmt: skip
    assert by_file["05-huge.request.jws"]["refused"]["reason"] == "oversize"
    assert by_file["05-huge.request.jws"]["refused"]["bytes"] == REQUEST_MAX_BYTES + 1
    assert by_file["sub.request.jws"]["outcome"] == "unreadable"
    assert by_file["06-\ufffd\x1b[2J.request.jws"]["outcome"] == "imported"  # JSON escapes it

    listed = cli_json(data, "requests", "list")
    assert [r["kind"] for r in listed] and {r["id"] for r in listed} >= {request["id"]}
    elm = next(r for r in listed if r["id"] == request["id"])
    assert set(elm) == {
        "id", "ref", "kind", "kid", "card_name", "same_name", "agency", "agency_differs", "case", "title",
        "message", "contact", "window", "area", "retention_days", "legal_basis", "warrant_ref", "refers_to",
        "issued", "expires", "imported", "sha256", "status", "closed_by", "closed", "note", "standing", "problem",
        "overbroad", "hidden_by", "match", "hold",
    }  # fmt: skip
    assert (elm["status"], elm["standing"], elm["agency_differs"]) == ("withdrawn", "in_force", True)
    assert elm["window"] == {k: v[:-1] + ".000Z" for k, v in request["window"].items()}
    text = ok(run_cli(data, "requests", "list")).stdout
    assert "withdrawn" in text and "signed with the card of 'Springfield Police Department'" in text

    shown = ok(run_cli(data, "requests", "show", request["id"][9:17]))
    assert spd.kid in shown.stdout and "Package theft on Elm St" in shown.stdout
    assert "Springfield PD" in shown.stdout and "withdrawn by" in shown.stdout
    assert cli_json(data, "requests", "show", request["id"]) == elm
    assert_one_line_error(run_cli(data, "requests", "show", "zz"), "named by its id")

    quarantined = cli_json(data, "requests", "quarantine")
    assert [q["reason"] for q in quarantined] == ["oversize", "bad_signature"]
    assert set(quarantined[0]) == {
        "id", "file", "bytes", "sha256", "reason", "message", "member", "kid", "claimed_id", "verified",
        "first_seen", "last_seen", "times",
    }  # fmt: skip
    text = ok(run_cli(data, "requests", "quarantine")).stdout
    assert "03-forged.request.jws" in text and f"from the card {spd.kid}, unverified" in text

    text = ok(
        run_cli(data, "requests", "import", str(inbox / "01-elm.request.jws"), os.fsdecode(hostile))
    ).stdout
    assert "06-\ufffd\ufffd[2J.request.jws" in text and "\x1b" not in text  # no escape reaches the terminal
    again = ok(run_cli(data, "requests", "import", str(inbox / "01-elm.request.jws")))
    assert "imported already" in again.stdout and "Nothing was sent anywhere" in again.stdout
    assert [e["action"] for e in cli_json(data, "audit", "list")].count("request.import") == 3


def test_a_running_hub_sees_an_import_at_once_and_nothing_is_sent(data: Path, tmp_path: Path) -> None:
    spd = Agency()
    path = tmp_path / "r.request.jws"
    path.write_text(spd.sign())
    log = tmp_path / "net.jsonl"
    with open_api("socket", data) as api:  # a served hub, listening
        assert isinstance(api, SocketHub)
        api.trust_add(spd.card_bytes())
        # the CLI with an audit hook on every lookup and connect
        done = netaudit.run(log, data, "requests", "import", str(path))
        assert done.returncode == 0, done.stderr
        assert f"the running hub (pid {api.hub_pid})" in done.stderr
        assert [r.kid for r in api.request_list()] == [spd.kid]
    events = netaudit.events(log)
    assert events, "the hook saw nothing: not even the connection to the hub"  # the hook works
    assert {e["event"] for e in events} == {"socket.connect"}  # no name lookup, no datagram
    assert all(e["args"][1].startswith("'/") for e in events), events  # Unix socket paths only
    with IndexOnly.open(data) as index:
        assert [e.action for e in index.audit_log()] == ["trust.add", "request.import"]
