"""The transparency report (issue 14, step g), computed from the audit log alone: its counts match
what the test did, through every backend and the CLI; each request counts once per count, in the
month it happened; refused files count against no agency; unreadable entries are skipped, said."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hub.api import HubApi
from hub.api.types import SettingsChange
from hub.community.formats.audit import GENESIS, StoredEntry, canonical
from hub.community.report import compute
from tests.support.agency import Agency
from tests.support.clitools import cli_json, ok, run_cli
from tests.support.footage import hours_ago, imported, index_footage, porch_and_garage, window

HOME = (39.7817, -89.6501)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return porch_and_garage(tmp_path)


def test_the_report_counts_what_happened_per_agency(api: HubApi, data: Path) -> None:
    t0 = hours_ago(3)
    index_footage(data, Porch=[(t0, t0 + 60000)])
    api.update_settings(SettingsChange(home_lat=HOME[0], home_lon=HOME[1]))
    spd, sheriff = Agency(), Agency(name="Sangamon County Sheriff")
    api.trust_add(spd.card_bytes())
    api.trust_add(sheriff.card_bytes())
    seen = imported(api, spd, window=window(t0, t0 + 10000))  # matched, then declined
    imported(api, spd, window=window(t0 + 70000, t0 + 80000))  # nothing recorded then: not matched
    imported(api, spd, kind="alert", window=None, case=None)
    gone = imported(api, spd, window=window(t0, t0 + 5000), area=None)  # matched, then withdrawn
    api.request_import(spd.sign(spd.payload(kind="withdrawal", refers_to=gone.id, window=None)).encode())
    imported(api, sheriff, window=window(t0 + 1000, t0 + 2000))  # matched, undecided
    for forged in (Agency().sign(), spd.sign()[:-4] + "AAAA"):  # unknown key, bad signature
        assert api.request_import(forged.encode()).outcome == "rejected"
    api.request_show(seen.ref)
    api.request_show(seen.ref)  # viewing twice counts nothing twice
    api.request_decline(seen.ref)
    api.request_decline(seen.ref)  # nor does declining twice

    found = api.audit_report()
    assert found.intact and found.entries == len(api.audit_log(limit=10_000))
    by_kid = {x.kid: x.counts for x in found.lines}
    assert len(found.lines) == 3 and {x.month for x in found.lines} == {found.months[0].month}
    spd_counts = by_kid[spd.kid]
    assert (spd_counts.received, spd_counts.alerts, spd_counts.matched) == (3, 1, 2)
    assert (spd_counts.declined, spd_counts.withdrawn, spd_counts.shared, spd_counts.refused) == (1, 1, 0, 0)
    sheriff_counts = by_kid[sheriff.kid]
    assert (sheriff_counts.received, sheriff_counts.matched, sheriff_counts.declined) == (1, 1, 0)
    assert by_kid[None].refused == 2 and by_kid[None].received == 0
    assert [(x.kid, x.agency) for x in found.agencies] == [
        (sheriff.kid, sheriff.name),
        (spd.kid, spd.name),
        (None, None),
    ]
    t = found.totals
    assert (t.received, t.alerts, t.matched, t.shared, t.declined, t.withdrawn, t.refused) == (
        4,
        1,
        3,
        0,
        1,
        1,
        2,
    )
    assert found.months[0].counts == t


def test_the_command_line_prints_the_report(data: Path, tmp_path: Path) -> None:
    assert "nothing to report" in ok(run_cli(data, "audit", "report")).stdout
    spd = Agency()
    ok(run_cli(data, "trust", "add", str(spd.write_card(tmp_path / "spd.trust.json"))))
    (tmp_path / "r.request.jws").write_text(spd.sign())
    ok(run_cli(data, "requests", "import", str(tmp_path / "r.request.jws")))
    ref = cli_json(data, "requests", "list")[0]["ref"]
    ok(run_cli(data, "requests", "decline", ref))
    found = json.loads(ok(run_cli(data, "audit", "report", "--json")).stdout)
    assert set(found) == {
        "intact", "entries", "first", "last", "lines", "agencies", "months", "totals", "skipped", "made"
    }  # fmt: skip
    counts = {
        "received": 1,
        "alerts": 0,
        "matched": 0,
        "shared": 0,
        "declined": 1,
        "withdrawn": 0,
        "refused": 0,
    }
    assert found["lines"] == [{"month": found["first"][:7], "kid": spd.kid, "agency": spd.name, **counts}]
    assert found["totals"] == counts and found["intact"] is True
    text = ok(run_cli(data, "audit", "report")).stdout
    assert "the log verifies" in text and f"{spd.name} ({spd.kid[:8]})" in text
    assert text.splitlines()[-1].split() == ["total", "1", "0", "0", "0", "1", "0", "0"]


def _entries(*rows: tuple[str, str, dict[str, object]]) -> list[StoredEntry]:
    """Stored entries (a UTC time, its action, its data); the chain is not what is tested here."""
    out = []
    for seq, (when, action, data) in enumerate(rows, 1):
        ms = int(dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC).timestamp() * 1000)
        out.append(StoredEntry(seq, ms, action, canonical(data).decode(), GENESIS, "0" * 64))
    return out


def test_each_request_counts_once_in_the_month_it_happened() -> None:
    card = {"kid": "aaaaaaaaaaaaaaaa", "name": "Old name"}
    found = compute(
        _entries(
            ("2026-10-30T23:59:59", "trust.add", card),
            (
                "2026-10-31T10:00:00",
                "request.import",
                {"kid": card["kid"], "id": "r1", "kind": "footage_request"},
            ),
            ("2026-10-31T10:00:01", "request.match", {"kid": card["kid"], "id": "r1"}),
            ("2026-11-01T00:00:00", "request.match", {"kid": card["kid"], "id": "r1"}),  # again: not counted
            ("2026-11-02T08:00:00", "request.decline", {"kid": card["kid"], "id": "r1"}),
            ("2026-11-03T08:00:00", "trust.add", {**card, "name": "New name"}),
            ("2026-11-04T08:00:00", "request.reject", {"reason": "bad_signature"}),
            ("2026-11-05T08:00:00", "request.view", {"kid": card["kid"], "id": "r1"}),
        )
        + [StoredEntry(9, 1_700_000_000_000, "request.import", "{not json", GENESIS, "0" * 64)]
    )
    assert [(x.month, x.kid, x.agency) for x in found.lines] == [
        ("2026-10", card["kid"], "New name"),
        ("2026-11", card["kid"], "New name"),
        ("2026-11", None, None),
    ]
    october, november, refused = (x.counts for x in found.lines)
    assert (october.received, october.matched, october.declined) == (1, 1, 0)
    assert (november.received, november.matched, november.declined) == (0, 0, 1)
    assert refused.refused == 1 and found.skipped == 1 and found.entries == 9
    assert [x.month for x in found.months] == ["2026-10", "2026-11"]
