"""``porchlight serve`` (record until stopped) and ``porchlight status`` (each camera's state)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from cli.common import command, hub_api, positive, print_json
from hub.api.errors import NotFoundError
from hub.api.types import CameraStatus
from hub.api.util import format_ms

logger = logging.getLogger(__name__)

#: Seconds after which ``serve`` stops by itself, as ``--duration`` does (the smaller wins). A
#: detached serve (the app's, a test's) outlives whoever started it; a cap makes sure it ends.
LIFETIME_ENV = "PORCHLIGHT_MAX_LIFETIME_S"
#: How often the wait loop wakes: to notice a signal handled late, the time being up, the data dir gone.
WAIT_STEP_S = 0.5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``status`` to the top-level sub-parsers."""
    sv = command(sub.add_parser("serve", help="record every enabled camera until stopped"), serve)
    sv.add_argument("--duration", type=positive, metavar="S", help="stop after S seconds")
    sv.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        help="log into PATH (rotated; standard output and error go there too) instead of stderr",
    )
    command(sub.add_parser("stop", help="stop the running hub (open segments are finalized)"), stop)
    st = command(sub.add_parser("status", help="each camera's state"), status)
    st.add_argument("--json", action="store_true")


def serve(args: argparse.Namespace) -> int:
    """``serve [--duration S] [--log-file PATH]``: record until SIGINT/SIGTERM, ``porchlight stop``, S
    seconds or the lifetime cap ($PORCHLIGHT_MAX_LIFETIME_S) are up, or the data dir is gone."""
    from hub.api.errors import HubLockedError
    from hub.api.local import LocalHub
    from hub.api.server import ApiServer
    from hub.api.service import EXIT_HELD

    cap = lifetime_cap()  # warned about at once when it is not a number
    try:
        api = LocalHub.start(args.data_dir, args.db_url)
    except HubLockedError as exc:  # its own status: a user service does not retry it in a loop
        print(f"porchlight: error: {exc}", file=sys.stderr)
        return EXIT_HELD
    done = threading.Event()
    try:  # clients reach this hub on <data dir>/hub.sock (its lock is held: a stale socket may go)
        server = ApiServer(api, args.data_dir, started_ms=api.hub.started_ms, on_stop=done.set).start()
    except BaseException:
        api.close()
        raise

    got: list[str] = []  # the signal that stops it

    def on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        got.append(signal.Signals(signum).name)
        done.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    why: str | None = None  # stays None when an error ends the hub: a client may start another
    try:
        cams = [c for c in api.cameras() if c.enabled]
        print(
            f"porchlight: recording {len(cams)} camera(s) into {api.storage().path}; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        with FolderWatch(args.data_dir) as data_dir:
            why = wait_for_stop(done, data_dir, args.duration, cap)
        if got:
            why = f"it got {got[0]}"
        logger.info("stopping: %s", why)
    finally:
        server.stop_accepting()
        api.close(why)  # stops the hub: open segments are finalized; subscribers are told why
        server.close()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def wait_for_stop(
    done: threading.Event, data_dir: FolderWatch, duration: float | None, cap: float | None
) -> str:
    """Return once ``done`` is set, the time is up (``duration`` or the lifetime ``cap``, the smaller)
    or ``data_dir`` is gone: a hub whose folder was deleted (a test's tmp dir, the user's clean-up)
    has nothing left to record into, and nobody can reach it (its socket went with the folder).
    Returns why, as subscribers are told ("the hub stopped: <why>")."""
    capped = cap is not None and (duration is None or cap <= duration)
    limit = cap if capped else duration
    end = math.inf if limit is None else time.monotonic() + limit
    # Wait in short steps: a signal that the kernel hands to one of the hub's threads reaches
    # Python's handler only when the main thread next wakes, so a wait without a timeout could
    # miss it for good.
    while not done.is_set():
        left = end - time.monotonic()
        if left <= 0:
            if capped:
                logger.info("lifetime cap of %g s reached (%s): stopping", cap, LIFETIME_ENV)
                return f"its lifetime cap of {cap:g} s ({LIFETIME_ENV}) was reached"
            return f"its --duration of {duration:g} s is up"
        if data_dir.gone():
            logger.warning("the data dir %s is gone: stopping", data_dir.path)
            return f"its data dir {data_dir.path} is gone"
        done.wait(min(left, WAIT_STEP_S))
    return "it was asked to stop"


class FolderWatch:
    """Tells when a folder is gone, also when something has made it again since (the hub itself
    does, for a new segment's day folder): an open descriptor keeps the original's inode, whose link
    count drops to 0 when it is removed. Where a folder cannot be opened (Windows), only its path is
    checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            self._fd = None

    def gone(self) -> bool:
        """The folder is no longer at its path, or it was removed and another one made there."""
        if not self.path.is_dir():
            return True
        return self._fd is not None and os.fstat(self._fd).st_nlink == 0

    def close(self) -> None:
        """Let go of the folder."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lifetime_cap() -> float | None:
    """The lifetime cap from the environment in seconds, or None (unset; a value that is not a
    positive number is warned about and ignored, rather than stopping a hub at once)."""
    text = os.environ.get(LIFETIME_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        logger.warning("%s=%r is not a positive number of seconds: ignored", LIFETIME_ENV, text)
        return None
    return value


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
