"""``porchlight storage set|show``: the recordings folder, quota, age limit and free-space margin."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from cli.common import CliError, command, open_index, print_json
from hub.core.settings import format_size, parse_size
from hub.db import repo_config, repo_media
from hub.db.tx import run_write
from hub.storage.manager import STORAGE_ID_KEY, resolve_root
from hub.storage.marker import check_storage, disk_state, initialize_storage


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
    engine, data = open_index(args)
    settings = repo_config.load_settings(engine)
    changes: dict[str, Any] = {}
    if args.quota is not None:
        quota = args.quota
        changes["quota_bytes"] = None if quota.lower() == "none" else parse_size(quota, field="quota_bytes")
    if args.max_age is not None:
        changes["max_age_days"] = None if args.max_age.lower() == "none" else _days(args.max_age)
    if args.min_free is not None:
        changes["min_free_bytes"] = parse_size(args.min_free, field="min_free_bytes")
    if args.path is not None:
        new_root = args.path.expanduser().resolve()
        _move_storage(engine, resolve_root(settings, data), new_root)
        changes["storage_path"] = str(new_root)
    if not changes:
        raise CliError("nothing to change (see porchlight storage set --help)")
    run_write(engine, repo_config.save_settings, dataclasses.replace(settings, **changes))
    print("storage settings saved")
    return 0


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise CliError(f"--max-age must be a number of days (or 'none'), got {text!r}") from None
    return days  # bounds: Settings.validate() names the setting in its message


def _move_storage(engine: Engine, old_root: Path, new_root: Path) -> None:
    """Point the index at a new storage folder, refusing to orphan existing recordings."""
    storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
    if storage_id is None or old_root == new_root:
        return  # first run (the hub marks the folder when it starts), or no change
    check = check_storage(new_root, storage_id)
    if check.state == "ok":
        return  # the owner moved the folder (or the disk) there already
    if check.state == "foreign":
        raise CliError(f"{new_root} belongs to another Porchlight index; choose another folder")
    if repo_media.storage_bytes(engine) > 0:
        raise CliError(
            f"the index holds recordings in {old_root}: move that folder to {new_root} "
            "first (it carries a marker file), then run this again"
        )
    if new_root.exists() and any(new_root.iterdir()):
        raise CliError(f"{new_root} is not empty; choose an empty or new folder")
    initialize_storage(new_root, storage_id)


def storage_show(args: argparse.Namespace) -> int:
    """``storage show [--json]``"""
    engine, data = open_index(args)
    s = repo_config.load_settings(engine)
    root = resolve_root(s, data)
    storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
    check = check_storage(root, storage_id) if storage_id else None
    free, total = disk_state(root) if root.exists() else (None, None)
    used = repo_media.storage_bytes(engine)
    info = {
        "path": str(root),
        "state": check.state if check else "not initialized",
        "message": check.message if check else "the hub prepares it on first start",
        "quota_bytes": s.quota_bytes,
        "max_age_days": s.max_age_days,
        "min_free_bytes": s.min_free_bytes,
        "used_bytes": used,
        "free_bytes": free,
        "total_bytes": total,
    }
    if args.json:
        return print_json(info)
    print(f"storage folder: {info['path']} ({info['state']})")
    print(f"used by recordings: {format_size(used)}; free on disk: {format_size(free)}")
    print(
        f"quota: {format_size(s.quota_bytes) if s.quota_bytes else 'none'}; keep for: "
        f"{s.max_age_days if s.max_age_days is not None else 'ever'} days; "
        f"keep free: {format_size(s.min_free_bytes)}"
    )
    return 0
