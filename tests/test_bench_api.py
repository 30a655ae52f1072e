"""bench/api_bench.py, run short on demo cameras: it measures the Hub API beside its bare-socket
reference and writes its own section of RESULTS.md, keeping the others. The figures themselves are
the benchmark's business (bench/RESULTS.md); this only keeps the script from rotting."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_results", ROOT / "bench" / "results.py")
assert _spec is not None and _spec.loader is not None
results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results)  # bench/ is not a package; its names stay off sys.path


def test_results_sections_replace_their_own_and_keep_the_others(tmp_path):
    path = tmp_path / "RESULTS.md"
    results.write_section(path, "recording", "# recording\nold figures")
    results.write_section(path, "hub-api", "## Hub API\nfirst")
    results.write_section(path, "recording", "# recording\nnew figures")
    results.write_section(path, "hub-api", "## Hub API\nsecond")
    text = path.read_text()
    assert "new figures" in text and "second" in text
    assert "old figures" not in text and "first" not in text
    assert text.index("new figures") < text.index("second")  # each stays where it was
    assert text.count("<!-- bench:hub-api -->") == 1 and text.count("<!-- /bench:recording -->") == 1


def test_the_api_bench_measures_porchlight_beside_a_bare_socket(tmp_path):
    out = tmp_path / "RESULTS.md"
    results.write_section(out, "recording", "# recording figures")
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "api_bench.py"), "--quick", "--sources", "0", "--cams", "2"]
        + ["--results", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    text = out.read_text()
    assert "# recording figures" in text
    rtt = re.search(r"round trip, 300 calls: p50 / p95 / p99 ms *\| ([\d.]+) / [^|]+\| ([\d.]+) / ", text)
    assert rtt and float(rtt[1]) > 0 and float(rtt[2]) > 0, text
    delivered = re.search(r"events delivered in that run *\| (\d+)/(\d+) *\| (\d+)/(\d+)", text)
    assert delivered and delivered[1] == delivered[2] == delivered[3] == "1600", text  # 400 events x 4
    assert re.search(r"\| porchlight \(hub\.sock\) *\| 20,000 ", text)  # each step has its row
    assert "after porchlight's runs, 2/2 cameras recording, 2 connects in all" in text
