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

from cli.common import command, open_index, positive, print_json
from hub.core.model import CameraStatus
from hub.core.times import format_ms, now_ms
from hub.db import repo_config, repo_media
from hub.storage.lock import HubLock


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``status`` to the top-level sub-parsers."""
    sv = command(sub.add_parser("serve", help="record every enabled camera until stopped"), serve)
    sv.add_argument("--duration", type=positive, metavar="S", help="stop after S seconds")
    st = command(sub.add_parser("status", help="each camera's state"), status)
    st.add_argument("--json", action="store_true")


def serve(args: argparse.Namespace) -> int:
    """``serve [--duration S]``: record until SIGINT/SIGTERM or S seconds."""
    from hub.hub import Hub

    hub = Hub(args.data_dir, args.db_url)
    hub.start()  # HubLockedError (a HubError) names the hub that runs already
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        done.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        cams = [c for c in hub.cameras() if c.enabled]
        print(
            f"porchlight: recording {len(cams)} camera(s) into {hub.storage.root}; Ctrl-C stops",
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
        hub.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def status_json(st: CameraStatus, name: str) -> dict[str, Any]:
    """The ``status --json`` shape of one camera."""
    return {
        "camera": name,
        "id": st.camera_id,
        "state": st.state,
        "since": format_ms(st.since_ms),
        "last_error": st.last_error,
        "updated": format_ms(st.updated_ms),
        "stats": st.stats,
    }


def status(args: argparse.Namespace) -> int:
    """``status [--json]``: state of each camera as the running hub reports it."""
    engine, data = open_index(args)
    holder = HubLock.holder(data.root)
    cams = {c.id: c for c in repo_config.list_cameras(engine)}
    stored = {s.camera_id: s for s in repo_media.list_status(engine)}
    rows = []
    for cam_id, cam in cams.items():
        st = stored.get(cam_id)
        if holder is None or st is None or not cam.enabled:
            since = st.since_ms if st else now_ms()
            st = CameraStatus(
                cam_id,
                "stopped",
                since,
                st.last_error if st else None,
                st.updated_ms if st else 0,
                st.stats if st else {},
            )
        rows.append(status_json(st, cam.name))
    if args.json:
        return print_json({"hub": {"running": holder is not None, **(holder or {})}, "cameras": rows})
    print(
        "hub: "
        + (
            f"running (pid {holder.get('pid')})"
            if holder
            else "not running (start it with: porchlight serve)"
        )
    )
    for r in rows:
        err = f"  last error: {r['last_error']}" if r["last_error"] else ""
        print(f"{r['camera']:20s} {r['state']:16s} since {r['since']}{err}")
    return 0
