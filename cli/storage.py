"""``porchlight storage set|show``: the recordings folder, quota, age limit and free-space margin."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.common import CliError, applied, command, hub_api, print_json
from hub.api.types import SettingsChange
from hub.api.util import format_size, parse_size


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``storage`` group to the top-level sub-parsers."""
    sto = sub.add_parser("storage", help="recordings folder, quota and retention")
    ssub = sto.add_subparsers(dest="action", metavar="ACTION", required=True)
    ss = command(ssub.add_parser("set", help="change storage settings"), storage_set)
    ss.add_argument("--path", type=Path)
    ss.add_argument("--quota", help="e.g. 500G; 'none' for no quota")
    ss.add_argument("--max-age", help="days; 'none' keeps recordings until space runs out")
    ss.add_argument("--min-free", help="free space to keep on the disk, e.g. 2G")
    sshow = command(ssub.add_parser("show", help="show storage settings and usage"), storage_show)
    sshow.add_argument("--json", action="store_true")


def storage_set(args: argparse.Namespace) -> int:
    """``storage set [--path DIR] [--quota SIZE] [--max-age DAYS] [--min-free SIZE]``"""
    changes: dict[str, Any] = {}
    if args.quota is not None:
        quota = args.quota
        changes["quota_bytes"] = None if quota.lower() == "none" else parse_size(quota, field="quota_bytes")
    if args.max_age is not None:
        changes["max_age_days"] = None if args.max_age.lower() == "none" else _days(args.max_age)
    if args.min_free is not None:
        changes["min_free_bytes"] = parse_size(args.min_free, field="min_free_bytes")
    if args.path is not None:
        changes["storage_path"] = str(args.path.expanduser().resolve())  # relative to where we are
    if not changes:
        raise CliError("nothing to change (see porchlight storage set --help)")
    with hub_api(args) as api:
        api.update_settings(SettingsChange(**changes))
        applied(api)
    print("storage settings saved")
    return 0


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise CliError(f"--max-age must be a number of days (or 'none'), got {text!r}") from None
    return days  # bounds: the hub names the setting in its message


def storage_show(args: argparse.Namespace) -> int:
    """``storage show [--json]``"""
    with hub_api(args) as api:
        s = api.storage()
    info = {
        "path": s.path,
        "state": s.state,
        "message": s.message,
        "quota_bytes": s.quota_bytes,
        "max_age_days": s.max_age_days,
        "min_free_bytes": s.min_free_bytes,
        "used_bytes": s.used_bytes,
        "free_bytes": s.free_bytes,
        "total_bytes": s.total_bytes,
    }
    if args.json:
        return print_json(info)
    print(f"storage folder: {s.path} ({s.state})")
    print(f"used by recordings: {format_size(s.used_bytes)}; free on disk: {format_size(s.free_bytes)}")
    print(
        f"quota: {format_size(s.quota_bytes) if s.quota_bytes else 'none'}; keep for: "
        f"{s.max_age_days if s.max_age_days is not None else 'ever'} days; "
        f"keep free: {format_size(s.min_free_bytes)}"
    )
    return 0
