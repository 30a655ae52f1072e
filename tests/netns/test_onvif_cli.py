"""A homeowner's path with an ONVIF camera, no URL typed: discover, add, record (inside the
loopback-only namespace, against ipycam, a real ONVIF device implementation)."""

from __future__ import annotations

from pathlib import Path

from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli
from tests.support.hubtools import decode_file, ffprobe_ok


def test_discover_finds_the_camera_and_says_whether_it_needs_a_password(ipycam):
    rows = cli_json(ipycam.log_dir / "data", "discover", "--timeout", "2")
    onvif = [r for r in rows if r["kind"] == "onvif"]
    assert len(onvif) == 1, rows
    row = onvif[0]
    assert set(row) == {"kind", "name", "manufacturer", "model", "xaddr", "device", "needs_auth"}
    assert row["xaddr"].startswith("http://127.0.0.1:8080/") and row["needs_auth"] is False
    assert row["name"]
    # Unicast: the same device when multicast does not pass.
    direct = cli_json(ipycam.log_dir / "data", "discover", "--host", "127.0.0.1", "--timeout", "2")
    assert [r["xaddr"] for r in direct if r["kind"] == "onvif"] == [row["xaddr"]]


def test_discover_reports_a_device_that_wants_a_password(ipycam_auth):
    rows = [
        r
        for r in cli_json(ipycam_auth.log_dir / "data", "discover", "--timeout", "2")
        if r["kind"] == "onvif"
    ]
    assert [r["needs_auth"] for r in rows] == [True]


def test_add_by_onvif_picks_the_profiles_and_records(ipycam, tmp_path):
    data = tmp_path / "data"
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    out = ok(run_cli(data, "cameras", "add", "Porch", "--onvif", ipycam.host, "--mode", "continuous")).stdout
    assert "records" in out
    (cam,) = cli_json(data, "cameras", "list")
    assert (
        cam["driver"] == "onvif"
        and cam["url"].endswith("/video_main")
        and cam["sub_url"].endswith("/video_sub")
    )
    assert cam["device"]["record_profile"] != cam["device"]["detect_profile"]
    assert cam["events"] == "local"  # ipycam has no events service
    probe = cli_json(data, "cameras", "probe", "Porch")
    roles = {p["role"]: (p["width"], p["height"]) for p in probe["profiles"] if p["role"]}
    assert roles == {"record": (640, 360), "detect": (320, 180)}
    ok(run_cli(data, "serve", "--duration", "18", timeout=90))
    segs = cli_json(data, "recordings", "list", "--camera", "Porch")
    assert segs, "nothing recorded from the ONVIF camera"
    for s in segs:
        ffprobe_ok(Path(s["path"]))
        f = decode_file(Path(s["path"]), read_codes=False)
        assert f.keyframe_first and len(f.times) == s["frames"] > 0


def test_wrong_password_is_a_clear_error_and_adds_nothing(ipycam_auth, tmp_path):
    data = tmp_path / "data"
    r = run_cli(
        data,
        "cameras",
        "add",
        "Porch",
        "--onvif",
        ipycam_auth.host,
        "--username",
        "admin",
        "--password-stdin",
        input="not-it\n",
    )
    assert_one_line_error(r, "password")
    assert "not-it" not in r.stderr
    assert cli_json(data, "cameras", "list") == []
    ok(
        run_cli(
            data,
            "cameras",
            "add",
            "Porch",
            "--onvif",
            ipycam_auth.host,
            "--username",
            "admin",
            "--password-stdin",
            input="Porch-Light_42\n",
        )
    )
    (cam,) = cli_json(data, "cameras", "list")
    assert cam["has_credentials"] and "Porch-Light_42" not in str(cam)
