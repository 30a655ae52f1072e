"""``porchlight`` command line: the headless interface (other tools script against it).

Every command prints one clear line to stderr and exits non-zero on error. ``--json`` output uses
RFC 3339 UTC times with ``Z`` and milliseconds; its shapes are documented in the README.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from hub.paths import default_data_dir

logger = logging.getLogger(__name__)


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def _yes_no(text: str) -> bool:
    if text.lower() in ("yes", "y", "true", "on", "1"):
        return True
    if text.lower() in ("no", "n", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError("expected yes or no")


def _positive(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``porchlight cameras add: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    p = _Parser(
        prog="porchlight",
        description="Privacy-first NVR: local recording, no cloud. "
        "Without a command, the desktop app starts.",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="config, index and default recordings folder (default: %(default)s → platform user dir)",
    )
    p.add_argument(
        "--db-url", default=None, help="SQLAlchemy URL of the index (default: SQLite in the data dir)"
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    cams = sub.add_parser("cameras", help="add, list, change and remove cameras")
    csub = cams.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = csub.add_parser("add", help="add a camera: by stream URL, ONVIF address or USB device")
    add.add_argument("name")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--url",
        help="main (record) stream, e.g. rtsp://host:554/stream1; "
        "credentials in it are moved to the OS keyring",
    )
    source.add_argument(
        "--onvif",
        metavar="HOST[:PORT]",
        help="an ONVIF camera or doorbell: its streams, roles and events are found for you",
    )
    source.add_argument(
        "--usb", metavar="DEVICE", help="a USB camera, e.g. /dev/video0 (see: porchlight discover)"
    )
    add.add_argument("--sub-url", help="small stream for motion detection and live view")
    add.add_argument("--size", metavar="WxH", help="USB: capture size, e.g. 1280x720")
    add.add_argument("--fps", type=float, metavar="N", help="USB: frames per second")
    _camera_options(add)
    add.add_argument("--username")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    lst = csub.add_parser("list", help="list cameras")
    lst.add_argument("--json", action="store_true")
    prb = csub.add_parser("probe", help="what a camera offers (profiles, roles, event topics)")
    prb.add_argument("name")
    prb.add_argument("--json", action="store_true")
    rm = csub.add_parser("remove", help="remove a camera (its recordings stay until retention removes them)")
    rm.add_argument("name")
    st = csub.add_parser("set", help="change a camera")
    st.add_argument("name")
    st.add_argument("--url")
    st.add_argument("--sub-url", help="'' removes the sub stream")
    _camera_options(st)
    st.add_argument("--enabled", type=_yes_no, metavar="yes|no")
    st.add_argument("--zones", type=Path, metavar="FILE", help="JSON file of motion zones and masks")
    st.add_argument("--username")
    st.add_argument("--password-stdin", action="store_true")

    disc = sub.add_parser(
        "discover", help="find ONVIF cameras on the network and USB cameras on this machine"
    )
    disc.add_argument(
        "--timeout", type=_positive, default=3.0, metavar="S", help="how long to listen (default 3)"
    )
    disc.add_argument("--host", metavar="HOST[:PORT]", help="ask one address (when multicast does not pass)")
    disc.add_argument("--json", action="store_true")

    sv = sub.add_parser("serve", help="record every enabled camera until stopped")
    sv.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds")

    status = sub.add_parser("status", help="each camera's state")
    status.add_argument("--json", action="store_true")

    rec = sub.add_parser("recordings", help="recorded segments")
    rsub = rec.add_subparsers(dest="action", metavar="ACTION", required=True)
    rl = rsub.add_parser("list", help="one row per segment")
    rl.add_argument("--camera")
    rl.add_argument("--start")
    rl.add_argument("--end")
    rl.add_argument("--json", action="store_true")

    ev = sub.add_parser("events", help="motion and other events")
    esub = ev.add_subparsers(dest="action", metavar="ACTION", required=True)
    el = esub.add_parser("list", help="one row per event")
    el.add_argument("--camera")
    el.add_argument("--start")
    el.add_argument("--end")
    el.add_argument("--kind", action="append", help="motion, doorbell, camera_motion, manual")
    el.add_argument("--json", action="store_true")

    ex = sub.add_parser("export", help="export a clip (stream copy)")
    ex.add_argument("--camera", required=True)
    ex.add_argument("--start", required=True)
    ex.add_argument("--end", required=True)
    ex.add_argument("--out", required=True, type=Path)

    sto = sub.add_parser("storage", help="recordings folder, quota and retention")
    ssub = sto.add_subparsers(dest="action", metavar="ACTION", required=True)
    ss = ssub.add_parser("set", help="change storage settings")
    ss.add_argument("--path", type=Path)
    ss.add_argument("--quota", help="e.g. 500G; 'none' for no quota")
    ss.add_argument("--max-age", help="days; 'none' keeps recordings until space runs out")
    ss.add_argument("--min-free", help="free space to keep on the disk, e.g. 2G")
    sshow = ssub.add_parser("show", help="show storage settings and usage")
    sshow.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo-camera", help="the synthetic demo camera")
    dsub = demo.add_subparsers(dest="action", metavar="ACTION", required=True)
    dadd = dsub.add_parser("add", help="add the demo camera")
    dadd.add_argument("--name", default="Demo")
    dadd.add_argument("--mode", choices=("continuous", "motion"), default="motion")
    return p


def _camera_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("continuous", "motion"))
    p.add_argument("--pre-roll", type=_positive, metavar="S")
    p.add_argument("--post-roll", type=_positive, metavar="S")
    p.add_argument("--audio", choices=("keep", "drop"))
    p.add_argument("--detect", type=_yes_no, metavar="yes|no", help="local motion detection")
    p.add_argument("--sensitivity", type=int, metavar="1-100")
    p.add_argument("--max-age", type=_positive, metavar="DAYS", help="override the global max age")
    p.add_argument(
        "--events",
        choices=("local", "camera", "both"),
        help="motion from our own detection, the camera's events (no decoding at all), or both",
    )
    p.add_argument(
        "--doorbell",
        nargs="?",
        const=True,
        type=_yes_no,
        metavar="yes|no",
        help="a press makes a doorbell event (auto-detected for ONVIF doorbells)",
    )


def main(argv: Sequence[str] | None = None, gui: Callable[[argparse.Namespace], int] | None = None) -> int:
    """Run the CLI; ``gui`` starts the desktop app when no command is given."""
    from hub.logsetup import setup_logging

    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    if args.command == "serve":
        level = min(level, logging.INFO)
    setup_logging(level)
    data_dir = args.data_dir or default_data_dir()
    args.data_dir = data_dir
    if args.command is None:
        if gui is None:
            build_parser().print_help()
            return 0
        return gui(args)
    from hub import cli_commands

    try:
        return cli_commands.dispatch(args)
    except CliError as exc:
        print(f"porchlight: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
