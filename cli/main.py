"""The ``porchlight`` console script: the headless commands other tools script against, and, with no
command, the desktop app.

Every command prints one clear line to stderr and exits non-zero on error (1 for a refused command, 2 for
a usage error, 130 when interrupted). A refused command is a CliError (the CLI's own checks) or any error
of the hub's family (hub.core.errors), whose message is printed as it is. ``--json`` output uses RFC 3339
UTC times with ``Z`` and milliseconds; its shapes are documented in the README. Headless commands never
import Qt.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from cli import (
    agency,
    audit,
    cameras,
    demo,
    devices,
    keep,
    recordings,
    requests,
    serve,
    service,
    settings,
    storage,
    trust,
)
from cli.common import CliError, Handler, Parser
from hub.api.errors import HubError
from hub.api.util import default_data_dir, setup_logging

#: The command groups, in the order ``porchlight --help`` lists them.
GROUPS = (
    cameras,
    devices,
    serve,
    service,
    recordings,
    keep,
    storage,
    settings,
    trust,
    requests,
    audit,
    agency,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser: global options, then each group's sub-parsers."""
    p = Parser(
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
    for group in GROUPS:
        group.register(sub)
    return p


def _open_app(args: argparse.Namespace) -> int:
    """No command: the desktop app (the only place the CLI touches ui/, imported only now)."""
    from ui.app import run

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``porchlight`` with ``argv`` (default: the process arguments); returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    level = logging.WARNING - 10 * args.verbose
    if args.command == "serve":
        level = min(level, logging.INFO)
    try:
        setup_logging(level, log_file=getattr(args, "log_file", None))  # serve --log-file
    except OSError as exc:  # the log file's folder cannot be made or the file opened
        print(f"porchlight: error: cannot log there: {exc}", file=sys.stderr)
        return 1
    args.data_dir = args.data_dir or default_data_dir()
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        return _open_app(args)
    try:
        return handler(args)
    except (CliError, HubError) as exc:
        print(f"porchlight: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
