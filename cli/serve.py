"""``porchlight serve`` (record until stopped) and ``porchlight status`` (each camera's state)."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from cli.common import command, hub_api, positive, print_json
from hub.api.errors import NotFoundError
from hub.api.types import CameraStatus
from hub.api.util import format_ms


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``status`` to the top-level sub-parsers."""
    sv = command(sub.add_parser("serve", help="record every enabled camera until stopped"), serve)
    sv.add_argument("--duration", type=positive, metavar="S", help="stop after S seconds")
    command(sub.add_parser("stop", help="stop the running hub (open segments are finalized)"), stop)
    st = command(sub.add_parser("status", help="each camera's state"), status)
    st.add_argument("--json", action="store_true")


def serve(args: argparse.Namespace) -> int:
    """``serve [--duration S]``: record until SIGINT/SIGTERM or S seconds."""
    from hub.api.local import LocalHub
    from hub.api.server import ApiServer

    api = LocalHub.start(args.data_dir, args.db_url)  # HubLockedError names the hub that runs already
    done = threading.Event()
    try:  # clients reach this hub on <data dir>/hub.sock (its lock is held: a stale socket may go)
        server = ApiServer(api, args.data_dir, started_ms=api.hub.started_ms, on_stop=done.set).start()
    except BaseException:
        api.close()
        raise

    def on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        done.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        cams = [c for c in api.cameras() if c.enabled]
        print(
            f"porchlight: recording {len(cams)} camera(s) into {api.storage().path}; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        # Wait in short steps: a signal that the kernel hands to one of the hub's threads reaches
        # Python's handler only when the main thread next wakes, so a wait without a timeout could
        # miss it for good.
        end = math.inf if args.duration is None else time.monotonic() + args.duration
        while not done.is_set() and (left := end - time.monotonic()) > 0:
            done.wait(min(left, 0.5))
    finally:
        server.stop_accepting()
        api.close()  # stops the hub: open segments are finalized
        server.close()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def stop(args: argparse.Namespace) -> int:
    """``stop``: stop the hub running on the data dir; returns once it has stopped (nothing to do
    when none runs)."""
    with hub_api(args) as api:
        pid = getattr(api, "hub_pid", None)
        try:
            api.stop()
        except NotFoundError as exc:
            print(f"porchlight: {exc}", file=sys.stderr)
            return 0
    print(f"porchlight: the hub (pid {pid}) stopped", file=sys.stderr)
    return 0


def status_json(st: CameraStatus) -> dict[str, Any]:
    """The ``status --json`` shape of one camera."""
    return {
        "camera": st.name,
        "id": st.camera_id,
        "state": st.state,
        "since": format_ms(st.since_ms),
        "last_error": st.last_error,
        "updated": format_ms(st.updated_ms),
        "stats": st.stats,
    }


def status(args: argparse.Namespace) -> int:
    """``status [--json]``: state of each camera as the running hub reports it."""
    with hub_api(args) as api:
        st = api.status()
    hub = st.hub
    rows = [status_json(c) for c in st.cameras]
    if args.json:
        running: dict[str, Any] = {"running": hub.running}
        if hub.running:
            running.update(pid=hub.pid, started=format_ms(hub.started_ms) if hub.started_ms else None)
        return print_json({"hub": running, "cameras": rows})
    print(
        "hub: "
        + (f"running (pid {hub.pid})" if hub.running else "not running (start it with: porchlight serve)")
    )
    for r in rows:
        err = f"  last error: {r['last_error']}" if r["last_error"] else ""
        print(f"{r['camera']:20s} {r['state']:16s} since {r['since']}{err}")
    return 0
