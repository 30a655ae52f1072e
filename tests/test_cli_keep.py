"""``porchlight protect add|list|release``, ``events start|stop`` and ``snapshot``, run as a user
would: against a ``porchlight serve`` recording the demo camera, then with no hub running."""

from __future__ import annotations

import json
import subprocess
import time

import cv2
import numpy as np

from tests.support.clitools import (
    Serve,
    assert_one_line_error,
    cli_json,
    fmt_z,
    ok,
    parse_z,
    porchlight_cmd,
    run_cli,
    wait_state,
    wait_until,
)
from tests.support.hubtools import camera, configure

PROTECTION_KEYS = {"id", "camera", "camera_id", "start", "end", "reason", "note", "created"}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None, "not a JPEG"
    return picture.shape[1], picture.shape[0]


def test_manual_events_snapshots_and_protections_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    configure(data, [camera("Demo", None, driver="demo")], segment_seconds=2.0)
    with Serve(data, log=tmp_path / "serve.log") as serve:
        wait_state(data, "Demo", "recording", 30)

        # A manual event: started, then ended early.
        started = cli_json(data, "events", "start", "Demo", "--for", "30")
        assert (started["kind"], started["camera"], started["end"]) == ("manual", "Demo", None)
        assert abs(parse_z(started["start"]) - time.time()) < 10
        ended = cli_json(data, "events", "stop", str(started["id"]))
        assert ended["id"] == started["id"] and parse_z(ended["end"]) >= parse_z(started["start"])
        assert_one_line_error(run_cli(data, "events", "stop", str(started["id"])), "no manual event")
        assert_one_line_error(run_cli(data, "events", "start", "Demo", "--for", "0"), "1 to 3600")
        line = ok(run_cli(data, "events", "start", "Demo", "--for", "2")).stdout
        assert "manual event" in line and "porchlight events stop" in line

        # A snapshot, to a file and to standard output.
        shot = tmp_path / "porch.jpg"
        said = ok(run_cli(data, "snapshot", "Demo", "--out", str(shot))).stdout
        assert "Demo: 640x360" in said and str(shot) in said
        assert _jpeg_size(shot.read_bytes()) == (640, 360)
        raw = subprocess.run(
            porchlight_cmd(data, "snapshot", "demo", "--out", "-"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert raw.returncode == 0 and _jpeg_size(raw.stdout) == (640, 360), raw.stderr
        assert_one_line_error(run_cli(data, "snapshot", "Demo", "--out", str(tmp_path / "a.png")), ".jpg")
        assert not (tmp_path / "a.png").exists()

        # A protection of the next minute: footage recorded into it is kept from the start.
        now = time.time()
        result = ok(
            run_cli(
                data, "protect", "add", "--camera", "Demo", "--start", fmt_z(now), "--end", fmt_z(now + 60),
                "--reason", "evidence", "--note", "parcel taken", "--json",
            )
        )  # fmt: skip
        assert "the running hub" in result.stderr
        kept = json.loads(result.stdout)
        assert set(kept) == PROTECTION_KEYS and (kept["reason"], kept["note"]) == ("evidence", "parcel taken")
        assert cli_json(data, "protect", "list") == [kept]
        assert cli_json(data, "protect", "list", "--reason", "star") == []

        def recorded_into_it() -> list[dict]:
            rows = cli_json(data, "recordings", "list", "--start", kept["start"])
            return [r for r in rows if parse_z(r["start"]) >= now] if len(rows) >= 2 else []

        rows = wait_until(recorded_into_it, 30, "a recording inside the protected window")
        assert all(r["protected"] and r["kept_for"] == ["evidence"] for r in rows), rows
        assert "released" in ok(run_cli(data, "protect", "release", str(kept["id"]))).stdout
        assert cli_json(data, "protect", "list") == []
        assert_one_line_error(run_cli(data, "protect", "release", str(kept["id"])), "no protection")
        assert serve.stop() == 0

    # No hub: protections live in the index; events and snapshots need a running hub.
    star = cli_json(
        data,
        "protect",
        "add",
        "--camera",
        "Demo",
        "--start",
        "2026-01-01T00:00:00Z",
        "--end",
        "2026-01-01T00:01:00Z",
    )
    assert star["reason"] == "star" and cli_json(data, "protect", "list") == [star]
    assert_one_line_error(run_cli(data, "events", "start", "Demo"), "no hub runs", "porchlight serve")
    assert_one_line_error(run_cli(data, "snapshot", "Demo", "--out", str(tmp_path / "b.jpg")), "no hub runs")
    assert_one_line_error(
        run_cli(data, "protect", "add", "--camera", "Demo", "--start", fmt_z(10), "--end", fmt_z(5)), "--end"
    )
