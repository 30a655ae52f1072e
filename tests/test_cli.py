"""The ``porchlight`` command line as other tools script against it: options, JSON shapes, errors,
``serve`` lifecycle (duration, signals, the data-dir lock, live config changes), ``export``, ``storage set``
and the demo camera. Every command runs as a subprocess: ``python -m cli ...``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import signal
import time
import uuid
from pathlib import Path

import av
import pytest

from tests.support.clips import ClipSpec
from tests.support.clitools import (
    RFC3339_MS_Z,
    Serve,
    assert_one_line_error,
    cli_json,
    db_cameras,
    db_settings,
    fmt_z,
    ok,
    parse_z,
    run_cli,
    status_of,
    wait_state,
    wait_until,
)
from tests.support.hubtools import configure, decode_file, ffprobe_ok
from tests.support.peers import require_rtsp_peers
from tests.support.rtsp import RtspCamera

CAMERA_KEYS = {
    "id",
    "name",
    "driver",
    "url",
    "sub_url",
    "mode",
    "pre_roll",
    "post_roll",
    "enabled",
    "audio",
    "detect",
    "max_age_days",
    "has_credentials",
    "sensitivity",
    "zones",
    "events",
    "doorbell",
    "device",
}
STATUS_KEYS = {"camera", "id", "state", "since", "last_error", "updated", "stats"}
# Exact shapes as documented in README.md ("JSON output"); the contract names a subset.
RECORDING_KEYS = {
    "camera",
    "camera_id",
    "path",
    "start",
    "end",
    "duration",
    "bytes",
    "frames",
    "audio",
    "protected",
    "kept_for",
}
EVENT_KEYS = {
    "id",
    "kind",
    "camera",
    "camera_id",
    "start",
    "end",
    "detected",
    "score",
    "zones",
    "source",
    "thumbnail",
}
STORAGE_KEYS = {
    "path",
    "state",
    "message",
    "quota_bytes",
    "max_age_days",
    "min_free_bytes",
    "used_bytes",
    "free_bytes",
    "total_bytes",
}
STAT_KEYS = {"packets_received", "packets_written", "segments", "connects", "detect"}
STATES = {"stopped", "connecting", "recording", "reconnecting", "auth_failed", "offline", "storage_missing"}
EXPORT_LINE = re.compile(r"exported (\d+) frames from (\d+) segment\(s\), (\S+) → (\S+), to (.+)$")
GAP_NOTE = re.compile(r"note: nothing recorded (\S+) → (\S+) \(([\d.]+) s\)")


def _assert_z(value: object, what: str) -> None:
    assert isinstance(value, str) and RFC3339_MS_Z.match(value), f"{what}: not RFC 3339 ms Z: {value!r}"


def _segments(data: Path, *args: str) -> list[dict]:
    rows = cli_json(data, "recordings", "list", *args)
    for r in rows:
        assert set(r) == RECORDING_KEYS, sorted(set(r) ^ RECORDING_KEYS)
        _assert_z(r["start"], "recording start")
        _assert_z(r["end"], "recording end")
    return rows


# --- configuration commands (no hub) --------------------------------------------------------------------


def test_cameras_add_list_set_remove(tmp_path):
    data = tmp_path / "data"
    r = ok(
        run_cli(
            data,
            "cameras",
            "add",
            "Front Door",
            "--url",
            "rtsp://127.0.0.1:8554/main",
            "--sub-url",
            "rtsp://127.0.0.1:8554/sub",
            "--mode",
            "motion",
            "--pre-roll",
            "3",
            "--post-roll",
            "7.5",
        )
    )
    assert "Front Door" in r.stdout
    ok(run_cli(data, "cameras", "add", "Garage", "--url", "rtsp://127.0.0.1:8554/g"))

    cams = cli_json(data, "cameras", "list")
    assert [c["name"] for c in cams] == ["Front Door", "Garage"]
    for c in cams:
        assert set(c) == CAMERA_KEYS, sorted(set(c) ^ CAMERA_KEYS)
    front, garage = cams
    assert front["url"] == "rtsp://127.0.0.1:8554/main" and front["sub_url"] == "rtsp://127.0.0.1:8554/sub"
    assert (front["mode"], front["pre_roll"], front["post_roll"]) == ("motion", 3.0, 7.5)
    assert front["enabled"] is True and front["audio"] == "keep" and front["has_credentials"] is False
    assert garage["mode"] == "continuous" and garage["sub_url"] is None  # defaults
    assert re.fullmatch(r"[a-z0-9-]+", front["id"]), front["id"]

    zones = tmp_path / "zones.json"
    zones.write_text(
        json.dumps(
            {
                "zones": [{"name": "path", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}],
                "masks": [{"name": "street", "polygon": [[0, 0], [1, 0], [1, 0.2]]}],
            }
        )
    )
    ok(
        run_cli(
            data,
            "cameras",
            "set",
            "front door",
            "--mode",
            "continuous",
            "--enabled",
            "no",
            "--zones",
            str(zones),
            "--audio",
            "drop",
        )
    )
    front = cli_json(data, "cameras", "list")[0]
    assert (front["mode"], front["enabled"], front["audio"]) == ("continuous", False, "drop")
    assert [(z["name"], z["kind"]) for z in front["zones"]] == [("path", "zone"), ("street", "mask")]
    assert front["zones"][0]["polygon"] == [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]
    ok(run_cli(data, "cameras", "set", "Front Door", "--enabled", "yes", "--mode", "motion"))
    assert cli_json(data, "cameras", "list")[0]["enabled"] is True

    text = ok(run_cli(data, "cameras", "list")).stdout
    assert "Front Door" in text and "Garage" in text

    r = ok(run_cli(data, "cameras", "remove", "Garage"))
    assert "Garage" in r.stdout
    assert [c["name"] for c in cli_json(data, "cameras", "list")] == ["Front Door"]
    # The name is free again; the id is never reused (recordings of the removed camera keep theirs).
    ok(run_cli(data, "cameras", "add", "Garage", "--url", "rtsp://127.0.0.1:8554/g2"))
    new_garage = next(c for c in cli_json(data, "cameras", "list") if c["name"] == "Garage")
    assert new_garage["id"] != garage["id"]


def test_status_recordings_events_json_without_hub(tmp_path):
    data = tmp_path / "data"
    ok(run_cli(data, "cameras", "add", "Porch", "--url", "rtsp://127.0.0.1:9/main"))
    doc = cli_json(data, "status")
    assert set(doc) == {"hub", "cameras"}
    assert doc["hub"]["running"] is False
    (row,) = doc["cameras"]
    assert set(row) == STATUS_KEYS
    assert row["camera"] == "Porch" and row["state"] == "stopped" and row["state"] in STATES
    _assert_z(row["since"], "since")
    assert "not running" in ok(run_cli(data, "status")).stdout
    assert cli_json(data, "recordings", "list") == []
    assert cli_json(data, "events", "list") == []
    assert (
        cli_json(
            data,
            "recordings",
            "list",
            "--camera",
            "porch",
            "--start",
            "2024-01-01T00:00:00Z",
            "--end",
            "2024-01-02T00:00:00+02:00",
        )
        == []
    )
    assert cli_json(data, "events", "list", "--camera", "Porch") == []


@pytest.fixture(scope="module")
def one_camera_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("errors") / "data"
    ok(run_cli(data, "cameras", "add", "Porch", "--url", "rtsp://127.0.0.1:9/main"))
    return data


def _export_argv(out: str) -> list[str]:
    """``export`` of Porch over a minute of 2024 (nothing recorded then) into ``out``."""
    return [
        "export",
        "--camera",
        "Porch",
        "--start",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-01-01T00:01:00Z",
        "--out",
        out,
    ]


ERROR_CASES = {
    "remove unknown camera": (["cameras", "remove", "Nope"], None, ["Nope"]),
    "set unknown camera": (["cameras", "set", "Nope", "--mode", "motion"], None, ["Nope"]),
    "recordings unknown camera": (["recordings", "list", "--camera", "Nope"], None, ["Nope"]),
    "events unknown camera": (["events", "list", "--camera", "Nope"], None, ["Nope"]),
    "export unknown camera": (
        [
            "export",
            "--camera",
            "Nope",
            "--start",
            "2024-01-01T00:00:00Z",
            "--end",
            "2024-01-01T00:01:00Z",
            "--out",
            "OUT.mp4",
        ],
        None,
        ["Nope"],
    ),
    "bad time word": (["recordings", "list", "--start", "yesterday"], None, ["--start", "yesterday"]),
    "date without time": (["recordings", "list", "--end", "2024-01-01"], None, ["--end"]),
    "time without offset": (["events", "list", "--start", "2024-01-01T10:00:00"], None, ["--start"]),
    "impossible date": (
        [
            "export",
            "--camera",
            "Porch",
            "--start",
            "2024-02-30T00:00:00Z",
            "--end",
            "2024-03-01T00:00:00Z",
            "--out",
            "OUT.mp4",
        ],
        None,
        ["2024-02-30"],
    ),
    "export end before start": (
        [
            "export",
            "--camera",
            "Porch",
            "--start",
            "2024-01-01T00:01:00Z",
            "--end",
            "2024-01-01T00:00:00Z",
            "--out",
            "OUT.mp4",
        ],
        None,
        ["--end", "--start"],
    ),
    "export end equals start": (
        [
            "export",
            "--camera",
            "Porch",
            "--start",
            "2024-01-01T00:01:00Z",
            "--end",
            "2024-01-01T00:01:00Z",
            "--out",
            "OUT.mp4",
        ],
        None,
        ["--end"],
    ),
    "export empty window": (
        _export_argv("OUT.mp4"),
        None,
        ["nothing", "Porch"],
    ),
    "export not mp4": (
        _export_argv("OUT.mkv"),
        None,
        [".mp4"],
    ),
    "export into a missing folder": (
        _export_argv("/no-such-porchlight-folder/clip.mp4"),
        None,
        ["/no-such-porchlight-folder"],
    ),
    "events unknown kind": (["events", "list", "--kind", "motion", "--kind", "burglar"], None, ["burglar"]),
    "password-stdin empty": (
        ["cameras", "add", "Cam2", "--url", "rtsp://127.0.0.1:9/x", "--username", "u", "--password-stdin"],
        "",
        ["--password-stdin"],
    ),
    "password-stdin no user": (
        ["cameras", "add", "Cam2", "--url", "rtsp://127.0.0.1:9/x", "--password-stdin"],
        "pw\n",
        ["--username"],
    ),
    "url not a url": (["cameras", "add", "Cam2", "--url", "camera.local/stream"], None, ["--url"]),
    "sub-url not a url": (
        ["cameras", "add", "Cam2", "--url", "rtsp://127.0.0.1:9/x", "--sub-url", "sub"],
        None,
        ["--sub-url"],
    ),
    "set url not a url": (["cameras", "set", "Porch", "--url", "nope"], None, ["--url"]),
    "duplicate name": (["cameras", "add", "porch", "--url", "rtsp://127.0.0.1:9/y"], None, ["porch"]),
    "nothing to change": (["cameras", "set", "Porch"], None, ["nothing"]),
    "sensitivity range": (["cameras", "set", "Porch", "--sensitivity", "101"], None, ["--sensitivity"]),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_are_one_line(one_camera_dir, tmp_path, case):
    args, stdin, needles = ERROR_CASES[case]
    out = tmp_path / "OUT.mp4"
    args = [str(out.with_suffix(Path(a).suffix)) if a.startswith("OUT.") else a for a in args]
    result = run_cli(one_camera_dir, *args, input=stdin)
    line = assert_one_line_error(result, *needles)
    assert line.startswith("porchlight"), line
    assert db_cameras(one_camera_dir) == [("porch", "Porch")], "a failed command changed the cameras"
    assert not list(tmp_path.glob("OUT*")), "a failed export left a file behind"


def test_zones_file_errors(one_camera_dir, tmp_path):
    bad = tmp_path / "zones.json"
    bad.write_text('{"zones": [{"name": "x", "polygon": [[0, 0], [2, 0], [1, 1]]}]}')
    assert_one_line_error(run_cli(one_camera_dir, "cameras", "set", "Porch", "--zones", str(bad)), "polygon")
    assert_one_line_error(
        run_cli(one_camera_dir, "cameras", "set", "Porch", "--zones", str(tmp_path / "no.json")), "zones"
    )
    bad.write_text('{"zonez": []}')
    assert_one_line_error(run_cli(one_camera_dir, "cameras", "set", "Porch", "--zones", str(bad)))


@pytest.mark.parametrize("command", ["recordings", "events"])
def test_list_end_before_start_is_an_error(one_camera_dir, command):
    result = run_cli(
        one_camera_dir,
        command,
        "list",
        "--start",
        "2024-01-01T00:01:00Z",
        "--end",
        "2024-01-01T00:00:00Z",
        "--json",
    )
    assert_one_line_error(result, "--end")


@pytest.mark.parametrize(
    "args",
    [
        ["cameras", "add", "X", "--url", "rtsp://127.0.0.1/x", "--mode", "sometimes"],
        ["cameras", "set", "Porch", "--enabled", "maybe"],
        ["cameras", "add", "X"],  # --url missing
        ["serve", "--duration", "-1"],
    ],
)
def test_usage_errors_are_one_line(one_camera_dir, args):
    result = run_cli(one_camera_dir, *args)
    assert result.returncode != 0
    assert_one_line_error(result)


def test_usage_errors_exit_nonzero_without_traceback(one_camera_dir):
    """Whatever the layout of argparse's message, a bad option value never runs the command."""
    for args in (
        ["cameras", "add", "X", "--url", "rtsp://127.0.0.1/x", "--pre-roll", "-1"],
        ["cameras", "set", "Porch", "--audio", "mute"],
        ["export", "--camera", "Porch"],
        ["frobnicate"],
    ):
        result = run_cli(one_camera_dir, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "error:" in result.stderr.splitlines()[-1]
    assert db_cameras(one_camera_dir) == [("porch", "Porch")]


# --- storage set ------------------------------------------------------------------------------------


def test_storage_set_and_show(tmp_path):
    data = tmp_path / "data"
    ok(run_cli(data, "storage", "set", "--quota", "20G", "--max-age", "14", "--min-free", "512M"))
    info = cli_json(data, "storage", "show")
    assert set(info) == STORAGE_KEYS, sorted(set(info) ^ STORAGE_KEYS)
    assert info["quota_bytes"] == 20 * 1024**3 and info["max_age_days"] == 14.0
    assert info["min_free_bytes"] == 512 * 1024**2
    assert info["path"] == str(data / "recordings")
    ok(run_cli(data, "storage", "set", "--quota", "none", "--max-age", "none"))
    info = cli_json(data, "storage", "show")
    assert info["quota_bytes"] is None and info["max_age_days"] is None
    # Before the hub ever ran, the folder may simply be chosen.
    elsewhere = tmp_path / "disk" / "porchlight"
    ok(run_cli(data, "storage", "set", "--path", str(elsewhere)))
    assert cli_json(data, "storage", "show")["path"] == str(elsewhere)
    with Serve(data, "--duration", "1", log=tmp_path / "serve.log") as serve:
        assert serve.wait(60) == 0, serve.output()
    assert (elsewhere / ".porchlight-storage").is_file()
    assert cli_json(data, "storage", "show")["state"] == "ok"


@pytest.fixture(scope="module")
def storage_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("storage") / "data"
    ok(run_cli(data, "storage", "set", "--quota", "1G"))
    return data


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--quota", "lots"], "lots"),
        (["--quota", "12XB"], "12XB"),
        (["--quota=-5G"], "-5G"),
        (["--quota", "1K"], "quota"),  # below the 64 MiB floor
        (["--min-free", "many"], "many"),
        (["--max-age", "0"], "keep recordings"),
        (["--max-age=-3"], "keep recordings"),
        ([], "nothing"),
    ],
)
def test_storage_set_rejects_bad_values(storage_dir, args, needle):
    before = db_settings(storage_dir)
    assert_one_line_error(run_cli(storage_dir, "storage", "set", *args), needle)
    assert db_settings(storage_dir) == before


