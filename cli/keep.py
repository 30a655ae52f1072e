"""``porchlight protect add|list|release`` (footage kept from retention, with a reason) and
``porchlight snapshot`` (a camera's picture now), through the Hub API."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, get_args

from cli.common import CliError, applied, command, hub_api, print_json, print_rows, time_window
from hub.api.types import Protection, ProtectReason
from hub.api.util import format_ms

REASONS: tuple[str, ...] = get_args(ProtectReason)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``protect`` and ``snapshot`` to the top-level sub-parsers."""
    pro = sub.add_parser("protect", help="keep footage from retention (star, evidence, hold)")
    psub = pro.add_subparsers(dest="action", metavar="ACTION", required=True)
    pa = command(psub.add_parser("add", help="keep a camera's footage in a window"), protect_add)
    pa.add_argument("--camera", required=True)
    pa.add_argument("--start", required=True)
    pa.add_argument("--end", required=True)
    pa.add_argument("--reason", choices=REASONS, default="star")
    pa.add_argument("--note", default="")
    pa.add_argument("--json", action="store_true")
    pl = command(psub.add_parser("list", help="one row per protection"), protect_list)
    pl.add_argument("--camera")
    pl.add_argument("--start")
    pl.add_argument("--end")
    pl.add_argument("--reason", action="append", choices=REASONS, help="repeatable")
    pl.add_argument("--json", action="store_true")
    pr = command(
        psub.add_parser("release", help="end one protection (footage another one covers stays kept)"),
        protect_release,
    )
    pr.add_argument("id", type=int)

    sn = command(sub.add_parser("snapshot", help="save a camera's picture now as a JPEG"), snapshot)
    sn.add_argument("camera")
    sn.add_argument("--out", required=True, type=Path, help="the .jpg file to write ('-': standard output)")


def _row(p: Protection) -> dict[str, Any]:
    return {
        "id": p.id,
        "camera": p.camera,
        "camera_id": p.camera_id,
        "start": format_ms(p.start_ms),
        "end": format_ms(p.end_ms),
        "reason": p.reason,
        "note": p.note,
        "created": format_ms(p.created_ms),
    }


def _line(r: dict[str, Any]) -> str:
    note = f"  {r['note']}" if r["note"] else ""
    return f"{r['id']:>5}  {r['reason']:8s} {r['camera']:16s} {r['start']} → {r['end']}{note}"


def protect_add(args: argparse.Namespace) -> int:
    """``protect add --camera NAME --start T --end T [--reason R] [--note TEXT] [--json]``"""
    start, end = time_window(args)
    assert start is not None and end is not None  # argparse requires both
    with hub_api(args) as api:
        p = api.protect(args.camera, start, end, args.reason, args.note)
        applied(api)
    if args.json:
        return print_json(_row(p))
    print(f"protected ({p.reason}): {_line(_row(p)).strip()}")
    return 0


def protect_list(args: argparse.Namespace) -> int:
    """``protect list [--camera NAME] [--start T] [--end T] [--reason R] [--json]``"""
    start, end = time_window(args)
    with hub_api(args) as api:
        found = api.protections(args.camera, start, end, args.reason)
    return print_rows(args, [_row(p) for p in found], _line, "no protections")


def protect_release(args: argparse.Namespace) -> int:
    """``protect release ID``"""
    with hub_api(args) as api:
        p = api.release(args.id)
        applied(api)
    print(f"released {p.id} ({p.reason}): {p.camera} {format_ms(p.start_ms)} → {format_ms(p.end_ms)}")
    return 0


def snapshot(args: argparse.Namespace) -> int:
    """``snapshot CAMERA --out FILE.jpg`` (``--out -``: the JPEG on standard output)"""
    to_stdout = str(args.out) == "-"
    if not to_stdout and args.out.suffix.lower() not in (".jpg", ".jpeg"):
        raise CliError("--out must name a .jpg file (or '-' for standard output)")
    with hub_api(args) as api:
        shot = api.snapshot(args.camera)
    if to_stdout:
        sys.stdout.buffer.write(shot.jpeg)
        sys.stdout.buffer.flush()
        return 0
    out = args.out.expanduser().absolute()
    _write_whole(out, shot.jpeg)
    print(f"{shot.camera}: {shot.width}x{shot.height} taken {format_ms(shot.taken_ms)}, saved to {out}")
    return 0


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is never seen half-written."""
    if not path.parent.is_dir():
        raise CliError(f"cannot write {path}: there is no folder {path.parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
