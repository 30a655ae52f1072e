"""The ``porchlight`` console script: headless commands run without importing Qt; no command
starts the desktop app."""

from __future__ import annotations

import argparse
import sys


def _run_gui(args: argparse.Namespace) -> int:
    from ui.app import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    from hub.cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv, gui=_run_gui)


if __name__ == "__main__":
    sys.exit(main())