def test_storage_set_bad_max_age_names_the_option(tmp_path):
    assert_one_line_error(run_cli(tmp_path / "data", "storage", "set", "--max-age", "abc"), "max-age")


# --- serve: duration, lock, signals, the demo camera ------------------------------------------------------


def test_serve_duration_exits_by_itself(tmp_path):
    data = tmp_path / "data"
    t0 = time.monotonic()
    with Serve(data, "--duration", "2", log=tmp_path / "serve.log") as serve:
        rc = serve.wait(60)
    elapsed = time.monotonic() - t0
    assert rc == 0, serve.output()
    assert 2.0 <= elapsed < 30, elapsed
    assert "Traceback" not in serve.output()
    assert cli_json(data, "status")["hub"]["running"] is False


def test_second_serve_refuses_naming_the_running_hub(tmp_path):
    data = tmp_path / "data"
    with Serve(data, log=tmp_path / "first.log") as first:
        wait_until(lambda: cli_json(data, "status")["hub"]["running"], 30, "the first hub to run")
        hub = cli_json(data, "status")["hub"]
        assert set(hub) == {"running", "pid", "started"} and hub["pid"] == first.pid
        _assert_z(hub["started"], "hub started")
        second = run_cli(data, "serve", "--duration", "5", timeout=60)
        line = assert_one_line_error(second, "already running", f"pid {first.pid}", str(data))
        assert second.returncode == 75  # EX_TEMPFAIL: a user service does not restart it in a loop
        assert first.proc.poll() is None, "the refused second serve stopped the first"
        assert cli_json(data, "status")["hub"]["pid"] == first.pid
        assert first.stop(signal.SIGTERM) == 0, first.output()
    assert "already running" in line
    # With the first one gone, serve runs again.
    assert ok(run_cli(data, "serve", "--duration", "1", timeout=60)).returncode == 0


