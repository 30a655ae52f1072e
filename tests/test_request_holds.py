"""Holds (issue 14, step f): a verified footage request under review keeps the footage it matches from
retention until the owner decides or it ends; never for a file that did not verify or an area
elsewhere; capped; released (and logged) when withdrawn, expired, revoked, by the owner, or oldest
first when the disk is full, never touching stars or evidence. Through every backend of the Hub API,
the retention worker of a real hub recording real files, PostgreSQL, a migrated index, and the CLI."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from hub.api import HubApi
from hub.api.errors import ValidationError
from hub.api.index import IndexOnly
from hub.api.types import AgencyRequest, CameraChange, SettingsChange
from hub.community import holds
from hub.core.bus import ProtectionChanged
from hub.db import repo_config, repo_media, repo_protect
from hub.db.engine import open_engine
from hub.db.tx import run_write
from hub.db.upgrade import current_revision, head_revision, migrate
from hub.retention.worker import RetentionWorker
from tests.support.agency import Agency, zulu
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli
from tests.support.footage import (
    HOUR_MS,
    hours_ago,
    imported,
    index_footage,
    porch_and_garage,
    shared_index,
    window,
)
from tests.support.hubtools import camera, configure, start_hub, wait_for
from tests.support.migrations import insert_old_alert, migrate_to

pytest_plugins = ["tests.support.postgres"]

MiB = 1024**2
HOME = (39.7817, -89.6501)  # the centre of the agency's default area (tests/support/agency.py)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return porch_and_garage(tmp_path)


def hold_of(api: HubApi, r: AgencyRequest) -> tuple[str, str | None, int]:
    shown = next(x for x in api.request_list(include_hidden=True) if x.id == r.id)
    assert shown.hold is not None
    return shown.hold.state, shown.hold.why, shown.hold.bytes


def audit(api: HubApi, action: str) -> list[dict[str, object]]:
    return [e.data or {} for e in api.audit_log(limit=10_000) if e.action == action]


# -- which requests hold their footage ---------------------------------------------------------------


def test_a_request_in_the_area_holds_its_footage_until_it_is_withdrawn(api: HubApi, data: Path) -> None:
    t0 = hours_ago(3)
    ids = index_footage(
        data,
        Porch=[(t0 - 4000, t0 + 6000), (t0 + 6000, t0 + 16000), (t0 + 40000, t0 + 50000)],
        Garage=[(t0 + 20000, t0 + 30000), (t0 + 90000, t0 + 100000)],
    )
    api.update_settings(SettingsChange(home_lat=HOME[0], home_lon=HOME[1] + 0.002))  # 171 m away
    spd = Agency()
    api.trust_add(spd.card_bytes())
    r = imported(api, spd, window=window(t0, t0 + 45000))
    assert r.hold is not None and (r.hold.state, r.hold.why) == ("held", None)
    assert r.hold.bytes == 4 * 1000  # Porch's three recordings and the Garage's first; not the last
    held = api.protections(reasons=["hold"])
    assert sorted((p.camera_id, p.start_ms, p.end_ms) for p in held) == sorted(
        (ids[name], t0, t0 + 45000) for name in ("Porch", "Garage")
    )
    assert all(r.ref in p.note and spd.name in p.note for p in held)
    in_window = api.recordings(start_ms=t0, end_ms=t0 + 45000)
    assert len(in_window) == 4 and all(rec.kept_for == ("hold",) for rec in in_window)
    assert [rec.kept_for for rec in api.recordings(start_ms=t0 + 90000)] == [()]
    assert audit(api, "hold.add") == [{"kid": spd.kid, "id": r.id, "cameras": 2, "bytes": 4000}]

    withdrawal = spd.payload(kind="withdrawal", refers_to=r.id, window=None, case=None, area=None)
    assert api.request_import(spd.sign(withdrawal).encode()).closes == (r.id,)
    assert hold_of(api, r) == ("released", "withdrawn", 0)
    assert api.protections(reasons=["hold"]) == []
    assert all(rec.kept_for == () for rec in api.recordings(start_ms=t0, end_ms=t0 + 45000))
    assert audit(api, "hold.release") == [{"kid": spd.kid, "id": r.id, "why": "withdrawn", "bytes": 4000}]
    api.request_show(r.ref)  # released once: never held again
    assert api.protections(reasons=["hold"]) == [] and api.audit_verify().intact


def test_no_hold_for_an_area_elsewhere_an_alert_a_hidden_request_no_footage_or_holds_off(
    api: HubApi, data: Path
) -> None:
    t0 = hours_ago(5)
    index_footage(data, Porch=[(t0, t0 + 60000)])
    spd = Agency()
    api.trust_add(spd.card_bytes())
    unchecked = imported(api, spd, window=window(t0, t0 + 10000))  # no home set: area not checked
    assert unchecked.hold is not None and unchecked.hold.state == "held"
    api.update_settings(SettingsChange(home_lat=HOME[0], home_lon=HOME[1] + 0.01))  # 856 m: outside 400 m
    cases = {
        "area_outside": imported(api, spd, window=window(t0, t0 + 10000)),
        "not_footage": imported(api, spd, kind="alert", window=None, case=None),
        "hidden": imported(api, spd, window=window(t0 - 13 * HOUR_MS, t0 + 10000), area=None),
        "no_footage": imported(api, spd, window=window(t0 + 70000, t0 + 80000), area=None),
    }
    for why, r in cases.items():
        assert r.hold is not None and (r.hold.state, r.hold.why, r.hold.bytes) == ("not_held", why, 0), why
    forged = spd.payload(window=window(t0, t0 + 10000), area=None)
    assert api.request_import(Agency().sign(forged).encode()).outcome == "rejected"  # another key
    api.update_settings(SettingsChange(hold_requests=False))
    off = imported(api, spd, window=window(t0 + 20000, t0 + 30000), area=None)
    assert off.hold is not None and (off.hold.state, off.hold.why) == ("not_held", "off")
    assert len(api.protections(reasons=["hold"])) == 1  # the first request's only

    api.update_settings(SettingsChange(hold_requests=True))
    assert api.request_show(off.ref).hold.state == "held"  # type: ignore[union-attr]
    api.request_rule_remove(1)  # the owner opts in to overbroad requests
    assert api.request_show(cases["hidden"].ref).hold.state == "held"  # type: ignore[union-attr]
    assert api.request_show(cases["area_outside"].ref).hold.why == "area_outside"  # type: ignore[union-attr]
    assert len(api.protections(reasons=["hold"])) == 3
    assert len(audit(api, "hold.add")) == 3


def test_holds_are_capped_by_a_share_of_the_quota(api: HubApi, data: Path) -> None:
    t0 = hours_ago(4)
    index_footage(data, size=5 * MiB, Porch=[(t0 + i * 10000, t0 + (i + 1) * 10000) for i in range(6)])
    api.update_settings(SettingsChange(quota_bytes=64 * MiB))  # 20 %: 12.8 MiB of holds
    spd = Agency()
    api.trust_add(spd.card_bytes())
    two = imported(api, spd, window=window(t0, t0 + 20000), area=None)  # 10 MiB
    one_more = imported(api, spd, window=window(t0 + 20000, t0 + 30000), area=None)  # 15 MiB in all
    assert two.hold is not None and (two.hold.state, two.hold.bytes) == ("held", 10 * MiB)
    assert one_more.hold is not None and (one_more.hold.state, one_more.hold.why) == ("not_held", "cap")
    assert len(api.protections(reasons=["hold"])) == 1  # the refused hold left nothing behind
    # footage a star keeps costs holds nothing
    starred = api.protect("Porch", t0 + 20000, t0 + 20001, "star")
    assert api.request_show(one_more.ref).hold.state == "held"  # type: ignore[union-attr]
    api.release(starred.id)
    third = imported(api, spd, window=window(t0 + 30000, t0 + 40000), area=None)
    assert third.hold is not None and third.hold.why == "cap"
    api.update_settings(SettingsChange(hold_cap_percent=35.0))  # 22.4 MiB: room for 20
    assert api.request_show(third.ref).hold.state == "held"  # type: ignore[union-attr]
    for bad, rule in [(0.5, "min"), (51.0, "max"), (float("nan"), "format")]:
        with pytest.raises(ValidationError) as caught:
            api.update_settings(SettingsChange(hold_cap_percent=bad))
        assert (caught.value.field, caught.value.rule) == ("hold_cap_percent", rule)
    assert api.settings().hold_cap_percent == 35.0  # nothing lost


def test_a_hold_ends_when_the_request_expires_or_its_card_is_revoked(api: HubApi, data: Path) -> None:
    t0 = hours_ago(6)
    index_footage(data, Porch=[(t0, t0 + 10000)], Garage=[(t0, t0 + 10000)])
    spd, sheriff = Agency(), Agency(name="Sangamon County Sheriff")
    api.trust_add(spd.card_bytes())
    api.trust_add(sheriff.card_bytes())
    soon = imported(api, spd, window=window(t0, t0 + 5000), area=None, expires=zulu(time.time() + 3))
    theirs = imported(api, sheriff, window=window(t0, t0 + 5000), area=None)
    assert len(api.protections(reasons=["hold"])) == 4
    wait_for(lambda: hold_of(api, soon)[0] == "released", 15, "the hold of the expired request released")
    assert hold_of(api, soon) == ("released", "expired", 0)
    assert hold_of(api, theirs)[0] == "held"
    api.trust_revoke(sheriff.kid)
    assert api.request_show(theirs.ref).hold.why == "card_revoked"  # type: ignore[union-attr]
    assert api.protections(reasons=["hold"]) == []
    assert [d["why"] for d in audit(api, "hold.release")] == ["expired", "card_revoked"]


def test_a_running_hub_s_retention_releases_the_hold_of_a_request_that_expired(tmp_path: Path) -> None:
    data = porch_and_garage(tmp_path)
    t0 = hours_ago(2)
    index_footage(data, Porch=[(t0, t0 + 10000)])
    spd = Agency()
    expires = time.time() + 2
    with IndexOnly.open(data) as api:
        for name in ("Porch", "Garage"):
            api.update_camera(name, CameraChange(enabled=False))
        api.trust_add(spd.card_bytes())
        r = imported(api, spd, window=window(t0, t0 + 5000), area=None, expires=zulu(expires))
        assert r.hold is not None and r.hold.state == "held"
    wait_for(lambda: time.time() > expires + 0.1, 10, "the request to expire")
    hub = start_hub(data, start_retention=False)
    try:
        announced: list[ProtectionChanged] = []
        hub.bus.subscribe(announced.append, ProtectionChanged)  # type: ignore[arg-type]
        worker = RetentionWorker(
            hub.engine, hub.writer, hub.storage, hub.bus, lambda: hub.settings, hub.cameras
        )
        worker.run_once()
        wait_for(lambda: announced, 10, "a notice of the hold released")
        assert [(p.protection.reason, p.released) for p in announced] == [("hold", True)]
        assert repo_protect.list_protections(hub.engine) == []
    finally:
        hub.stop()
    with IndexOnly.open(data) as api:
        assert [(d["id"], d["why"]) for d in audit(api, "hold.release")] == [(r.id, "expired")]


def test_the_owner_releases_a_hold_and_it_is_logged(api: HubApi, data: Path) -> None:
    t0 = hours_ago(2)
    ids = index_footage(data, Porch=[(t0, t0 + 10000)], Garage=[(t0, t0 + 10000)])
    spd = Agency()
    api.trust_add(spd.card_bytes())
    r = imported(api, spd, window=window(t0, t0 + 5000), area=None)
    porch, garage = sorted(api.protections(reasons=["hold"]), key=lambda p: p.camera != "Porch")
    api.release(porch.id)
    assert hold_of(api, r) == ("held", None, 1000)  # the Garage's is still held
    api.release(garage.id)
    assert hold_of(api, r)[:2] == ("released", "owner")
    assert [(d["why"], d["camera"]) for d in audit(api, "hold.release")] == [
        ("owner", ids["Porch"]),
        ("owner", ids["Garage"]),
    ]
    api.request_show(r.ref)
    assert api.protections(reasons=["hold"]) == []


# -- a full disk: holds go first, the oldest first; stars never ------------------------------------------


def test_a_full_disk_releases_the_oldest_hold_first_and_never_a_star(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data, [camera("Front", None, driver="demo", detect=False)], segment_seconds=2.0)
    hub = start_hub(data, start_retention=False)
    try:
        wait_for(lambda: len(repo_media.list_segments(hub.engine)) >= 6, 40, "six segments")
    finally:
        hub.stop()
    spd = Agency()
    with IndexOnly.open(data) as index:
        index.update_camera("Front", CameraChange(enabled=False))
        segs = index.recordings()
        index.trust_add(spd.card_bytes())
        starred = index.protect("Front", segs[0].start_ms, segs[0].end_ms, "star")
        first = imported(index, spd, window=window(segs[1].start_ms, segs[2].end_ms), area=None)
        second = imported(index, spd, window=window(segs[3].start_ms, segs[3].end_ms), area=None)
        assert (first.hold.state, second.hold.state) == ("held", "held")  # type: ignore[union-attr]
    hub = start_hub(data, start_retention=False)
    try:
        announced: list[ProtectionChanged] = []
        hub.bus.subscribe(announced.append, ProtectionChanged)  # type: ignore[arg-type]
        free, _total = hub.storage.disk()
        full = dataclasses.replace(hub.settings, min_free_bytes=free + 1024**3)  # never enough space
        worker = RetentionWorker(hub.engine, hub.writer, hub.storage, hub.bus, lambda: full, hub.cameras)
        plan = worker.run_once()
        wait_for(lambda: len(announced) == 2, 10, "a notice for each hold released")
        left = [s.id for s in repo_media.list_segments(hub.engine)]
        kept = repo_protect.list_protections(hub.engine)
    finally:
        hub.stop()
    assert plan is not None and plan.emergency
    assert [(p.protection.start_ms, p.released) for p in announced] == [
        (segs[1].start_ms, True),
        (segs[3].start_ms, True),
    ]  # the oldest hold first
    assert [(p.reason, p.id) for p in kept] == [("star", starred.id)]
    assert left == [segs[0].id]  # only the starred recording is left
    with IndexOnly.open(data) as index:
        assert [(d["id"], d["why"]) for d in audit(index, "hold.release")] == [
            (first.id, "disk_full"),
            (second.id, "disk_full"),
        ]
        assert hold_of(index, first)[:2] == ("released", "disk_full")
        assert index.audit_verify().intact


def test_a_full_disk_releases_only_as_many_holds_as_it_is_short_of(data: Path) -> None:
    t0 = hours_ago(3)
    index_footage(data, Porch=[(t0 + i * 10000, t0 + (i + 1) * 10000) for i in range(4)])
    spd = Agency()
    with IndexOnly.open(data) as api:
        api.trust_add(spd.card_bytes())
        held = [
            imported(api, spd, window=window(t0 + i * 10000, t0 + i * 10000 + 5000), area=None)
            for i in range(4)
        ]
        api.protect("Porch", t0 + 10000, t0 + 10001, "star")  # the second one's recording: freed by none
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    try:
        gone = run_write(engine, holds.release_oldest, need_bytes=1500, now=int(time.time() * 1000))
    finally:
        engine.dispose()
    # 1000 + 0 (starred) + 1000 bytes: the first three, oldest first; the fourth stays held
    assert [p.start_ms for p in gone] == [t0, t0 + 10000, t0 + 20000]
    with IndexOnly.open(data) as api:
        assert [hold_of(api, r)[:2] for r in held] == [("released", "disk_full")] * 3 + [("held", None)]


def test_holds_on_postgresql(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shared_index(db_url, "Porch")
    t0 = hours_ago(2)
    index_footage(data, db_url, Porch=[(t0 - 3000, t0 + 7000), (t0 + 9000, t0 + 19000)])
    spd = Agency()
    with IndexOnly.open(data, db_url) as api:
        api.trust_add(spd.card_bytes())
        r = imported(api, spd, window=window(t0, t0 + 12000), area=None)
        assert r.hold is not None and (r.hold.state, r.hold.bytes) == ("held", 2000)
        empty = imported(api, spd, window=window(t0 + 7500, t0 + 8500), area=None)  # in the gap
        assert empty.hold is not None and empty.hold.why == "no_footage"
        api.trust_revoke(spd.kid)
        assert hold_of(api, r) == ("released", "card_revoked", 0)


def test_an_index_of_step_e_loses_the_old_flag_and_keeps_everything(db_url: str, tmp_path: Path) -> None:
    engine = open_engine(db_url)
    try:
        migrate_to(engine, "0007", tmp_path)
        cam = run_write(engine, repo_config.add_camera, camera("Porch", "rtsp://127.0.0.1:9/p")).id
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO segment (camera_id, path, start_ms, end_ms, bytes, frames, has_audio,"
                    " protected, unobserved) VALUES (:c, 'p/1.mp4', 0, 10000, 100, 10, :f, :f, :f)"
                ),
                {"c": cam, "f": False},
            )
            conn.execute(
                text(
                    "INSERT INTO protection (camera_id, start_ms, end_ms, reason, note, created_ms)"
                    " VALUES (:c, 0, 5, 'hold', 'by hand', 1)"
                ),
                {"c": cam},
            )
            insert_old_alert(conn)
        migrate(engine, backup_dir=tmp_path / "backups")
        assert current_revision(engine) == head_revision()
        assert "protected" not in {c["name"] for c in inspect(engine).get_columns("segment")}
        (seg,) = repo_media.list_segments(engine)
        assert (seg.path, seg.bytes, seg.held, seg.protected) == ("p/1.mp4", 100, True, False)
        (kept,) = repo_protect.list_protections(engine)
        assert (kept.reason, kept.note, kept.request_seq) == ("hold", "by hand", None)
        with engine.connect() as conn:
            assert conn.execute(
                text("SELECT request_id, hold_state, hold_why, hold_ms FROM agency_request")
            ).all() == [("urn:uuid:x", None, None, None)]
    finally:
        engine.dispose()


# -- the CLI ---------------------------------------------------------------------------------------------


def test_the_cli_turns_holds_off_and_on_and_shows_them(data: Path, tmp_path: Path) -> None:
    assert cli_json(data, "settings", "show")["holds"] == {"on": True, "cap_percent": 20.0}
    t0 = hours_ago(4)
    index_footage(data, size=3 * MiB, Porch=[(t0, t0 + 60000)])
    spd = Agency()
    ok(run_cli(data, "trust", "add", str(spd.write_card(tmp_path / "spd.card.json"))))
    (tmp_path / "a.request.jws").write_text(spd.sign(spd.payload(window=window(t0, t0 + 5000), area=None)))
    out = ok(run_cli(data, "requests", "import", str(tmp_path / "a.request.jws"))).stdout
    assert "footage held from deletion until you decide or it expires (3.0 MiB)" in out
    (shown,) = cli_json(data, "requests", "list")
    assert shown["hold"]["state"] == "held" and shown["hold"]["bytes"] == 3 * MiB and shown["hold"]["since"]

    assert "off" in ok(run_cli(data, "settings", "set", "holds", "off")).stdout
    assert cli_json(data, "settings", "show")["holds"]["on"] is False
    (tmp_path / "b.request.jws").write_text(spd.sign(spd.payload(window=window(t0, t0 + 5000), area=None)))
    out = ok(run_cli(data, "requests", "import", str(tmp_path / "b.request.jws"))).stdout
    assert "footage not held: holds are off" in out
    ok(run_cli(data, "settings", "set", "holds", "on"))
    assert cli_json(data, "settings", "set", "hold-cap", "35%")["holds"] == {"on": True, "cap_percent": 35.0}
    assert "at most 35% of the quota" in ok(run_cli(data, "settings", "show")).stdout
    for args, says in [
        (["holds", "maybe"], "on or off"),
        (["hold-cap", "lots"], "a percentage"),
        (["hold-cap", "80"], "at most 50"),
        (["holds", "on", "--lat", "1"], "home location"),
    ]:
        assert_one_line_error(run_cli(data, "settings", "set", *args), says)
    assert cli_json(data, "settings", "show")["holds"] == {"on": True, "cap_percent": 35.0}  # nothing lost
    text_out = ok(run_cli(data, "requests", "show", shown["ref"])).stdout
    assert "footage held from deletion" in text_out
