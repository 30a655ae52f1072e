"""Where a porchlight process spends its CPU: per thread (exact, /proc) and per function (py-spy).

Thread names come from ``py-spy dump`` (Python 3.11 does not give OS threads their Python names).
Threads without a Python name are FFmpeg/OpenCV/SQLite native workers. py-spy is optional: without
it, threads are only told apart by id. Install it with ``.venv/bin/pip install py-spy``.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

_DUMP_RE = re.compile(r'^Thread (0x[0-9A-Fa-f]+|\d+) \(([^)]*)\): "(.*)"\s*$')
_RAW_THREAD_RE = re.compile(r"^thread \((0x[0-9A-Fa-f]+|\d+)\): ?(.*)$")


def pyspy() -> str | None:
    """Path of py-spy: next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    if here.exists():
        return str(here)
    return shutil.which("py-spy")


def thread_names(pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name (empty without py-spy)."""
    exe = pyspy()
    if exe is None:
        return {}
    try:
        out = subprocess.run(
            [exe, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names = {}
    for line in out.splitlines():
        m = _DUMP_RE.match(line.strip())
        if m and m.group(1).isdigit():
            names[int(m.group(1))] = m.group(3)
    return names


def category(name: str | None) -> str:
    """Group a thread by its role."""
    if not name:
        return "native (FFmpeg/OpenCV/SQLite workers)"
    if name.startswith("porchlight-rec-"):
        return "record (porchlight-rec-*)"
    if name.startswith("porchlight-det-"):
        return "detect (porchlight-det-*)"
    if name == "MainThread":
        return "main"
    if name.startswith("porchlight-"):
        return "hub (db-writer, bus, housekeeper, retention)"
    return "other Python threads"


def by_category(thread_cpu: dict[int, float], names: dict[int, str]) -> dict[str, tuple[int, float]]:
    """category -> (number of threads, CPU seconds)."""
    out: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])
    for tid, secs in thread_cpu.items():
        c = out[category(names.get(tid))]
        c[0] += 1
        c[1] += secs
    return {k: (v[0], v[1]) for k, v in sorted(out.items(), key=lambda kv: -kv[1][1])}


def start_record(
    pid: int, out: Path, seconds: float, rate: int = 50, native: bool = False
) -> subprocess.Popen | None:
    """Start ``py-spy record`` (raw stacks with thread names, non-blocking sampling)."""
    exe = pyspy()
    if exe is None:
        return None
    args = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--threads",
        "--nonblocking",
        "--output",
        str(out),
    ]
    if native:
        args.append("--native")
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file.py:123)"
    m = re.match(r"^(.*) \((.*?)([^/]*):(\d+)\)$", frame)
    return f"{m.group(1)} ({m.group(3)}:{m.group(4)})" if m else frame


def summarize_raw(path: Path, top: int = 8) -> dict[str, dict]:
    """Per thread category: samples, and the top leaf frames (self time) and hub functions (inclusive)."""
    cats: dict[str, dict] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return cats
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        m = _RAW_THREAD_RE.match(frames[0]) if frames else None
        if m is None:
            continue
        name = m.group(2).strip() or None
        frames = frames[1:]
        if frames and name and frames[0] == name:
            frames = frames[1:]
        c = cats.setdefault(
            category(name), {"samples": 0, "self": collections.Counter(), "inclusive": collections.Counter()}
        )
        c["samples"] += n
        if frames:
            c["self"][_short(frames[-1])] += n
            seen = set()
            for f in frames:
                s = _short(f)
                if s not in seen and ("hub/" in f or "drivers/" in f):
                    seen.add(s)
                    c["inclusive"][s] += n
    for c in cats.values():
        c["self"] = c["self"].most_common(top)
        c["inclusive"] = c["inclusive"].most_common(top)
    return dict(sorted(cats.items(), key=lambda kv: -kv[1]["samples"]))
