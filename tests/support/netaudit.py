"""Run ``porchlight`` with a Python audit hook that records every name lookup and connect, and, with
``full``, every file it writes and every socket it creates.

Usage: ``python -m tests.support.netaudit [--full] LOGFILE porchlight-args...`` (:func:`command` builds
it). Each line of LOGFILE is one JSON object with an ``event`` member:

* always: name lookups, connects, binds, datagrams, ``http.client.connect``, ``urllib.Request``, as
  ``{"event": ..., "args": [repr, ...]}``;
* with ``--full`` also: ``{"event": "open", "path": ..., "mode": ..., "flags": ...}`` for an open that
  may write (a mode with ``w``, ``a``, ``x`` or ``+``, or ``os.open`` flags that write, create, append
  or truncate); ``{"event": "os.rename", "src": ..., "dst": ...}`` (``os.replace`` raises this event
  too); ``{"event": E, "path": ...}`` for ``os.remove`` (``os.unlink``), ``os.rmdir``, ``os.mkdir``,
  ``os.truncate``, ``tempfile.mkstemp``, ``tempfile.mkdtemp``, ``shutil.rmtree`` and
  ``sqlite3.connect`` (SQLite writes natively, so the connection is all the hook sees of it);
  ``{"event": E, "src": ..., "dst": ...}`` for ``os.link``, ``os.symlink``, ``shutil.copyfile``,
  ``shutil.copytree`` and ``shutil.move``; ``{"event": "socket.__new__", "family": 1, "family_name":
  "AF_UNIX"}`` for every Python socket object created; ``{"event": "netaudit.error", "audited": E,
  "error": ...}`` when the hook could not make sense of an event (the audited call goes on).

Paths are absolute strings, taken against the working directory (a path relative to a ``dir_fd`` is
taken wrongly, which makes it look outside wherever it is); a path given as a file descriptor is logged
as that int (its file was logged when it was opened, if Python opened it).

``$NETAUDIT_CONTROL_WRITE=PATH``: once the hook is installed and before porchlight runs, write a small
file at PATH, through the same hook: a positive control for tests that assert where a command writes.

Native code bypasses audit hooks: FFmpeg's sockets, SQLite's own writes to its files. Tests watch those
from outside (psutil for sockets, snapshots of folders for files).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Recorded always, as ``{"event": ..., "args": [repr, ...]}`` (existing tests parse ``args``).
NET_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.getaddrinfo",
        "socket.bind",
        "socket.gethostbyname",
        "http.client.connect",
        "urllib.Request",
    }
)
#: With ``--full``: events whose first argument is the one path they create, change or remove.
PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.truncate",
        "tempfile.mkstemp",
        "tempfile.mkdtemp",
        "shutil.rmtree",
        "sqlite3.connect",
    }
)
#: With ``--full``: events whose first two arguments are a source and a destination (both logged).
PAIR_EVENTS = frozenset(
    {"os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copytree", "shutil.move"}
)
#: Of the pairs, those that change their source too (it goes away).
MOVES = frozenset({"os.rename", "shutil.move"})
#: ``os.open`` flags that write.
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
CONTROL_ENV = "NETAUDIT_CONTROL_WRITE"
LOOKUPS = frozenset({"socket.getaddrinfo", "socket.gethostbyname"})


def command(log: Path, data_dir: Path, *args: str, full: bool = False) -> list[str]:
    """The argv of ``porchlight --data-dir DATA_DIR ARGS...`` under the hook, logging to ``log``
    (with ``full``, file writes and socket creation too)."""
    flag = ["--full"] if full else []
    return [
        sys.executable,
        "-m",
        "tests.support.netaudit",
        *flag,
        str(log),
        "--data-dir",
        str(data_dir),
        *args,
    ]


def run(
    log: Path,
    data_dir: Path,
    *args: str,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    full: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``porchlight --data-dir DATA_DIR ARGS...`` under the hook to completion, from the repository,
    with ``env`` (default: this process's environment)."""
    return subprocess.run(
        command(log, data_dir, *args, full=full),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
        env=dict(env) if env is not None else None,
        check=False,
    )


