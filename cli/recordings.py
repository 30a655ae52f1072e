"""``porchlight recordings list``, ``events list`` and ``export``: what the hub recorded, read from the index."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from cli.common import CliError, camera_by_name, command, open_index, print_rows, time_window
from hub.core.errors import NotFoundError, StorageError
from hub.core.paths import DataDir
from hub.core.settings import format_size
from hub.core.times import format_ms
from hub.db import repo_config, repo_media
from hub.media.export import export_clip
from hub.storage.manager import resolve_root


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``recordings``, ``events`` and ``export`` to the top-level sub-parsers."""
    rec = sub.add_parser("recordings", help="recorded segments")
    rsub = rec.add_subparsers(dest="action", metavar="ACTION", required=True)
    rl = command(rsub.add_parser("list", help="one row per segment"), recordings_list)
    rl.add_argument("--camera")
    rl.add_argument("--start")
    rl.add_argument("--end")
    rl.add_argument("--json", action="store_true")

    ev = sub.add_parser("events", help="motion and other events")
    esub = ev.add_subparsers(dest="action", metavar="ACTION", required=True)
    el = command(esub.add_parser("list", help="one row per event"), events_list)
    el.add_argument("--camera")
    el.add_argument("--start")
    el.add_argument("--end")
    el.add_argument("--kind", action="append", help="motion, doorbell, camera_motion, manual")
    el.add_argument("--json", action="store_true")

    ex = command(sub.add_parser("export", help="export a clip (stream copy)"), export)
    ex.add_argument("--camera", required=True)
    ex.add_argument("--start", required=True)
    ex.add_argument("--end", required=True)
    ex.add_argument("--out", required=True, type=Path)


def _root(engine: Engine, data: DataDir) -> Path:
    return resolve_root(repo_config.load_settings(engine), data)


def _listing(
    args: argparse.Namespace,
) -> tuple[Engine, DataDir, str | None, dict[str, str], int | None, int | None]:
    """What a list command needs: index, data dir, camera id filter, camera names, time window."""
    engine, data = open_index(args)
    cam = camera_by_name(engine, args.camera) if args.camera else None
    names = {c.id: c.name for c in repo_config.list_cameras(engine, include_removed=True)}
    start, end = time_window(args)
    return engine, data, cam.id if cam else None, names, start, end


def recordings_list(args: argparse.Namespace) -> int:
    """``recordings list [--camera NAME] [--start T] [--end T] [--json]``"""
    engine, data, cam_id, names, start, end = _listing(args)
    segs = repo_media.list_segments(engine, camera_id=cam_id, start_ms=start, end_ms=end)
    root = _root(engine, data)
    rows: list[dict[str, Any]] = [
        {
            "camera": names.get(s.camera_id, s.camera_id),
            "camera_id": s.camera_id,
            "path": str(root / s.path),
            "start": format_ms(s.start_ms),
            "end": format_ms(s.end_ms),
            "duration": round(s.duration_ms / 1000, 3),
            "bytes": s.bytes,
            "frames": s.frames,
            "audio": s.has_audio,
            "protected": s.protected,
        }
        for s in segs
    ]
    return print_rows(
        args,
        rows,
        lambda r: (
            f"{r['camera']:16s} {r['start']}  {r['duration']:7.2f} s  "
            f"{format_size(r['bytes']):>10s}  {r['path']}"
        ),
        "no recordings",
    )


def events_list(args: argparse.Namespace) -> int:
    """``events list [--camera NAME] [--start T] [--end T] [--kind K] [--json]``"""
    engine, data, cam_id, names, start, end = _listing(args)
    events = repo_media.list_events(engine, camera_id=cam_id, start_ms=start, end_ms=end, kinds=args.kind)
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "kind": e.kind,
            "camera": names.get(e.camera_id, e.camera_id),
            "camera_id": e.camera_id,
            "start": format_ms(e.start_ms),
            "end": format_ms(e.end_ms),
            "detected": format_ms(e.detected_ms),
            "score": round(e.score, 4),
            "zones": list(e.zones),
            "source": e.source,
            "thumbnail": str(data.root / e.thumbnail) if e.thumbnail else None,
        }
        for e in events
    ]
    return print_rows(
        args,
        rows,
        lambda r: (
            f"{r['kind']:8s} {r['camera']:16s} {r['start']} → "
            f"{r['end'] or 'ongoing':24s} score {r['score']:.3f}"
        ),
        "no events",
    )


def export(args: argparse.Namespace) -> int:
    """``export --camera NAME --start T --end T --out FILE.mp4``"""
    engine, data = open_index(args)
    cam = camera_by_name(engine, args.camera)
    start, end = time_window(args)
    assert start is not None and end is not None  # argparse requires both
    if args.out.suffix.lower() != ".mp4":
        raise CliError("--out must name an .mp4 file")
    segs = repo_media.list_segments(engine, camera_id=cam.id, start_ms=start, end_ms=end)
    try:
        report = export_clip(_root(engine, data), segs, start, end, args.out)
    except (NotFoundError, StorageError) as exc:
        raise CliError(f"{exc}: {cam.name} between {format_ms(start)} and {format_ms(end)}") from None
    print(
        f"exported {report.frames} frames from {report.segments} segment(s), {format_ms(report.start_ms)} → "
        f"{format_ms(report.end_ms)}, to {report.path}"
    )
    for a, b in report.gaps:
        print(
            f"note: nothing recorded {format_ms(a)} → {format_ms(b)} ({(b - a) / 1000:.1f} s)",
            file=sys.stderr,
        )
    if report.stopped_early:
        print(f"note: {report.stopped_early}", file=sys.stderr)
    return 0