@dataclasses.dataclass
class DemoRun:
    data: Path
    signal_at: float  # epoch seconds
    exit_code: int
    stop_seconds: float
    output: str
    status_while_recording: dict


def _stop_demo(serve: Serve, signum: int, row: dict) -> DemoRun:
    signal_at = time.time()
    t0 = time.monotonic()
    rc = serve.stop(signum, timeout=60)
    return DemoRun(serve.data_dir, signal_at, rc, time.monotonic() - t0, serve.output(), row)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory) -> dict[int, DemoRun]:
    """Two data dirs, each ``demo-camera add`` + ``serve`` (run side by side to save time).

    The SIGINT one is stopped ~3 s into recording; the SIGTERM one once the demo made a motion event
    (its visitor walks by for 6 s of every 30 s of wall-clock time), 3 s after the next segment cut.
    """
    base = tmp_path_factory.mktemp("demo")
    serves: dict[int, Serve] = {}
    runs: dict[int, DemoRun] = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            data = base / signum.name / "data"
            ok(run_cli(data, "demo-camera", "add", "--mode", "continuous"))
            ok(run_cli(data, "storage", "set", "--min-free", "64M"))
            serves[signum] = Serve(data, log=base / f"{signum.name}.log")
        rows = {signum: wait_state(s.data_dir, "Demo", "recording", 40) for signum, s in serves.items()}
        time.sleep(3)
        runs[signal.SIGINT] = _stop_demo(serves[signal.SIGINT], signal.SIGINT, rows[signal.SIGINT])
        term = serves[signal.SIGTERM]
        wait_until(lambda: cli_json(term.data_dir, "events", "list"), 45, "a motion event from the demo", 1.0)
        # Signal ~3 s into a segment (after a fresh cut), so the segment open at the signal holds
        # several seconds to check, wherever the clock stood when the event came.
        cut = len(_segments(term.data_dir))
        wait_until(lambda: len(_segments(term.data_dir)) > cut, 30, "a segment cut", 0.5)
        time.sleep(3)
        runs[signal.SIGTERM] = _stop_demo(term, signal.SIGTERM, rows[signal.SIGTERM])
    finally:
        for serve in serves.values():
            serve.kill()
    return runs


