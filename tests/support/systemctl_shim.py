"""A stand-in for ``systemctl --user``, put first on PATH by tests: never the machine's own systemd.

It keeps its state in ``$SYSTEMCTL_SHIM_STATE`` and logs every call there (``calls.jsonl``). Like
systemd it runs a unit as it was at the last ``daemon-reload`` (a unit written but not reloaded is
not seen), and ``start`` runs the unit's ``ExecStart=`` as written, with its ``Environment=`` and
``WorkingDirectory=``, in a session of its own: the unit's command line is tested for real. It does
not supervise (no ``Restart=``). ``enable`` links the unit into ``<WantedBy>.wants`` as systemctl
does. ``$SYSTEMCTL_SHIM_FAIL=start`` makes ``start`` fail as it does without a user bus.

Standalone (run by its path; the test venv's Python, for psutil).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import psutil


def state_dir() -> Path:
    return Path(os.environ["SYSTEMCTL_SHIM_STATE"])


def unit_dir() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user"


def parse(text: str) -> dict[str, list[str]]:
    """``Key=value`` settings of a unit (every section; repeated keys kept in order)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def unquote(value: str) -> list[str]:
    """The words of a command line or Environment= value, as systemd splits them."""
    words = shlex.split(value, posix=True)
    return [w.replace("%%", "%").replace("$$", "$") for w in words]


def loaded(unit: str) -> dict[str, list[str]] | None:
    path = state_dir() / "loaded" / unit
    return parse(path.read_text()) if path.is_file() else None


def main_pid(unit: str) -> int | None:
    try:
        pid = int((state_dir() / f"{unit}.pid").read_text())
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE:
            return pid
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def start(unit: str) -> int:
    if os.environ.get("SYSTEMCTL_SHIM_FAIL") == "start":
        print("Failed to connect to bus: No medium found", file=sys.stderr)
        return 1
    cfg = loaded(unit)
    if cfg is None:
        print(f"Failed to start {unit}: Unit {unit} not found.", file=sys.stderr)
        return 5
    if main_pid(unit) is not None:
        return 0
    env = dict(os.environ)
    for value in cfg.get("Environment", []):
        for word in unquote(value):
            k, _, v = word.partition("=")
            env[k] = v
    argv = unquote(cfg["ExecStart"][-1])
    cwd = cfg.get("WorkingDirectory", [None])[-1]
    proc = subprocess.Popen(
        argv,
        cwd=cwd.replace("%%", "%") if cwd else None,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    (state_dir() / f"{unit}.pid").write_text(str(proc.pid))
    return 0


def stop(unit: str) -> int:
    pid = main_pid(unit)
    if pid is not None:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except psutil.TimeoutExpired:
            proc.kill()
    (state_dir() / f"{unit}.pid").unlink(missing_ok=True)
    return 0


def wants(unit: str) -> Path | None:
    cfg = loaded(unit)
    if cfg is None or not cfg.get("WantedBy"):
        return None
    return unit_dir() / f"{cfg['WantedBy'][-1]}.wants" / unit


def main(argv: list[str]) -> int:
    with open(state_dir() / "calls.jsonl", "a") as log:
        log.write(json.dumps(argv) + "\n")
    if not argv or argv[0] != "--user":
        print("shim: only `systemctl --user` may be run by tests", file=sys.stderr)
        return 1
    verb, args = argv[1], argv[2:]
    now = "--now" in args
    units = [a for a in args if not a.startswith("-")]
    if verb == "daemon-reload":
        target = state_dir() / "loaded"
        target.mkdir(exist_ok=True)
        for old in target.iterdir():
            old.unlink()
        for unit in unit_dir().glob("*.service") if unit_dir().is_dir() else []:
            (target / unit.name).write_text(unit.read_text())
        return 0
    if verb in ("start", "stop", "restart"):
        code = 0
        for unit in units:
            if verb in ("stop", "restart"):
                code = code or stop(unit)
            if verb in ("start", "restart"):
                code = code or start(unit)
        return code
    if verb == "enable":
        for unit in units:
            link = wants(unit)
            if link is None:
                print(f"Failed to enable unit: Unit file {unit} does not exist.", file=sys.stderr)
                return 1
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(unit_dir() / unit)
            if now:
                start(unit)
        return 0
    if verb == "disable":
        for unit in units:
            for link in unit_dir().glob(f"*.wants/{unit}"):
                link.unlink()
            if now:
                stop(unit)
        return 0
    if verb == "is-enabled":
        on = all(list(unit_dir().glob(f"*.wants/{u}")) for u in units)
        print("enabled" if on else "disabled")
        return 0 if on else 1
    if verb == "is-active":
        up = all(main_pid(u) is not None for u in units)
        print("active" if up else "inactive")
        return 0 if up else 3
    print(f"shim: unknown verb {verb!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
