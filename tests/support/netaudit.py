"""Run ``porchlight`` with a Python audit hook that records every name lookup and connect.

Usage: ``python -m tests.support.netaudit LOGFILE porchlight-args...`` (:func:`command` builds it).
Native sockets (FFmpeg's) bypass audit hooks; tests watch those from outside with psutil.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def command(log: Path, data_dir: Path, *args: str) -> list[str]:
    """The argv of ``porchlight --data-dir DATA_DIR ARGS...`` under the hook, logging to ``log``."""
    return [sys.executable, "-m", "tests.support.netaudit", str(log), "--data-dir", str(data_dir), *args]


def run(log: Path, data_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``porchlight --data-dir DATA_DIR ARGS...`` under the hook to completion, from the repository."""
    return subprocess.run(
        command(log, data_dir, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )


def events(log: Path) -> list[dict[str, Any]]:
    """What the hook recorded (nothing when the process never looked up or connected anything)."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def main() -> int:
    """Install the hook, then run the real entry point."""
    log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115 - open for the process's lifetime

    def hook(event: str, args: tuple) -> None:
        if event in (
            "socket.connect",
            "socket.sendto",
            "socket.getaddrinfo",
            "socket.bind",
            "socket.gethostbyname",
            "http.client.connect",
            "urllib.Request",
        ):
            log.write(json.dumps({"event": event, "args": [repr(a) for a in args]}) + "\n")

    sys.addaudithook(hook)
    from cli.main import main as porchlight

    return porchlight(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
