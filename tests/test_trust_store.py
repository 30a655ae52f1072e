"""Trust cards in a real index, through every backend of the Hub API (the hub in this process,
index-only, a served hub over its socket), on SQLite and PostgreSQL, and ``porchlight trust
add|list|revoke`` as a user runs it; each change is in the audit log, and a refused card changes
nothing. The cards come from an independent agency (tests/support/agency.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hub.api import HubApi
from hub.api.client import SocketHub
from hub.api.errors import ConflictError, NotFoundError, ValidationError
from hub.api.index import IndexOnly
from hub.api.types import TRUST_CARD_MAX_BYTES
from tests.support.agency import Agency, epoch_ms, zulu
from tests.support.apitools import open_api
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli

pytest_plugins = ["tests.support.postgres"]


def _actions(api: HubApi) -> list[tuple[str, dict]]:
    return [(e.action, e.data or {}) for e in api.audit_log(limit=1000)]


def test_every_backend_adds_replaces_and_revokes_cards_and_logs_each_change(api: HubApi) -> None:
    spd = Agency()
    later = zulu(time.time() + 400 * 86400)
    added = api.trust_add(spd.card_bytes())
    assert added.outcome == "added" and added.previous is None
    card = added.card
    assert (card.kid, card.fingerprint, card.name, card.state) == (
        spd.kid,
        spd.fingerprint,
        spd.name,
        "active",
    )
    assert card.age_recipient == str(spd.age.to_public()) and card.revoked_ms is None

    again = api.trust_add(spd.card_bytes(expires=zulu(card.expires_ms / 1000)))
    assert again.outcome == "unchanged" and again.card == card  # the same card, written another way

    with pytest.raises(ConflictError, match="expiry.*--replace"):
        api.trust_add(spd.card_bytes(expires=later))
    replaced = api.trust_add(spd.card_bytes(expires=later, name="Springfield PD"), replace=True)
    assert replaced.outcome == "replaced" and replaced.previous is not None
    assert replaced.previous.name == spd.name and replaced.card.name == "Springfield PD"
    assert replaced.card.expires_ms == epoch_ms(later) and replaced.card.added_ms == card.added_ms

    revoked = api.trust_revoke(spd.kid[:5].upper())  # a prefix, in any case
    assert revoked.outcome == "revoked" and revoked.card.state == "revoked" and revoked.card.revoked_ms
    assert api.trust_revoke(spd.kid).outcome == "already_revoked"
    with pytest.raises(ConflictError, match="revoked.*--replace"):
        api.trust_add(spd.card_bytes(expires=later, name="Springfield PD"))
    restored = api.trust_add(spd.card_bytes(expires=later, name="Springfield PD"), replace=True)
    assert restored.outcome == "replaced" and restored.card.state == "active"
    assert restored.previous is not None and restored.previous.state == "revoked"

    assert [c.kid for c in api.trust_list()] == [spd.kid]
    actions = _actions(api)
    assert [a for a, _ in actions] == ["trust.add", "trust.add", "trust.revoke", "trust.add"]
    first, renewed, gone, back = (d for _, d in actions)
    assert first["kid"] == spd.kid and first["fingerprint"] == spd.fingerprint and "replaces" not in first
    assert renewed["replaces"] == {"name": spd.name, "expires": zulu(card.expires_ms / 1000)[:-1] + ".000Z"}
    assert gone == {"kid": spd.kid, "fingerprint": spd.fingerprint, "name": "Springfield PD"}
    assert "revoked" in back["replaces"]
    assert api.audit_verify().intact


def test_cards_sharing_a_name_warn_of_each_other_until_one_is_revoked(api: HubApi) -> None:
    real, lookalike, other = (
        Agency(),
        Agency(name=" springfield  POLICE department"),
        Agency(name="Shelbyville PD"),
    )
    api.trust_add(real.card_bytes())
    assert api.trust_add(other.card_bytes()).card.same_name == ()
    warned = api.trust_add(lookalike.card_bytes())
    assert warned.card.same_name == (real.kid,)
    listed = {c.kid: c for c in api.trust_list()}
    assert listed[real.kid].same_name == (lookalike.kid,) and listed[other.kid].same_name == ()
    api.trust_revoke(lookalike.kid)
    assert {c.kid: c.same_name for c in api.trust_list()}[real.kid] == ()


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        (b'{"type": "porchlight.trust.v1"}', "'name' is missing"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"x" * (TRUST_CARD_MAX_BYTES + 1), f"at most {TRUST_CARD_MAX_BYTES} bytes"),
    ],
    ids=["missing members", "not UTF-8", "oversize"],
)
def test_a_refused_card_changes_nothing(data: Path, card: bytes, reason: str) -> None:
    with IndexOnly.open(data) as api:
        with pytest.raises(ValidationError, match=reason) as caught:
            api.trust_add(card)
        assert caught.value.field == "card"
        with pytest.raises(ValidationError, match="expired on") as expired:
            api.trust_add(Agency().card_bytes(expires="2026-01-01T00:00:00Z"))
        assert expired.value.rule == "min"
        assert api.trust_list() == [] and api.audit_log() == []


def test_a_card_expires_while_it_is_held(data: Path) -> None:
    with IndexOnly.open(data) as api:
        soon = api.trust_add(Agency().card_bytes(expires=zulu(time.time() + 2))).card
        assert soon.state == "active"
        time.sleep(max(0.0, soon.expires_ms / 1000 - time.time()) + 0.05)
        assert [c.state for c in api.trust_list()] == ["expired"]


def test_a_card_is_named_by_a_unique_prefix_of_its_key_id(data: Path) -> None:
    seen: dict[str, Agency] = {}
    while True:  # two keys whose ids share 4 characters (about 300 keys on average)
        agency = Agency()
        if agency.kid[:4] in seen:
            twin = seen[agency.kid[:4]]
            break
        seen[agency.kid[:4]] = agency
    with IndexOnly.open(data) as api:
        api.trust_add(agency.card_bytes())
        api.trust_add(twin.card_bytes())
        with pytest.raises(ValidationError, match="names 2 cards") as ambiguous:
            api.trust_revoke(agency.kid[:4])
        assert ambiguous.value.rule == "unique"
        for bad in ("abc", "xyz1", agency.kid + "0", "a%b_"):
            with pytest.raises(ValidationError, match="key id"):
                api.trust_revoke(bad)
        unknown = next(
            k for k in ("0000", "ffff", "1234") if not agency.kid.startswith(k) and not twin.kid.startswith(k)
        )
        with pytest.raises(NotFoundError):
            api.trust_revoke(unknown)
        grouped = " ".join(twin.fingerprint[i : i + 4] for i in range(0, 64, 4))
        with pytest.raises(NotFoundError, match="fingerprint"):  # the kid matches, the rest does not
            api.trust_revoke(twin.fingerprint[:16] + agency.fingerprint[16:])
        assert api.trust_revoke(grouped).card.kid == twin.kid  # as `trust list` shows it
        shared = os.path.commonprefix([agency.kid, twin.kid])
        assert api.trust_revoke(agency.kid[: len(shared) + 1]).card.kid == agency.kid
        assert {c.kid: c.state for c in api.trust_list()} == {agency.kid: "revoked", twin.kid: "revoked"}


def test_cards_live_in_the_index_on_sqlite_and_postgresql(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    spd, lookalike = Agency(), Agency()
    with IndexOnly.open(data, db_url) as api:
        api.trust_add(spd.card_bytes())
        api.trust_add(lookalike.card_bytes())
        api.trust_revoke(lookalike.kid[:6])
    with IndexOnly.open(data, db_url) as api:  # read back by another opening
        assert {c.kid: c.state for c in api.trust_list()} == {spd.kid: "active", lookalike.kid: "revoked"}
        assert [e.action for e in api.audit_log()] == ["trust.add", "trust.add", "trust.revoke"]
        assert api.audit_verify().intact


def test_the_cli_trusts_lists_and_revokes_cards(data: Path, tmp_path: Path) -> None:
    spd, lookalike = Agency(), Agency(name="Springfield Police Department")
    card = spd.write_card(tmp_path / "spd.trust.json")
    added = ok(run_cli(data, "trust", "add", str(card)))
    assert spd.kid in added.stdout and spd.name in added.stdout and added.stderr == ""
    assert " ".join(spd.fingerprint[i : i + 4] for i in range(0, 64, 4)) in added.stdout
    assert "already trusted" in ok(run_cli(data, "trust", "add", str(card))).stdout

    piped = ok(run_cli(data, "trust", "add", "-", "--json", input=lookalike.card_bytes().decode()))
    change = json.loads(piped.stdout)
    assert change["outcome"] == "added" and change["card"]["same_name"] == [spd.kid]
    assert "warning: another trusted card has the name" in piped.stderr and spd.kid in piped.stderr

    listed = cli_json(data, "trust", "list")
    assert sorted(c["kid"] for c in listed) == sorted([spd.kid, lookalike.kid])
    row = next(c for c in listed if c["kid"] == spd.kid)
    assert set(row) == {
        "kid", "fingerprint", "name", "jurisdiction", "website", "age_recipient",
        "expires", "state", "added", "updated", "revoked", "same_name",
    }  # fmt: skip
    assert row["fingerprint"] == spd.fingerprint and row["state"] == "active" and row["revoked"] is None
    text = ok(run_cli(data, "trust", "list")).stdout
    assert " ".join(spd.fingerprint[i : i + 4] for i in range(0, 64, 4)) in text
    assert f"warning: the same name as {lookalike.kid}" in text

    revoked = ok(run_cli(data, "trust", "revoke", spd.kid))
    assert "revoked" in revoked.stdout and spd.kid in revoked.stdout
    assert cli_json(data, "trust", "revoke", spd.kid)["outcome"] == "already_revoked"
    assert_one_line_error(run_cli(data, "trust", "add", str(card)), str(card), "revoked", "--replace")
    assert cli_json(data, "trust", "add", str(card), "--replace")["card"]["state"] == "active"
    assert [e["action"] for e in cli_json(data, "audit", "list")] == [
        "trust.add", "trust.add", "trust.revoke", "trust.add"
    ]  # fmt: skip


def test_the_cli_refuses_what_is_not_a_card_with_one_line(data: Path, tmp_path: Path) -> None:
    spd = Agency()
    wrong_kid = spd.write_card(tmp_path / "wrong.trust.json", jwk={**spd.jwk(), "kid": Agency().kid})
    assert_one_line_error(
        run_cli(data, "trust", "add", str(wrong_kid)), str(wrong_kid), "jwk.kid", "does not match"
    )
    offset = spd.write_card(tmp_path / "offset.trust.json", expires="2030-01-01T00:00:00+01:00")
    assert_one_line_error(run_cli(data, "trust", "add", str(offset)), "'expires'", "RFC 3339 UTC")
    huge = tmp_path / "huge.trust.json"
    with huge.open("wb") as f:  # a sparse 8 GiB file: refused after reading past the limit only
        f.truncate(8 << 30)
    assert_one_line_error(run_cli(data, "trust", "add", str(huge), timeout=20), str(huge), "at most")
    fifo = tmp_path / "card.fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    assert_one_line_error(run_cli(data, "trust", "add", str(fifo), timeout=20), str(fifo), "not a file")
    assert_one_line_error(run_cli(data, "trust", "add", str(tmp_path / "none.json")), "cannot read")
    assert_one_line_error(run_cli(data, "trust", "revoke", "zz"), "key id")
    assert cli_json(data, "trust", "list") == [] and cli_json(data, "audit", "list") == []


def test_a_running_hub_takes_a_card_the_cli_adds(data: Path, tmp_path: Path) -> None:
    spd = Agency()
    with open_api("socket", data) as api:  # a served hub, listening
        assert isinstance(api, SocketHub)
        added = ok(run_cli(data, "trust", "add", str(spd.write_card(tmp_path / "spd.trust.json"))))
        assert f"the running hub (pid {api.hub_pid})" in added.stderr
        assert [c.kid for c in api.trust_list()] == [spd.kid]
    with IndexOnly.open(data) as index:
        assert [e.action for e in index.audit_log()] == ["trust.add"]