@pytest.fixture(scope="module")
def demo_run(demo_runs) -> DemoRun:
    """The SIGTERM run of ``demo_runs`` (with at least one motion event)."""
    return demo_runs[signal.SIGTERM]


def _check_finalized(run: DemoRun) -> list[dict]:
    assert run.exit_code == 0, run.output
    assert run.stop_seconds < 20, f"serve took {run.stop_seconds:.1f} s to stop"
    assert "Traceback" not in run.output, run.output
    segs = _segments(run.data, "--camera", "Demo")
    assert segs, "nothing indexed"
    last = segs[-1]
    # The segment open at the signal was finalized and indexed: it ends at about the signal.
    assert abs(parse_z(last["end"]) - run.signal_at) < 2.0, (last, fmt_z(run.signal_at))
    for s in segs:
        assert Path(s["path"]).is_file() and Path(s["path"]).stat().st_size == s["bytes"] > 0
        assert s["camera"] == "Demo" and s["duration"] > 0
        assert abs(parse_z(s["end"]) - parse_z(s["start"]) - s["duration"]) < 0.002
    info = ffprobe_ok(Path(last["path"]))
    assert float(info["format"]["duration"]) > 1.0
    frames = decode_file(Path(last["path"]), read_codes=False)
    assert frames.keyframe_first and len(frames.times) > 10
    doc = cli_json(run.data, "status")
    assert doc["hub"]["running"] is False
    assert doc["cameras"][0]["state"] == "stopped"
    return segs


