"""bench/live_bench.py, run short on demo cameras: the app's window and the bare reader watch a
real ``serve``, and the run writes its own section of RESULTS.md, keeping the others. The figures
themselves are the benchmark's business (bench/RESULTS.md); this only keeps the script from rotting
and checks that what it counts is there to count."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_live_bench_measures_the_app_beside_a_bare_reader(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("<!-- bench:recording -->\n# recording figures\n<!-- /bench:recording -->\n")
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "live_bench.py"), "--quick", "--sources", "0", "--cams", "2"]
        + ["--modes", "motion", "--results", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    text = out.read_text()
    assert "# recording figures" in text and text.count("<!-- bench:live-view -->") == 1
    for label in ("the app \\(ui\\.main_window\\)", "floor: bare slot reader"):
        row = re.search(rf"\| motion / {label} *\| ([\d.]+) / ([\d.]+) *\| ([\d.]+) *\|", text)
        assert row, text
        median, worst, written = (float(x) for x in row.groups())
        assert 0 < worst <= median <= written + 0.5, row[0]  # a tile never shows more than was written
        assert 5 <= written <= 12, row[0]  # the demo camera's 10 fps
    windows = re.search(
        r"median tile fps of each shown window: motion/app ([\d., ]+); motion/floor ([\d., ]+)", text
    )
    assert windows, text
    for fps in ", ".join(windows.groups()).split(", "):  # the tiles shown again show pictures again
        assert float(fps) > 5, windows[0]
    assert re.search(r"(PASS|FAIL)  the hub's extra CPU for 2 tiles", text)
    assert "2/2 cameras recording" in text
