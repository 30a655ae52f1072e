"""CLI commands that run the hub or read what it recorded: serve, status, recordings, events, export."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from hub.cli import CliError
from hub.cli_commands import camera_by_name, open_index
from hub.db import repo_config, repo_media
from hub.export import ExportError, export_clip
from hub.model import CameraStatus
from hub.settings import format_size
from hub.storage.lock import HubLock, HubLockedError
from hub.storage.marker import check_storage, disk_state
from hub.storage_manager import STORAGE_ID_KEY, resolve_root
from hub.timefmt import format_ms, now_ms, parse_rfc3339


def _time(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise CliError(f"{what}: {exc}") from None


def _window(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """(--start, --end) in ms; refuses an end at or before the start."""
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    if start is not None and end is not None and end <= start:
        raise CliError("--end must be after --start")
    return start, end


def serve(args: argparse.Namespace) -> int:
    """``serve [--duration S]``: record until SIGINT/SIGTERM or S seconds."""
    from hub.hub import Hub

    hub = Hub(args.data_dir, args.db_url)
    try:
        hub.start()
    except HubLockedError as exc:
        raise CliError(str(exc)) from None
    done = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        done.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        cams = [c for c in hub.cameras() if c.enabled]
        print(
            f"porchlight: recording {len(cams)} camera(s) into {hub.storage.root}; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        done.wait(args.duration)
    finally:
        hub.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def status_json(st: CameraStatus, name: str) -> dict:
    """The ``status --json`` shape of one camera."""
    return {
        "camera": name,
        "id": st.camera_id,
        "state": st.state,
        "since": format_ms(st.since_ms),
        "last_error": st.last_error,
        "updated": format_ms(st.updated_ms),
        "stats": st.stats,
    }


def status(args: argparse.Namespace) -> int:
    """``status [--json]``: state of each camera as the running hub reports it."""
    engine, data = open_index(args)
    holder = HubLock.holder(data.root)
    cams = {c.id: c for c in repo_config.list_cameras(engine)}
    stored = {s.camera_id: s for s in repo_media.list_status(engine)}
    rows = []
    for cam_id, cam in cams.items():
        st = stored.get(cam_id)
        if holder is None or st is None or not cam.enabled:
            since = st.since_ms if st else now_ms()
            st = CameraStatus(
                cam_id,
                "stopped",
                since,
                st.last_error if st else None,
                st.updated_ms if st else 0,
                st.stats if st else {},
            )
        rows.append(status_json(st, cam.name))
    if args.json:
        print(
            json.dumps({"hub": {"running": holder is not None, **(holder or {})}, "cameras": rows}, indent=2)
        )
        return 0
    print(
        "hub: "
        + (
            f"running (pid {holder.get('pid')})"
            if holder
            else "not running (start it with: porchlight serve)"
        )
    )
    for r in rows:
        err = f"  last error: {r['last_error']}" if r["last_error"] else ""
        print(f"{r['camera']:20s} {r['state']:16s} since {r['since']}{err}")
    return 0


def _root(engine, data) -> Path:
    return resolve_root(repo_config.load_settings(engine), data)


def _listing(args: argparse.Namespace):
    """What a list command needs: index, data dir, camera id filter, camera names, time window."""
    engine, data = open_index(args)
    cam = camera_by_name(engine, args.camera) if args.camera else None
    names = {c.id: c.name for c in repo_config.list_cameras(engine, include_removed=True)}
    return engine, data, cam.id if cam else None, names, *_window(args)


def _print_rows(args: argparse.Namespace, rows: list[dict], line: Callable[[dict], str], empty: str) -> int:
    """``--json``: the rows as a JSON array; else one line per row (``empty`` on stderr when none)."""
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(line(r))
    if not rows:
        print(empty, file=sys.stderr)
    return 0


def recordings_list(args: argparse.Namespace) -> int:
    """``recordings list [--camera NAME] [--start T] [--end T] [--json]``"""
    engine, data, cam_id, names, start, end = _listing(args)
    segs = repo_media.list_segments(engine, camera_id=cam_id, start_ms=start, end_ms=end)
    root = _root(engine, data)
    rows = [
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
    return _print_rows(
        args,
        rows,
        lambda r: (
            f"{r['camera']:16s} {r['start']}  {r['duration']:7.2f} s  "
            f"{format_size(r['bytes']):>10s}  {r['path']}"
        ),
        "no recordings",
    )


def events_list(args: argparse.Namespace) -> int:
    """``events list [--camera NAME] [--json]``"""
    engine, data, cam_id, names, start, end = _listing(args)
    events = repo_media.list_events(engine, camera_id=cam_id, start_ms=start, end_ms=end, kinds=args.kind)
    rows = [
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
    return _print_rows(
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
    start, end = _window(args)
    if args.out.suffix.lower() != ".mp4":
        raise CliError("--out must name an .mp4 file")
    segs = repo_media.list_segments(engine, camera_id=cam.id, start_ms=start, end_ms=end)
    try:
        report = export_clip(_root(engine, data), segs, start, end, args.out)
    except ExportError as exc:
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


def storage_show(args: argparse.Namespace) -> int:
    """``storage show [--json]``"""
    engine, data = open_index(args)
    s = repo_config.load_settings(engine)
    root = _root(engine, data)
    storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
    check = check_storage(root, storage_id) if storage_id else None
    free, total = disk_state(root) if root.exists() else (None, None)
    info = {
        "path": str(root),
        "state": check.state if check else "not initialized",
        "message": check.message if check else "the hub prepares it on first start",
        "quota_bytes": s.quota_bytes,
        "max_age_days": s.max_age_days,
        "min_free_bytes": s.min_free_bytes,
        "used_bytes": repo_media.storage_bytes(engine),
        "free_bytes": free,
        "total_bytes": total,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"storage folder: {info['path']} ({info['state']})")
    print(f"used by recordings: {format_size(info['used_bytes'])}; free on disk: {format_size(free)}")
    print(
        f"quota: {format_size(s.quota_bytes) if s.quota_bytes else 'none'}; keep for: "
        f"{s.max_age_days if s.max_age_days is not None else 'ever'} days; keep free: {format_size(s.min_free_bytes)}"
    )
    return 0