@pytest.mark.slow  # shares demo_runs: 12-45 s, depending on when the demo's visitor walks by
def test_demo_camera_records_and_sigterm_finalizes(demo_run):
    row = demo_run.status_while_recording
    assert set(row) == STATUS_KEYS and row["state"] == "recording" and row["last_error"] is None
    _assert_z(row["since"], "since")
    _assert_z(row["updated"], "updated")
    assert STAT_KEYS <= set(row["stats"]), row["stats"]
    assert isinstance(row["stats"]["detect"], dict)
    segs = _check_finalized(demo_run)
    cams = cli_json(demo_run.data, "cameras", "list")
    assert [(c["name"], c["driver"], c["mode"]) for c in cams] == [("Demo", "demo", "continuous")]
    assert sum(s["duration"] for s in segs) >= 3.5


@pytest.mark.slow  # shares demo_runs: 12-45 s, depending on when the demo's visitor walks by
def test_sigint_stops_serve_cleanly(demo_runs):
    _check_finalized(demo_runs[signal.SIGINT])


@pytest.mark.slow  # shares demo_runs: 12-45 s, depending on when the demo's visitor walks by
def test_events_list_json(demo_run):
    events = cli_json(demo_run.data, "events", "list")
    assert events, "the demo scene's moving object made no event"
    for e in events:
        assert set(e) == EVENT_KEYS, sorted(set(e) ^ EVENT_KEYS)
        assert e["kind"] == "motion" and e["camera"] == "Demo" and e["camera_id"] == "demo"
        _assert_z(e["start"], "event start")
        _assert_z(e["detected"], "event detected")
        assert isinstance(e["zones"], list) and e["source"] == "local"
        assert e["thumbnail"] is None or Path(e["thumbnail"]).is_file()
        if e["end"] is not None:
            _assert_z(e["end"], "event end")
            assert parse_z(e["end"]) >= parse_z(e["start"])
        assert isinstance(e["score"], float) and 0 < e["score"] <= 1
    assert cli_json(demo_run.data, "events", "list", "--camera", "demo") == events
    text = ok(run_cli(demo_run.data, "events", "list")).stdout
    assert "motion" in text and "Demo" in text


