"""``porchlight discover``: ONVIF cameras on the network (WS-Discovery) and USB cameras on this machine.

Discovery (a multicast probe and a look at what answers) runs only here, when the owner asks for it;
nothing in the hub ever discovers in the background.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import sys
from typing import Any

from cli.common import ONVIF_PORT, command, positive, print_json, split_host
from drivers.base import DiscoveredDevice, DriverError

WS_DISCOVERY_PORT = 3702


def register(sub: argparse._SubParsersAction) -> None:
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


def _device_json(d: DiscoveredDevice) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "name": d.name,
        "manufacturer": d.manufacturer,
        "model": d.model,
        "xaddr": d.xaddr,
        "device": d.device,
        "needs_auth": d.needs_auth,
    }


def _with_auth_check(devices: list[DiscoveredDevice], timeout_s: float) -> list[DiscoveredDevice]:
    """Ask each ONVIF device (in parallel) whether it wants a password; fill model details."""
    from drivers.onvif.device import device_needs_auth

    def check(d: DiscoveredDevice) -> DiscoveredDevice:
        if d.kind != "onvif" or not d.xaddr:
            return d
        host, port = split_host(re.sub(r"^\w+://", "", d.xaddr).split("/", 1)[0], ONVIF_PORT)
        needs: bool | None
        try:
            needs = device_needs_auth(host, port, timeout_s=timeout_s)
        except DriverError:
            needs = None
        return DiscoveredDevice(d.kind, d.name, d.manufacturer, d.model, d.xaddr, d.device, needs)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="porchlight-cli") as pool:
        return list(pool.map(check, devices))


def discover(args: argparse.Namespace) -> int:
    """``discover [--timeout S] [--json]`` and ``discover --host HOST[:PORT] [--json]``."""
    from drivers.onvif import discovery

    if args.host:
        host, port = split_host(args.host, WS_DISCOVERY_PORT)
        found = discovery.probe_host(host, port, timeout_s=args.timeout)
    else:
        found = discovery.discover(timeout_s=args.timeout)
        from drivers.usb.driver import UsbDriver

        try:
            found += UsbDriver().discover(args.timeout)
        except DriverError as exc:
            print(f"porchlight: note: USB cameras could not be listed: {exc}", file=sys.stderr)
    found = _with_auth_check(found, timeout_s=min(5.0, args.timeout + 2))
    if args.json:
        return print_json([_device_json(d) for d in found])
    if not found:
        print(
            "nothing found (for an ONVIF camera on another network, try: porchlight discover --host ADDRESS)"
        )
    for d in found:
        where = d.xaddr or d.device or ""
        auth = {True: "password needed", False: "no password", None: ""}[d.needs_auth]
        what = " ".join(x for x in (d.manufacturer, d.model) if x)
        print(f"{d.kind:6s} {d.name:24s} {what:28s} {where:45s} {auth}")
    return 0