def events(log: Path) -> list[dict[str, Any]]:
    """What the hook recorded (nothing when the process never looked up or connected anything)."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def writes(found: Iterable[dict[str, Any]]) -> list[str]:
    """Every path the process wrote, created, renamed (from and to), copied to or removed, in order
    (an SQLite database it opened counts); descriptors and in-memory databases left out."""
    paths: list[Any] = []
    for e in found:
        if e["event"] == "open" or e["event"] in PATH_EVENTS:
            paths.append(e["path"])
        elif e["event"] in PAIR_EVENTS:
            paths += [e["src"], e["dst"]] if e["event"] in MOVES else [e["dst"]]
    return [p for p in paths if isinstance(p, str)]


def socket_families(found: Iterable[dict[str, Any]]) -> set[str]:
    """The families of the sockets the process created (``AF_UNIX``, ``AF_INET``, ...)."""
    return {e["family_name"] for e in found if e["event"] == "socket.__new__"}


def lookups(found: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The name lookups the process made."""
    return [e for e in found if e["event"] in LOOKUPS]


def _path(value: Any) -> str | int | None:
    """An absolute path string (an fd stays an int; a path that is neither is None)."""
    if isinstance(value, int):
        return value
    try:
        return os.path.abspath(os.fsdecode(value))
    except (TypeError, ValueError):
        return None


def _sqlite_path(value: Any) -> str | None:
    """The file of an ``sqlite3.connect`` database argument (None: in memory or not a file)."""
    try:
        text = os.fsdecode(value)
    except (TypeError, ValueError):
        return None
    if text.startswith("file:"):  # a URI (``uri=True``): its path, without the query
        text = urllib.parse.unquote(urllib.parse.urlsplit(text).path)
    if text in ("", ":memory:"):
        return None
    return os.path.abspath(text)


def _family(value: Any) -> tuple[int, str]:
    family = int(value)
    try:
        return family, socket.AddressFamily(family).name
    except ValueError:
        return family, str(family)


def _record(event: str, args: tuple[Any, ...], full: bool) -> dict[str, Any] | None:
    """The log record of one audit event, or None when it is not one to record."""
    if event in NET_EVENTS:
        return {"event": event, "args": [repr(a) for a in args]}
    if not full:
        return None
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and bool(flags & WRITE_FLAGS)
        )
        return {"event": event, "path": _path(path), "mode": mode, "flags": flags} if writing else None
    if event == "sqlite3.connect":
        return {"event": event, "path": _sqlite_path(args[0])}
    if event in PATH_EVENTS:
        return {"event": event, "path": _path(args[0])}
    if event in PAIR_EVENTS:
        return {"event": event, "src": _path(args[0]), "dst": _path(args[1])}
    if event == "socket.__new__":
        family, name = _family(args[1])
        return {"event": event, "family": family, "family_name": name}
    return None


def main() -> int:
    """Install the hook, write the control file if asked to, then run the real entry point."""
    argv = sys.argv[1:]
    full = argv[:1] == ["--full"]
    if full:
        argv = argv[1:]
    log = open(argv[0], "a", buffering=1)  # noqa: SIM115 - open for the process's lifetime
    lock = threading.Lock()
    busy = threading.local()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if getattr(busy, "on", False):  # the hook's own work raises no event it should log
            return
        busy.on = True
        try:
            try:
                record = _record(event, args, full)
            except Exception as exc:  # never break the audited call; show it in the log instead
                record = {"event": "netaudit.error", "audited": event, "error": repr(exc)}
            if record is not None:
                with lock:
                    log.write(json.dumps(record) + "\n")
        finally:
            busy.on = False

    sys.addaudithook(hook)
    if control := os.environ.get(CONTROL_ENV):
        with open(control, "w") as fh:
            fh.write("netaudit control write\n")
    from cli.main import main as porchlight

    return porchlight(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