@pytest.mark.slow  # shares demo_runs: 12-45 s, depending on when the demo's visitor walks by
def test_recordings_list_filters(demo_run):
    segs = _segments(demo_run.data)
    first, last = parse_z(segs[0]["start"]), parse_z(segs[-1]["end"])
    assert _segments(demo_run.data, "--start", fmt_z(last + 5)) == []
    assert _segments(demo_run.data, "--end", fmt_z(first - 5)) == []
    inside = _segments(demo_run.data, "--start", fmt_z(first + 0.5), "--end", fmt_z(first + 1.0))
    assert inside == segs[:1]
    # The same instant written with an offset selects the same rows.
    t = int(first) + 1
    as_offset = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + 3600)) + "+01:00"
    assert (
        _segments(demo_run.data, "--end", as_offset)
        == _segments(demo_run.data, "--end", fmt_z(t))
        == segs[:1]
    )
    text = ok(run_cli(demo_run.data, "recordings", "list")).stdout
    assert segs[0]["path"] in text


def _copy_data(run: DemoRun, dest: Path) -> Path:
    shutil.copytree(run.data, dest, ignore=shutil.ignore_patterns("hub.lock"))
    return dest


@pytest.mark.slow  # shares demo_runs: 12-45 s, depending on when the demo's visitor walks by
def test_storage_set_refuses_to_orphan_recordings(demo_run, tmp_path):
    data = _copy_data(demo_run, tmp_path / "data")
    old_root = data / "recordings"
    before = cli_json(data, "storage", "show")
    assert before["path"] == str(old_root) and before["state"] == "ok" and before["used_bytes"] > 0
    settings = db_settings(data)

    empty = tmp_path / "newdisk" / "rec"
    line = assert_one_line_error(run_cli(data, "storage", "set", "--path", str(empty)), str(old_root))
    assert "move" in line.lower()
    assert db_settings(data) == settings
    assert not (empty / ".porchlight-storage").exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / ".porchlight-storage").write_text(json.dumps({"storage_id": uuid.uuid4().hex, "created": ""}))
    assert_one_line_error(run_cli(data, "storage", "set", "--path", str(foreign)), "another")
    assert db_settings(data) == settings

    # Moving the folder (marker included) first, then pointing the index at it, works.
    moved = tmp_path / "newdisk" / "moved"
    moved.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(old_root), str(moved))
    assert cli_json(data, "storage", "show")["state"] == "missing"
    r = ok(run_cli(data, "storage", "set", "--path", str(moved), "--quota", "500M"))
    assert "saved" in r.stdout
    after = cli_json(data, "storage", "show")
    assert (after["path"], after["state"], after["quota_bytes"]) == (str(moved), "ok", 500 * 1024**2)
    segs = _segments(data)
    assert segs and all(Path(s["path"]).is_file() and str(moved) in s["path"] for s in segs)


def test_storage_set_refuses_non_empty_folder(tmp_path):
    data = tmp_path / "data"
    with Serve(data, "--duration", "1", log=tmp_path / "serve.log") as serve:  # marks the default folder
        assert serve.wait(60) == 0, serve.output()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"x")
    assert_one_line_error(run_cli(data, "storage", "set", "--path", str(busy)), "not empty")
    fresh = tmp_path / "fresh"
    ok(run_cli(data, "storage", "set", "--path", str(fresh)))
    info = cli_json(data, "storage", "show")
    assert (info["path"], info["state"]) == (str(fresh), "ok")


# --- serve follows other commands (RTSP) ---------------------------------------------------------------

SPEC = ClipSpec(seconds=20, passages=())  # same clip as test_record_rtsp (cached)


def _camera_files(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in root.rglob("*.mp4")}


@pytest.mark.rtsp
@pytest.mark.slow
def test_serve_picks_up_added_disabled_removed_camera(rtsp_camera, tmp_path):
    cam = rtsp_camera(SPEC)
    data = tmp_path / "data"
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    with Serve(data, log=tmp_path / "serve.log") as serve:
        wait_until(lambda: cli_json(data, "status")["hub"]["running"], 30, "the hub to run")

        t0 = time.monotonic()
        ok(run_cli(data, "cameras", "add", "Porch", "--url", cam.url, "--mode", "continuous"))
        added_s = time.monotonic() - t0
        # Picked up within a few seconds (the hub polls the index every second)...
        wait_state(data, "Porch", ("connecting", "recording"), 8)
        picked_s = time.monotonic() - t0 - added_s
        # ...and recording once the stream opened (PyAV's RTSP open takes 3-4 s).
        wait_state(data, "Porch", "recording", 30)
        cam_id = cli_json(data, "cameras", "list")[0]["id"]
        cam_dir = data / "recordings" / cam_id
        time.sleep(1)

        disabled_at = time.time()
        ok(run_cli(data, "cameras", "set", "Porch", "--enabled", "no"))
        # The hub stops the pipeline: the open segment is finalized and indexed.
        wait_until(
            lambda: [s for s in _segments(data, "--camera", "Porch") if parse_z(s["end"]) >= disabled_at - 3],
            20,
            "the open segment to be indexed",
        )
        assert status_of(data, "Porch")["state"] == "stopped"
        files = _camera_files(cam_dir)
        time.sleep(2.5)
        assert _camera_files(cam_dir) == files, "a disabled camera is still being recorded"

        ok(run_cli(data, "cameras", "set", "Porch", "--enabled", "yes"))
        wait_state(data, "Porch", "recording", 30)
        time.sleep(1)

        removed_at = time.time()
        ok(run_cli(data, "cameras", "remove", "Porch"))
        wait_until(lambda: status_of(data, "Porch") is None, 10, "Porch to leave the status")
        wait_until(
            lambda: [
                s for s in _segments(data) if s["camera_id"] == cam_id and parse_z(s["end"]) >= removed_at - 3
            ],
            20,
            "the removed camera's last segment",
        )
        files = _camera_files(cam_dir)
        time.sleep(2.5)
        assert _camera_files(cam_dir) == files, "a removed camera is still being recorded"
        assert serve.proc.poll() is None
        assert serve.stop(signal.SIGTERM) == 0, serve.output()
    assert "Traceback" not in serve.output()
    print(f"new camera's status appeared {picked_s:.1f} s after `cameras add` returned")


