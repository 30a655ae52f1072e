"""``porchlight demo-camera add``: a synthetic camera, to try Porchlight with no camera at hand."""

from __future__ import annotations

import argparse

from cli.common import applied, command, hub_api
from hub.api.types import NewCamera


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo-camera`` group to the top-level sub-parsers."""
    demo = sub.add_parser("demo-camera", help="the synthetic demo camera")
    dsub = demo.add_subparsers(dest="action", metavar="ACTION", required=True)
    dadd = command(dsub.add_parser("add", help="add the demo camera"), demo_add)
    dadd.add_argument("--name", default="Demo")
    dadd.add_argument("--mode", choices=("continuous", "motion"), default="motion")


def demo_add(args: argparse.Namespace) -> int:
    """``demo-camera add [--name NAME] [--mode continuous|motion]``"""
    with hub_api(args) as api:
        added = api.add_camera(NewCamera(name=args.name, driver="demo", mode=args.mode))
        applied(api)
    print(f"added demo camera {added.name!r} (id {added.id})")
    return 0
