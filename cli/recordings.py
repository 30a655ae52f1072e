"""``porchlight recordings list``, ``events list`` and ``export``: what the hub recorded, through the Hub
API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.common import CliError, command, hub_api, positive, print_json, print_rows, time_window
from hub.api.types import MANUAL_EVENT_S, Event, ExportProgress, ExportRequest
from hub.api.util import format_ms, format_size


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
    es = command(esub.add_parser("start", help="start a manual event on a camera now"), events_start)
    es.add_argument("camera")
    es.add_argument(
        "--for",
        dest="duration",
        type=positive,
        default=MANUAL_EVENT_S,
        metavar="SECONDS",
        help="it ends by itself after this long (default: %(default)g; 1 to 3600)",
    )
    es.add_argument("--json", action="store_true")
    ex_ = command(esub.add_parser("stop", help="end a manual event now"), events_stop)
    ex_.add_argument("id", type=int)
    ex_.add_argument("--json", action="store_true")

    ex = command(sub.add_parser("export", help="export a clip (stream copy)"), export)
    ex.add_argument("--camera", required=True)
    ex.add_argument("--start", required=True)
    ex.add_argument("--end", required=True)
    ex.add_argument("--out", required=True, type=Path)


def recordings_list(args: argparse.Namespace) -> int:
    """``recordings list [--camera NAME] [--start T] [--end T] [--json]``"""
    start, end = time_window(args)
    with hub_api(args) as api:
        recs = api.recordings(args.camera, start, end)
    rows: list[dict[str, Any]] = [
        {
            "camera": r.camera,
            "camera_id": r.camera_id,
            "path": r.path,
            "start": format_ms(r.start_ms),
            "end": format_ms(r.end_ms),
            "duration": round(r.duration_ms / 1000, 3),
            "bytes": r.bytes,
            "frames": r.frames,
            "audio": r.has_audio,
            "protected": r.protected,
            "kept_for": list(r.kept_for),
        }
        for r in recs
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


def _event_row(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "camera": e.camera,
        "camera_id": e.camera_id,
        "start": format_ms(e.start_ms),
        "end": format_ms(e.end_ms),
        "detected": format_ms(e.detected_ms),
        "score": round(e.score, 4),
        "zones": list(e.zones),
        "source": e.source,
        "thumbnail": e.thumbnail,
    }


def events_list(args: argparse.Namespace) -> int:
    """``events list [--camera NAME] [--start T] [--end T] [--kind K] [--json]``"""
    start, end = time_window(args)
    with hub_api(args) as api:
        events = api.events(args.camera, start, end, args.kind)
    rows = [_event_row(e) for e in events]
    return print_rows(
        args,
        rows,
        lambda r: (
            f"{r['kind']:8s} {r['camera']:16s} {r['start']} → "
            f"{r['end'] or 'ongoing':24s} score {r['score']:.3f}"
        ),
        "no events",
    )


def events_start(args: argparse.Namespace) -> int:
    """``events start CAMERA [--for SECONDS] [--json]`` (the running hub records it)"""
    with hub_api(args) as api:
        e = api.start_event(args.camera, args.duration)
    if args.json:
        return print_json(_event_row(e))
    print(
        f"manual event {e.id} on {e.camera} since {format_ms(e.start_ms)}; it ends by itself "
        f"(porchlight events stop {e.id} ends it now)"
    )
    return 0


def events_stop(args: argparse.Namespace) -> int:
    """``events stop ID [--json]``"""
    with hub_api(args) as api:
        e = api.end_event(args.id)
    if args.json:
        return print_json(_event_row(e))
    print(f"manual event {e.id} on {e.camera} ended: {format_ms(e.start_ms)} → {format_ms(e.end_ms)}")
    return 0


class _ProgressLine:
    """An export's progress as one line rewritten in place, when standard error is a terminal."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()

    def __call__(self, p: ExportProgress) -> None:
        if self.shown:
            print(
                f"\rexporting… {p.fraction * 100:3.0f} %  {p.frames} frames",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def clear(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def export(args: argparse.Namespace) -> int:
    """``export --camera NAME --start T --end T --out FILE.mp4`` (Ctrl-C cancels it; no partial file
    is left)."""
    start, end = time_window(args)
    assert start is not None and end is not None  # argparse requires both
    if args.out.suffix.lower() != ".mp4":
        raise CliError("--out must name an .mp4 file")
    out = args.out.expanduser().absolute()  # the hub writes it; relative to where the command runs
    line = _ProgressLine()
    try:
        with hub_api(args) as api:
            report = api.export(
                ExportRequest(camera=args.camera, start_ms=start, end_ms=end, path=str(out)), progress=line
            )
    finally:
        line.clear()
    print(
        f"exported {report.frames} frames from {report.segments} segment(s), {format_ms(report.start_ms)} → "
        f"{format_ms(report.end_ms)}, to {report.path}"
    )
    for gap in report.gaps:
        print(
            f"note: nothing recorded {format_ms(gap.start_ms)} → {format_ms(gap.end_ms)} "
            f"({(gap.end_ms - gap.start_ms) / 1000:.1f} s)",
            file=sys.stderr,
        )
    if report.stopped_early:
        print(f"note: {report.stopped_early}", file=sys.stderr)
    return 0