# --- export (RTSP recording with an outage) ---------------------------------------------------------------


@dataclasses.dataclass
class Recording:
    data: Path
    camera: RtspCamera
    outage: tuple[float, float]  # epoch seconds: server stopped, server started again
    segments: list[dict]


@pytest.fixture(scope="module")
def recording(camera_clips, tmp_path_factory):
    """~9.5 s of recording in 4-s segments (2 GOPs each), the camera's server down for ~6 s, then ~6 s more."""
    require_rtsp_peers()
    base = tmp_path_factory.mktemp("export")
    data = base / "data"
    configure(data, [], segment_seconds=4.0)
    cam = RtspCamera(camera_clips(SPEC), base / "camera").start()
    try:
        ok(run_cli(data, "cameras", "add", "Porch", "--url", cam.url, "--mode", "continuous"))
        with Serve(data, log=base / "serve.log") as serve:
            wait_state(data, "Porch", "recording", 40)
            # Two closed segments, then 1.5 s into the third.
            wait_until(lambda: len(cli_json(data, "recordings", "list")) >= 2, 30, "two segments", 0.3)
            time.sleep(1.5)
            down = time.time()
            cam.stop_server()
            wait_state(data, "Porch", ("reconnecting", "offline"), 20)
            time.sleep(max(0.0, 6 - (time.time() - down)))
            cam.start_server()
            up = time.time()
            wait_until(
                lambda: (
                    (r := status_of(data, "Porch"))
                    and r["state"] == "recording"
                    and parse_z(r["since"]) >= up - 1
                ),
                40,
                "recording after the outage",
            )
            time.sleep(6)
            assert serve.stop(signal.SIGTERM) == 0, serve.output()
        segs = _segments(data, "--camera", "Porch")
        yield Recording(data, cam, (down, up), segs)
    finally:
        cam.close()


def _export(rec: Recording, start: float, end: float, out: Path):
    return run_cli(
        rec.data,
        "export",
        "--camera",
        "Porch",
        "--start",
        fmt_z(start),
        "--end",
        fmt_z(end),
        "--out",
        str(out),
        timeout=120,
    )


def _decode_all(path: Path) -> tuple[int, bool]:
    """Decode every frame with PyAV (errors raise); (frames, first frame is a keyframe)."""
    n, first_key = 0, None
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            if first_key is None:
                first_key = frame.key_frame
            n += 1
    return n, bool(first_key)


def _contiguous_runs(segs: list[dict]) -> list[list[dict]]:
    runs: list[list[dict]] = []
    for s in segs:
        if runs and parse_z(s["start"]) - parse_z(runs[-1][-1]["end"]) < 0.5:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


@pytest.mark.rtsp
@pytest.mark.slow
def test_export_across_segments_is_one_playable_mp4(recording, tmp_path):
    runs = _contiguous_runs(recording.segments)
    assert len(runs) == 2, f"expected one outage, got runs {[(r[0]['start'], r[-1]['end']) for r in runs]}"
    first_run = runs[0]
    assert len(first_run) >= 3, first_run
    # A window that starts in the second GOP of the first segment and ends inside the third segment.
    start = parse_z(first_run[0]["start"]) + 2.9
    end = parse_z(first_run[2]["start"]) + 0.8
    assert end <= parse_z(first_run[-1]["end"])
    out = tmp_path / "clip.mp4"
    r = ok(_export(recording, start, end, out))
    assert "note:" not in r.stderr, r.stderr
    m = EXPORT_LINE.search(r.stdout)
    assert m, r.stdout
    frames, used, first_s, last_s = int(m[1]), int(m[2]), parse_z(m[3]), parse_z(m[4])
    assert used == 3 and Path(m[5]) == out
    assert out.is_file() and not list(tmp_path.glob("*.part"))
    # Starts at the last keyframe at or before the start (GOP 2 s).
    assert start - SPEC.gop_s - 0.1 < first_s <= start, (fmt_z(first_s), fmt_z(start))
    assert abs(last_s - end) < 0.2

    info = ffprobe_ok(out)
    assert [s["codec_name"] for s in info["streams"]] == ["h264"]
    assert abs(float(info["format"]["duration"]) - (last_s - first_s)) < 0.3
    n, first_key = _decode_all(out)
    assert first_key and n == frames
    decoded = decode_file(out)
    codes = decoded.codes
    assert None not in codes
    assert codes[0] % SPEC.gop == 0, f"first frame {codes[0]} is not one of the clip's keyframes"
    breaks = [(a, b) for a, b in zip(codes, codes[1:], strict=False) if (a + 1) % SPEC.frame_count != b]
    assert not breaks, f"frames missing or repeated across segment joints: {breaks[:5]}"
    steps = [b - a for a, b in zip(decoded.times, decoded.times[1:], strict=False)]
    assert all(abs(s - 1 / SPEC.fps) < 0.01 for s in steps), "timeline holes inside a contiguous export"


