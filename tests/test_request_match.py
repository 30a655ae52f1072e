"""Agency requests matched on this machine (issue 14, step e): the home location (coordinates, geo:
URIs and map links read as text), the footage a request's window covers per camera, the area against
the home location, overbroad requests, and the owner's rules that hide requests. Through every
backend of the Hub API and the CLI; footage recorded from a loopback RTSP stream, or (for the edge
cases of the arithmetic) indexed directly in a real SQLite or PostgreSQL index."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from hub.api import HubApi
from hub.api.errors import NotFoundError, ValidationError
from hub.api.index import IndexOnly
from hub.api.local import LocalHub
from hub.api.types import CameraChange, Recording, SettingsChange
from hub.community.formats.places import EARTH_RADIUS_M, Place, PlaceError, distance_m, parse_place
from hub.db.engine import open_engine
from hub.db.upgrade import current_revision, head_revision, migrate
from hub.hub import HubOptions
from tests.support import netaudit
from tests.support.agency import Agency
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli
from tests.support.footage import (
    HOUR_MS,
    hours_ago,
    imported,
    index_event,
    index_footage,
    porch_and_garage,
    shared_index,
    window,
)
from tests.support.hubtools import camera, configure, wait_for
from tests.support.migrations import insert_old_alert, migrate_to

pytest_plugins = ["tests.support.postgres"]

HOME = Place(39.7817, -89.6501)  # the agency's default area centre (tests/support/agency.py)


def area(lat: float = HOME.lat, lon: float = HOME.lon, radius_m: float = 400) -> dict[str, float]:
    return {"lat": lat, "lon": lon, "radius_m": radius_m}


def east_m(degrees: float) -> float:
    """How far ``degrees`` of longitude east of HOME is, along its parallel (a short way: ≈ great circle)."""
    return math.radians(degrees) * EARTH_RADIUS_M * math.cos(math.radians(HOME.lat))


def overlap(recs: list[Recording], start_ms: int, end_ms: int) -> int:
    """What the window covers of ``recs``, worked out here, one recording at a time."""
    return sum(max(0, min(r.end_ms, end_ms) - max(r.start_ms, start_ms)) for r in recs)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return porch_and_garage(tmp_path)


# -- the home location, read as text -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "39.7817, -89.6501",
        "  39.7817 -89.6501 ",
        "39.7817;-89.6501",
        "geo:39.7817,-89.6501",
        "GEO:39.7817,-89.6501,180;crs=wgs84;u=35",
        "geo:0,0?q=39.7817,-89.6501(Home)",
        "https://www.openstreetmap.org/#map=17/39.7817/-89.6501",
        "https://www.openstreetmap.org/?mlat=39.7817&mlon=-89.6501#map=12/39.7/-89.6",
        "https://www.google.com/maps/@39.7817,-89.6501,17z",
        "https://www.google.com/maps/place/Elm+St/@39.70,-89.60,15z/data=!3m1!4b1!4m5!3m4!8m2!3d39.7817!4d-89.6501",
        "https://www.google.com/maps/search/?api=1&query=39.7817%2C-89.6501",
        "https://maps.apple.com/?ll=39.7817,-89.6501&q=Home",
        "www.google.com/maps?q=39.7817,-89.6501",
    ],
)
def test_a_place_is_read_from_coordinates_a_geo_uri_or_a_map_link(text: str) -> None:
    assert parse_place(text) == HOME


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no place given"),
        ("91, 10", "latitude 91 is outside"),
        ("10, -180.5", "longitude -180.5 is outside"),
        ("nan, 1", "is not a place"),
        ("1e2, 3", "is not a place"),
        ("10 Downing Street, London", "an address cannot be looked up"),
        ("geo:39.78,-89.65;crs=nad27", "only wgs84"),
        ("geo:39.78", "is not a geo: URI"),
        ("https://maps.app.goo.gl/Xk2ZQ", "short links"),
        ("https://osm.org/go/ZfO1f", "short links"),
        ("https://www.openstreetmap.org/", "no coordinates in this link"),
        ("https://example.com/@99,99", "latitude 99 is outside"),
        ("x" * 5000, "at most 4096 characters"),
        ("http://[::1/@1,2", "not a link that can be read"),
        ("https://[zz]/@1,2", "not a link that can be read"),
    ],
)
def test_what_is_not_a_place_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(PlaceError, match=says):
        parse_place(text)


@given(
    st.one_of(
        st.text(max_size=300),
        st.builds("{}{}".format, st.sampled_from(["geo:", "https://", "www."]), st.text()),
    )
)
def test_any_text_is_a_place_or_a_reason(text: str) -> None:
    try:
        place = parse_place(text)
    except PlaceError as exc:
        assert str(exc)
    else:
        assert -90 <= place.lat <= 90 and -180 <= place.lon <= 180


@given(
    st.floats(-90, 90, allow_nan=False).map(lambda v: round(v, 6)),
    st.floats(-180, 180, allow_nan=False).map(lambda v: round(v, 6)),
    st.sampled_from(
        ["{} , {}", "geo:{},{}", "https://osm.org/#map=18/{}/{}", "https://x.example/maps/@{},{},15z"]
    ),
)
def test_coordinates_come_back_from_every_form(lat: float, lon: float, form: str) -> None:
    place = parse_place(form.format(f"{lat:.6f}", f"{lon:.6f}"))
    assert (place.lat, place.lon) == (float(f"{lat:.6f}"), float(f"{lon:.6f}"))


def _chord_distance(a: Place, b: Place) -> float:
    """The great-circle distance from the straight line between the two points in 3-D: another
    formula than the haversine, to check it."""

    def xyz(p: Place) -> tuple[float, float, float]:
        la, lo = math.radians(p.lat), math.radians(p.lon)
        return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))

    chord = math.dist(xyz(a), xyz(b))
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, chord / 2))


@given(
    st.builds(Place, st.floats(-90, 90), st.floats(-180, 180)),
    st.builds(Place, st.floats(-90, 90), st.floats(-180, 180)),
)
def test_the_haversine_agrees_with_the_chord_formula(a: Place, b: Place) -> None:
    assert distance_m(a, b) == pytest.approx(_chord_distance(a, b), abs=0.01)
    assert distance_m(a, b) == pytest.approx(distance_m(b, a), abs=1e-6)


def test_distances_that_are_known() -> None:
    assert distance_m(HOME, HOME) == 0
    assert distance_m(Place(0, 0), Place(1, 0)) == pytest.approx(math.pi * EARTH_RADIUS_M / 180)
    assert distance_m(Place(0, 0), Place(0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_M)
    north_400 = Place(HOME.lat + math.degrees(400 / EARTH_RADIUS_M), HOME.lon)
    assert distance_m(HOME, north_400) == pytest.approx(400, abs=1e-6)


def test_the_home_location_is_a_setting_on_every_backend(api: HubApi) -> None:
    assert (api.settings().home_lat, api.settings().home_lon) == (None, None)
    stored = api.update_settings(SettingsChange(home_lat=HOME.lat, home_lon=HOME.lon))
    assert (
        (stored.home_lat, stored.home_lon)
        == (HOME.lat, HOME.lon)
        == (api.settings().home_lat, api.settings().home_lon)
    )
    for change, field, rule in [
        (SettingsChange(home_lat=90.5), "home_lat", "max"),
        (SettingsChange(home_lon=-181.0), "home_lon", "min"),
        (SettingsChange(home_lat=math.nan), "home_lat", "format"),
        (SettingsChange(home_lon=math.inf), "home_lon", "format"),
        (SettingsChange(home_lat=None), "home_lat", "required"),
    ]:
        with pytest.raises(ValidationError) as caught:
            api.update_settings(change)
        assert (caught.value.field, caught.value.rule) == (field, rule), change
    assert (api.settings().home_lat, api.settings().home_lon) == (HOME.lat, HOME.lon)  # nothing lost
    api.update_settings(SettingsChange(home_lat=None, home_lon=None))
    assert (api.settings().home_lat, api.settings().home_lon) == (None, None)


# -- matching: area, footage, overbroad ----------------------------------------------------------------


def test_footage_per_camera_with_gaps_subtracted_and_the_area_against_home(api: HubApi, data: Path) -> None:
    t0 = (int(time.time() * 1000) // HOUR_MS - 3) * HOUR_MS  # three hours ago, on the hour
    ids = index_footage(
        data,
        Porch=[
            (t0 - 4000, t0 + 6000),
            (t0 + 6000, t0 + 16000),
            (t0 + 40000, t0 + 50000),
            (t0 + 95000, t0 + 105000),
        ],
        Garage=[(t0 + 20000, t0 + 30000)],
    )
    index_event(data, ids["Porch"], t0 - 2000, t0 + 1000)  # overlaps the window's start
    index_event(data, ids["Porch"], t0 + 41000, t0 + 43000)
    index_event(data, ids["Porch"], t0 + 101000, None)  # after the window's end
    index_event(data, ids["Garage"], t0 - 60000, t0 - 50000)  # before it
    spd = Agency()
    api.trust_add(spd.card_bytes())
    r = imported(api, spd, window=window(t0, t0 + 100000))
    assert r.match is not None and r.overbroad == () and r.hidden_by == ()
    assert (r.match.area, r.match.distance_m) == ("not_checked", None)
    garage, porch = r.match.footage  # by name
    assert (porch.camera_name, porch.covered_ms, porch.recordings, porch.events) == ("Porch", 31000, 4, 2)
    assert (porch.first_ms, porch.last_ms) == (t0, t0 + 100000)
    assert (garage.camera_name, garage.covered_ms, garage.recordings, garage.events) == (
        "Garage",
        10000,
        1,
        0,
    )
    assert (r.match.covered_ms, r.match.matched) == (41000, True)  # 100 s asked, 41 s held

    api.update_settings(SettingsChange(home_lat=HOME.lat, home_lon=HOME.lon + 0.004))  # 342 m east
    seen = api.request_show(r.ref).match
    assert (
        seen is not None
        and seen.area == "inside"
        and seen.distance_m == pytest.approx(east_m(0.004), abs=0.1)
    )
    api.update_settings(
        SettingsChange(home_lat=HOME.lat, home_lon=HOME.lon + 0.006)
    )  # 513 m east: outside 400 m
    seen = api.request_show(r.ref).match
    assert seen is not None and (seen.area, seen.matched) == ("outside", False)
    assert seen.covered_ms == 41000  # the footage is still shown: the owner decides

    alert = imported(api, spd, kind="alert", window=None, case=None, area=area(radius_m=5000))
    assert alert.match is not None and (alert.match.area, alert.match.footage, alert.overbroad) == (
        "inside",
        (),
        (),
    )
    nowhere = imported(api, spd, area=None, window=window(t0 + 200000, t0 + 300000))
    assert nowhere.match is not None and (nowhere.match.area, nowhere.match.covered_ms) == ("no_area", 0)
    assert not nowhere.match.matched


def test_a_match_is_logged_once_and_the_home_location_never(
    api: HubApi, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    t0 = (int(time.time() * 1000) // HOUR_MS - 5) * HOUR_MS
    index_footage(data, Porch=[(t0, t0 + 10000)])
    home = Place(39.78123, -89.64987)  # inside the area, and a string found nowhere else
    api.update_settings(SettingsChange(home_lat=home.lat, home_lon=home.lon))
    spd = Agency()
    api.trust_add(spd.card_bytes())
    r = imported(api, spd, window=window(t0 - 5000, t0 + 5000))
    assert r.match is not None and r.match.matched and r.match.matched_ms is not None
    again = api.request_show(r.ref)
    assert again.match is not None and again.match.matched_ms == r.match.matched_ms
    none = imported(api, spd, window=window(t0 + 20000, t0 + 30000))
    api.request_show(none.ref)
    entries = api.audit_log(limit=1000)
    matches = [e for e in entries if e.action == "request.match"]
    assert [m.data for m in matches] == [
        {"kid": spd.kid, "id": r.id, "cameras": 1, "footage_s": 5.0, "area": "inside"}
    ]
    logs = [p.read_text(errors="replace") for p in tmp_path.rglob("*.log*") if p.is_file()]
    written = json.dumps([e.data for e in entries]) + caplog.text + "".join(logs)
    assert "settings saved" in caplog.text + "".join(
        logs
    )  # the hub's log was read, this process's or serve's
    assert "39.7812" not in written and "89.6498" not in written


def test_overbroad_requests_are_flagged_and_hidden_until_the_owner_opts_in(api: HubApi) -> None:
    spd = Agency()
    api.trust_add(spd.card_bytes())
    t0 = (int(time.time() * 1000) // HOUR_MS - 30) * HOUR_MS
    twelve = imported(api, spd, window=window(t0, t0 + 12 * HOUR_MS), area=area(radius_m=800))
    longer = imported(api, spd, window=window(t0, t0 + 12 * HOUR_MS + 1))
    wider = imported(api, spd, area=area(radius_m=800.5))
    both = imported(api, spd, window=window(t0, t0 + 24 * HOUR_MS), area=area(radius_m=5000))
    alert = imported(api, spd, kind="alert", window=None, case=None, area=area(radius_m=9000))
    assert twelve.overbroad == () and alert.overbroad == ()
    assert (longer.overbroad, wider.overbroad, both.overbroad) == (
        ("window",),
        ("radius",),
        ("window", "radius"),
    )
    (rule,) = api.request_rules()
    assert (rule.id, rule.kind) == (1, "overbroad")  # a new index hides overbroad requests
    assert {r.id for r in api.request_list()} == {twelve.id, alert.id}
    every = {r.id: r.hidden_by for r in api.request_list(include_hidden=True)}
    assert every == {twelve.id: (), alert.id: (), longer.id: (1,), wider.id: (1,), both.id: (1,)}
    assert api.request_show(longer.ref).hidden_by == (1,)  # shown when asked for by name

    assert api.request_rule_remove(1).outcome == "removed"  # the owner opts in
    assert len(api.request_list()) == 5
    again = api.request_rule_add("overbroad")
    assert (again.outcome, again.rule.id) == ("added", 2)  # a number is never given twice
    assert {r.id for r in api.request_list()} == {twelve.id, alert.id}
    actions = [(e.action, e.data) for e in api.audit_log(limit=1000) if e.action.startswith("rule.")]
    assert actions == [
        ("rule.remove", {"rule": 1, "kind": "overbroad", "value": ""}),
        ("rule.add", {"rule": 2, "kind": "overbroad", "value": ""}),
    ]


def test_owner_rules_hide_by_card_and_by_legal_basis(api: HubApi) -> None:
    spd, sheriff = Agency(), Agency(name="Sangamon County Sheriff")
    api.trust_add(spd.card_bytes())
    api.trust_add(sheriff.card_bytes())
    voluntary = imported(api, spd)
    warrant = imported(api, spd, legal_basis="warrant", warrant_ref="W-1")
    theirs = imported(api, sheriff)
    by_card = api.request_rule_add("card", sheriff.kid[:6].upper())
    assert (by_card.outcome, by_card.rule.kind, by_card.rule.kid, by_card.rule.card_name) == (
        "added", "card", sheriff.kid, sheriff.name
    )  # fmt: skip
    assert api.request_rule_add("card", sheriff.kid).outcome == "exists"
    by_basis = api.request_rule_add("legal_basis", "warrant")
    assert by_basis.rule.legal_basis == "warrant"
    assert [r.id for r in api.request_list()] == [voluntary.id]
    hidden = {r.id: r.hidden_by for r in api.request_list(include_hidden=True)}
    assert hidden == {voluntary.id: (), warrant.id: (by_basis.rule.id,), theirs.id: (by_card.rule.id,)}
    assert [r.id for r in api.request_rules()] == [1, by_card.rule.id, by_basis.rule.id]

    for kind, value, error, field in [
        ("card", "ffffffffffffffff", NotFoundError, None),
        ("card", "xyz", ValidationError, "kid"),
        ("legal_basis", "subpoena", ValidationError, "value"),
        ("overbroad", "yes", ValidationError, "value"),
        ("everything", "", ValidationError, "kind"),
    ]:
        with pytest.raises(error) as caught:
            api.request_rule_add(kind, value)  # type: ignore[arg-type]
        assert field is None or getattr(caught.value, "field", None) == field
    with pytest.raises(NotFoundError):
        api.request_rule_remove(99)
    api.request_rule_remove(by_card.rule.id)
    assert {r.id for r in api.request_list()} == {voluntary.id, theirs.id}
    assert api.audit_verify().intact


def test_footage_is_summed_in_sql_on_postgresql_too(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cam = shared_index(db_url, "Porch")["Porch"]
    t0 = hours_ago(2)
    index_footage(data, db_url, Porch=[(t0 - 3000, t0 + 7000), (t0 + 9000, t0 + 19000)])
    spd = Agency()
    with IndexOnly.open(data, db_url) as api:
        api.trust_add(spd.card_bytes())
        r = imported(api, spd, window=window(t0, t0 + 12000))
        assert r.match is not None
        assert [(f.camera_id, f.covered_ms, f.recordings) for f in r.match.footage] == [(cam, 10000, 2)]


# -- matched against footage recorded from a loopback RTSP stream ------------------------------------


@pytest.mark.rtsp
@pytest.mark.slow
def test_a_request_is_matched_against_footage_recorded_from_rtsp(rtsp_camera, tmp_path: Path) -> None:
    cam = rtsp_camera()
    data = tmp_path / "data"
    configure(data, [camera("Porch", cam.url, detect=False)], segment_seconds=2.0)
    spd = Agency()
    with LocalHub.start(data, options=HubOptions(open_timeout_s=5.0)) as live:
        wait_for(lambda: len(live.recordings()) >= 3, 40, "three recordings", 0.5)
        live.update_camera("Porch", CameraChange(enabled=False))  # a gap in the footage
        wait_for(lambda: live.status().cameras[0].state != "recording", 20, "the camera stopped", 0.2)
        time.sleep(3)
        before = len(live.recordings())
        live.update_camera("Porch", CameraChange(enabled=True))
        wait_for(lambda: len(live.recordings()) >= before + 3, 40, "three more recordings", 0.5)
        live.update_camera("Porch", CameraChange(enabled=False))
        wait_for(lambda: live.status().cameras[0].state != "recording", 20, "the camera stopped", 0.2)
        recs = live.recordings()
        gaps = [b.start_ms - a.end_ms for a, b in zip(recs, recs[1:], strict=False)]
        assert max(gaps) >= 3000, gaps  # the camera was off for 3 s at least
        start, end = recs[0].start_ms + 700, recs[-1].end_ms - 900  # cutting into the first and last
        live.update_settings(SettingsChange(home_lat=HOME.lat, home_lon=HOME.lon))
        live.trust_add(spd.card_bytes())
        r = imported(live, spd, window=window(start, end))
        assert r.match is not None
        (porch,) = r.match.footage
        assert porch.camera_name == "Porch" and porch.recordings == len(recs)
        assert porch.covered_ms == overlap(recs, start, end)
        assert porch.covered_ms <= (end - start) - max(gaps) + 10 * len(recs)
        assert (porch.first_ms, porch.last_ms) == (start, end)
        assert (r.match.area, r.match.matched) == ("inside", True)
        # under review, it holds the footage it matches from retention (tests/test_request_holds.py)
        assert r.hold is not None and (r.hold.state, r.hold.bytes) == ("held", sum(x.bytes for x in recs))
        assert all(x.kept_for == ("hold",) for x in live.recordings(start_ms=start, end_ms=end))
    with IndexOnly.open(data) as index:  # the same answer with no hub running
        shown = index.request_show(r.ref)
        assert shown.match is not None and shown.match.covered_ms == porch.covered_ms
        assert [e.action for e in index.audit_log()].count("request.match") == 1


# -- the CLI ---------------------------------------------------------------------------------------------


def test_the_cli_sets_the_home_location_from_a_link_and_sends_nothing(data: Path, tmp_path: Path) -> None:
    log = tmp_path / "net.jsonl"
    link = "https://www.google.com/maps/place/Home/@39.70,-89.60,15z/data=!3d39.7817!4d-89.6501"
    done = netaudit.run(log, data, "settings", "set", "home", link)
    assert done.returncode == 0, done.stderr
    assert "home location saved: 39.781700, -89.650100" in done.stdout and "never sent" in done.stdout
    found = netaudit.events(log)
    assert not [e for e in found if e["event"] != "socket.connect" or not e["args"][1].startswith("'/")]
    assert cli_json(data, "settings", "show")["home"] == {"lat": 39.7817, "lon": -89.6501}
    ok(run_cli(data, "settings", "set", "home", "--lat", "51.5", "--lon=-0.12"))
    assert cli_json(data, "settings", "show")["home"] == {"lat": 51.5, "lon": -0.12}
    for args, says in [
        (["https://maps.app.goo.gl/Xk2ZQ"], "short links"),
        (["--lat", "91", "--lon", "0"], "latitude 91"),
        (["--lat", "1"], "--lat and --lon"),
        (["1, 2", "--lat", "3", "--lon", "4"], "once"),
    ]:
        assert_one_line_error(run_cli(data, "settings", "set", "home", *args), says)
    assert cli_json(data, "settings", "show")["home"] == {"lat": 51.5, "lon": -0.12}  # nothing lost
    assert "cleared" in ok(run_cli(data, "settings", "clear", "home")).stdout
    assert cli_json(data, "settings", "show")["home"] is None
    assert "not set" in ok(run_cli(data, "settings", "show")).stdout


def test_the_cli_lists_matches_and_hides_by_the_owner_s_rules(data: Path, tmp_path: Path) -> None:
    t0 = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
    index_footage(data, Porch=[(t0, t0 + 90000)], Garage=[(t0 + 30000, t0 + 40000)])
    spd = Agency()
    card = spd.write_card(tmp_path / "spd.card.json")
    ok(run_cli(data, "trust", "add", str(card)))
    ok(run_cli(data, "settings", "set", "home", f"geo:{HOME.lat},{HOME.lon}"))
    files = {
        "a": spd.payload(window=window(t0, t0 + 60000)),
        "b": spd.payload(window=window(t0, t0 + 13 * HOUR_MS)),
        "c": spd.payload(legal_basis="warrant", warrant_ref="W-2", area=area(lat=40.0)),
    }
    for name, payload in files.items():
        (tmp_path / f"{name}.request.jws").write_text(spd.sign(payload))
    paths = [str(tmp_path / "a.request.jws"), str(tmp_path / "b.request.jws")]
    out = ok(run_cli(data, "requests", "import", *paths)).stdout
    assert "footage in the window: Garage 10 s, Porch 1 min 00 s" in out
    assert "overbroad: its window is over 12 h" in out and "hidden by your rules 1" in out
    ok(run_cli(data, "requests", "import", str(tmp_path / "c.request.jws")))

    listed = cli_json(data, "requests", "list")
    assert {r["id"] for r in listed} == {files["a"]["id"], files["c"]["id"]}
    a = next(r for r in listed if r["id"] == files["a"]["id"])
    assert a["match"]["area"] == "inside" and a["match"]["footage_s"] == 70.0 and a["match"]["matched"]
    assert [(c["name"], c["footage_s"]) for c in a["match"]["cameras"]] == [("Garage", 10.0), ("Porch", 60.0)]
    c = next(r for r in listed if r["id"] == files["c"]["id"])
    assert c["match"]["area"] == "outside" and c["match"]["distance_m"] > 20000
    text = ok(run_cli(data, "requests", "list")).stdout
    assert "1 more hidden by your rules" in text and "does NOT include your home" in text
    every = cli_json(data, "requests", "list", "--all")
    assert {r["id"]: r["hidden_by"] for r in every}[files["b"]["id"]] == [1]
    assert "hidden by your rule 1" in ok(run_cli(data, "requests", "list", "--all")).stdout

    added = cli_json(data, "requests", "rules", "add", "--legal-basis", "warrant")
    assert added["outcome"] == "added" and added["rule"]["legal_basis"] == "warrant"
    assert "held already" in ok(run_cli(data, "requests", "rules", "add", "--legal-basis", "warrant")).stdout
    card_rule = cli_json(data, "requests", "rules", "add", "--card", spd.kid[:8])["rule"]
    assert (card_rule["kid"], card_rule["card_name"]) == (spd.kid, spd.name)
    rules_text = ok(run_cli(data, "requests", "rules", "list")).stdout
    assert "hides overbroad requests" in rules_text and f"hides the requests of {spd.name}" in rules_text
    assert cli_json(data, "requests", "list") == []
    assert "3 more hidden by your rules" in ok(run_cli(data, "requests", "list")).stdout
    for rule in (1, added["rule"]["id"], card_rule["id"]):
        ok(run_cli(data, "requests", "rules", "remove", str(rule)))
    assert cli_json(data, "requests", "rules", "list") == []
    assert len(cli_json(data, "requests", "list")) == 3
    assert_one_line_error(run_cli(data, "requests", "rules", "remove", "7"), "no request rule 7")
    assert_one_line_error(run_cli(data, "requests", "rules", "remove", "one"), "by its number")


def test_an_index_of_step_d_gains_the_overbroad_rule_and_keeps_its_requests(
    db_url: str, tmp_path: Path
) -> None:
    engine = open_engine(db_url)
    try:
        migrate_to(engine, "0006", tmp_path)
        with engine.begin() as conn:
            insert_old_alert(conn)
        migrate(engine, backup_dir=tmp_path / "backups")
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT request_id, matched_ms FROM agency_request")).all() == [
                ("urn:uuid:x", None)
            ]
            assert conn.execute(text("SELECT id, kind, value FROM request_rule")).all() == [
                (1, "overbroad", "")
            ]
    finally:
        engine.dispose()
