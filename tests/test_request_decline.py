"""Declining a request (issue 14, step g): through every backend of the Hub API and the CLI, the
decision is recorded in the index and the audit log (once), the footage the request held is released,
and what cannot be declined is refused with a clear error that changes nothing. That a decline
writes nothing else and sends nothing is tested from outside in test_request_decline_isolation.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.api import HubApi
from hub.api.errors import ConflictError, NotFoundError, ValidationError
from hub.api.types import AgencyRequest, SettingsChange
from tests.support.agency import Agency
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli
from tests.support.footage import hours_ago, imported, index_footage, porch_and_garage, window

HOME = (39.7817, -89.6501)  # the centre of the agency's default area


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return porch_and_garage(tmp_path)


def _log(api: HubApi) -> list[tuple[str, dict[str, object]]]:
    return [(e.action, e.data or {}) for e in api.audit_log(limit=10_000)]


def _held_request(api: HubApi, data: Path, spd: Agency) -> AgencyRequest:
    t0 = hours_ago(3)
    index_footage(data, Porch=[(t0, t0 + 10000)], Garage=[(t0 + 5000, t0 + 15000)])
    api.update_settings(SettingsChange(home_lat=HOME[0], home_lon=HOME[1]))
    api.trust_add(spd.card_bytes())
    r = imported(api, spd, window=window(t0, t0 + 20000))
    assert r.hold is not None and r.hold.state == "held" and r.match is not None and r.match.matched
    return r


def test_every_backend_declines_a_request_once_logs_it_and_releases_its_hold(api: HubApi, data: Path) -> None:
    spd = Agency()
    r = _held_request(api, data, spd)
    before = len(_log(api))

    done = api.request_decline(r.ref[:8], "  Not comfortable sharing.\nAsk again with a warrant.  ")
    assert done.outcome == "declined"
    d = done.request
    assert (d.id, d.status, d.note) == (
        r.id,
        "declined",
        "Not comfortable sharing.\nAsk again with a warrant.",
    )
    assert d.closed_ms is not None and d.closed_by is None
    assert d.hold is not None and (d.hold.state, d.hold.why, d.hold.bytes) == ("released", "declined", 0)
    assert api.protections(reasons=["hold"]) == []
    added = _log(api)[before:]
    assert added == [
        (
            "request.decline",
            {"kid": spd.kid, "id": r.id, "standing": "in_force", "note": d.note},
        ),
        ("hold.release", {"kid": spd.kid, "id": r.id, "why": "declined", "bytes": 2000}),
    ]

    again = api.request_decline(r.ref, "a second note is not kept")
    assert again.outcome == "already_declined" and again.request.note == d.note
    assert len(_log(api)) == before + 2  # nothing logged twice
    shown = next(x for x in api.request_list() if x.id == r.id)
    assert (shown.status, shown.note, shown.closed_ms) == ("declined", d.note, d.closed_ms)
    assert api.request_show(r.ref).status == "declined"
    check = api.audit_verify()
    assert check.intact and check.seal is not None and check.seal.signed == check.seal.checkpoints


def test_what_cannot_be_declined_is_refused_and_changes_nothing(api: HubApi) -> None:
    spd = Agency()
    api.trust_add(spd.card_bytes())
    alert = imported(api, spd, kind="alert", window=None, case=None)
    withdrawn = imported(api, spd)
    api.request_import(spd.sign(spd.payload(kind="withdrawal", refers_to=withdrawn.id, window=None)).encode())
    request = imported(api, spd)
    before = _log(api)

    with pytest.raises(ValidationError) as caught:
        api.request_decline(alert.ref)
    assert (caught.value.field, caught.value.rule) == ("ref", "one_of") and "an alert" in str(caught.value)
    with pytest.raises(ConflictError, match="withdrawn"):
        api.request_decline(withdrawn.ref)
    with pytest.raises(NotFoundError):
        api.request_decline("0000dead")
    with pytest.raises(ValidationError) as caught:
        api.request_decline("zz")
    assert caught.value.field == "ref"
    for note, rule in [("x" * 501, "too_long"), ("bell\a", "format"), ("\u202eevil", "format")]:
        with pytest.raises(ValidationError) as caught:
            api.request_decline(request.ref, note)
        assert (caught.value.field, caught.value.rule) == ("note", rule)
    assert _log(api) == before
    assert {x.id: x.status for x in api.request_list()}[request.id] == "open"


def test_the_command_line_declines_and_says_nothing_was_sent(data: Path, tmp_path: Path) -> None:
    spd = Agency()
    card = spd.write_card(tmp_path / "spd.trust.json")
    ok(run_cli(data, "trust", "add", str(card)))
    jws = tmp_path / "elm.request.jws"
    jws.write_text(spd.sign())
    ok(run_cli(data, "requests", "import", str(jws)))
    ref = cli_json(data, "requests", "list")[0]["ref"]

    said = ok(run_cli(data, "requests", "decline", ref[:6], "--note", "no")).stdout
    assert f"declined the footage request {ref}" in said and spd.name in said
    assert "Nothing was sent to the agency or anyone else" in said and "learns nothing" in said
    again = json.loads(ok(run_cli(data, "requests", "decline", ref, "--json")).stdout)
    assert set(again) == {"outcome", "request", "sent", "message"}
    assert (again["outcome"], again["sent"], again["request"]["status"], again["request"]["note"]) == (
        "already_declined",
        False,
        "declined",
        "no",
    )
    shown = ok(run_cli(data, "requests", "show", ref)).stdout
    assert (
        "declined by you on" in shown and "the agency was not told" in shown and "your note:    no" in shown
    )
    assert_one_line_error(run_cli(data, "requests", "decline", "0000dead"), "no request")
    assert_one_line_error(run_cli(data, "requests", "decline", ref, "--note", "x" * 501), "500")
    log = cli_json(data, "audit", "list")
    assert [e["action"] for e in log].count("request.decline") == 1