@pytest.mark.rtsp
@pytest.mark.slow
def test_export_with_gap_exports_what_exists_and_says_so(recording, tmp_path):
    runs = _contiguous_runs(recording.segments)
    assert len(runs) == 2
    gap_start, gap_end = parse_z(runs[0][-1]["end"]), parse_z(runs[1][0]["start"])
    down, up = recording.outage
    assert gap_end - gap_start >= 5.0, (runs[0][-1]["end"], runs[1][0]["start"])
    assert gap_start <= down + 1.0 and gap_end >= up - 0.5
    start, end = gap_start - 5.0, gap_end + 5.0
    out = tmp_path / "gap.mp4"
    r = ok(_export(recording, start, end, out))
    notes = GAP_NOTE.findall(r.stderr)
    assert len(notes) == 1, r.stderr
    a, b, secs = parse_z(notes[0][0]), parse_z(notes[0][1]), float(notes[0][2])
    assert abs(a - gap_start) < 0.2 and abs(b - gap_end) < 0.2 and abs(secs - (b - a)) < 0.1
    m = EXPORT_LINE.search(r.stdout)
    assert m and int(m[2]) >= 2
    first_s, last_s = parse_z(m[3]), parse_z(m[4])
    ffprobe_ok(out)
    n, first_key = _decode_all(out)
    assert first_key and n == int(m[1])
    # Real time is kept: the clip spans the gap instead of splicing both sides together.
    with av.open(str(out)) as c:
        duration = float(c.duration / av.time_base)
    assert abs(duration - (last_s - first_s)) < 0.5, (duration, last_s - first_s)
    assert duration > (end - start) - SPEC.gop_s - 1
    decoded = decode_file(out)
    jumps = [
        (i, t1 - t0)
        for i, (t0, t1) in enumerate(zip(decoded.times, decoded.times[1:], strict=False))
        if t1 - t0 > 0.5
    ]
    assert len(jumps) == 1 and abs(jumps[0][1] - (b - a)) < 0.5, jumps


@pytest.mark.rtsp
@pytest.mark.slow
@pytest.mark.parametrize(
    "where",
    [
        "leading",
        "trailing",
    ],
)
def test_export_reports_uncovered_window_edges(recording, tmp_path, where):
    segs = recording.segments
    if where == "leading":
        start, end = parse_z(segs[0]["start"]) - 6, parse_z(segs[0]["start"]) + 3
        uncovered = (start, parse_z(segs[0]["start"]))
    else:
        start, end = parse_z(segs[-1]["end"]) - 3, parse_z(segs[-1]["end"]) + 6
        uncovered = (parse_z(segs[-1]["end"]), end)
    out = tmp_path / f"{where}.mp4"
    r = ok(_export(recording, start, end, out))
    ffprobe_ok(out)
    notes = [(parse_z(a), parse_z(b)) for a, b, _ in GAP_NOTE.findall(r.stderr)]
    assert any(abs(a - uncovered[0]) < 0.2 and abs(b - uncovered[1]) < 0.2 for a, b in notes), (
        f"no note for {fmt_z(uncovered[0])} → {fmt_z(uncovered[1])}; stderr: {r.stderr!r}"
    )


@pytest.mark.rtsp
@pytest.mark.slow
def test_export_empty_window_fails_without_file(recording, tmp_path):
    first = parse_z(recording.segments[0]["start"])
    out = tmp_path / "empty.mp4"
    r = _export(recording, first - 120, first - 60, out)
    assert_one_line_error(r, "nothing", "Porch")
    assert not out.exists() and not list(tmp_path.iterdir())
    # The gap itself is an empty window too.
    runs = _contiguous_runs(recording.segments)
    gap_start, gap_end = parse_z(runs[0][-1]["end"]), parse_z(runs[1][0]["start"])
    assert_one_line_error(_export(recording, gap_start + 1, gap_end - 1, out), "nothing")
    assert not out.exists()
