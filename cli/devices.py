"""``porchlight discover``: ONVIF cameras on the network (WS-Discovery) and USB cameras on this machine.

Discovery (a multicast probe and a look at what answers) runs only when the owner asks for it, here
through the Hub API; nothing in the hub ever discovers in the background.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.common import CliError, command, hub_api, positive, print_json
from hub.api.types import Device


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``discover`` to the top-level sub-parsers."""
    disc = command(
        sub.add_parser("discover", help="find ONVIF cameras on the network and USB cameras on this machine"),
        discover,
    )
    disc.add_argument(
        "--timeout", type=positive, default=3.0, metavar="S", help="how long to listen (default 3)"
    )
    disc.add_argument("--host", metavar="HOST[:PORT]", help="ask one address (when multicast does not pass)")
    disc.add_argument("--json", action="store_true")


def _device_json(d: Device) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "name": d.name,
        "manufacturer": d.manufacturer,
        "model": d.model,
        "xaddr": d.xaddr,
        "device": d.device,
        "needs_auth": d.needs_auth,
    }


def discover(args: argparse.Namespace) -> int:
    """``discover [--timeout S] [--json]`` and ``discover --host HOST[:PORT] [--json]``."""
    with hub_api(args) as api:
        found = api.discover(args.timeout, args.host)
    problems = found.problems
    if args.host and problems and not found.devices:  # e.g. not an address at all
        raise CliError("; ".join(problems))
    for problem in problems:
        print(f"porchlight: note: {problem}", file=sys.stderr)
    if args.json:
        return print_json([_device_json(d) for d in found.devices])
    if not found.devices:
        print(
            "nothing found (for an ONVIF camera on another network, try: porchlight discover --host ADDRESS)"
        )
    for d in found.devices:
        where = d.xaddr or d.device or ""
        auth = {True: "password needed", False: "no password", None: ""}[d.needs_auth]
        what = " ".join(x for x in (d.manufacturer, d.model) if x)
        print(f"{d.kind:6s} {d.name:24s} {what:28s} {where:45s} {auth}")
    return 0
