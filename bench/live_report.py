"""Tables of bench/live_bench.py: the console text and the RESULTS.md section."""

from __future__ import annotations

import statistics
from typing import Any

GOAL_FPS = 10.0  # distinct pictures per second per tile, for 15 fps cameras
GOAL_HUB_PCT = 5.0  # the hub's extra CPU for 16 tiles of 640x360 at 15 fps, % of one core
KINDS = {"app": "the app (ui.main_window)", "floor": "floor: bare slot reader"}


def median_fps(win: dict[str, Any]) -> float:
    fps = [t["shown_fps"] for t in win.get("tiles", {}).values()]
    return statistics.median(fps) if fps else float("nan")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """One client's cycles: medians over the shown windows, the hub's extra from neighbouring pairs."""
    ons = [c["on"] for c in run["cycles"]]
    offs = [c["off"] for c in run["cycles"]]
    per_tile: dict[str, list[float]] = {}
    for w in ons:
        for cam, t in w["tiles"].items():
            per_tile.setdefault(cam, []).append(t["shown_fps"])
    tile_means = [statistics.fmean(v) for v in per_tile.values()]
    ages = [a for w in ons for a in w["ages"]]

    def med(key: str, wins: list[dict[str, Any]]) -> float:
        return statistics.median(w["client"][key] for w in wins)

    return {
        "tiles": len(per_tile),
        "fps_median": statistics.median(tile_means) if tile_means else float("nan"),
        "fps_worst": min(tile_means, default=float("nan")),
        "written_fps": statistics.median(t["written_fps"] for w in ons for t in w["tiles"].values()),
        "images_fps": statistics.median(t["images_fps"] for w in ons for t in w["tiles"].values()),
        "age_p50": _pct(ages, 0.5),
        "age_p95": _pct(ages, 0.95),
        "hub_off": statistics.median(w["hub_pct"] for w in offs),
        "hub_on": statistics.median(w["hub_pct"] for w in ons),
        "hub_extra": statistics.median(c["on"]["hub_pct"] - c["off"]["hub_pct"] for c in run["cycles"]),
        "hub_extras": [c["on"]["hub_pct"] - c["off"]["hub_pct"] for c in run["cycles"]],
        "client": med("process", ons),
        "client_gui": med("gui", ons),
        "client_frames": med("frames", ons),
        "client_idle": med("process", offs),
        "machine": statistics.median(w["machine_pct"] for w in ons),
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def build(args: Any, info: dict[str, str], results: dict[str, Any]) -> tuple[str, str]:
    modes = args.modes.split(",")
    head = [
        "hub mode / client",
        "tile fps: median / worst tile",
        "hub wrote fps",
        "images made /s per tile",
        "picture age when shown p50 / p95 ms",
        "hub CPU % hidden -> shown (extra)",
        "client CPU %: process (GUI thread / frame worker)",
        "machine CPU % (of 200)",
    ]
    rows = [head]
    sums: dict[str, dict[str, Any]] = {}
    for mode in modes:
        for kind, label in KINDS.items():
            run = results.get(f"{mode}/{kind}")
            if run is None:
                continue
            s = sums[f"{mode}/{kind}"] = summarize(run)
            rows.append(
                [
                    f"{mode} / {label}",
                    f"{s['fps_median']:.1f} / {s['fps_worst']:.1f}",
                    f"{s['written_fps']:.1f}",
                    f"{s['images_fps']:.1f}",
                    f"{s['age_p50']:.0f} / {s['age_p95']:.0f}",
                    f"{s['hub_off']:.1f} -> {s['hub_on']:.1f} ({s['hub_extra']:+.1f})",
                    f"{s['client']:.1f} ({s['client_gui']:.1f} / {s['client_frames']:.1f})",
                    f"{s['machine']:.0f}",
                ]
            )
    ref = results.get("reference")
    if ref:
        wins = ref["windows"]
        rows.append(
            [
                f"reference: {ref['procs']} ffmpeg, each decoding a sub stream, scaled to 400 px RGB",
                "-",
                "-",
                "-",
                "-",
                f"{statistics.median(w['hub_pct'] for w in wins):.1f} (recording, no tiles)",
                f"{statistics.median(w['client']['process'] for w in wins):.1f}",
                f"{statistics.median(w['machine_pct'] for w in wins):.0f}",
            ]
        )
    table = _table(rows)
    copy = results["copy"]
    goals = []
    app = sums.get("motion/app")
    if app is not None:
        ok_fps = app["fps_worst"] >= GOAL_FPS
        ok_hub = app["hub_extra"] <= GOAL_HUB_PCT
        goals.append(
            f"- {'PASS' if ok_fps else 'FAIL'}  every tile shows >= {GOAL_FPS:g} distinct pictures/s: "
            f"worst tile {app['fps_worst']:.1f}, median {app['fps_median']:.1f} (the hub wrote {app['written_fps']:.1f})"
        )
        expected = copy["us_cpu"] * app["tiles"] * app["written_fps"] / 1e4
        goals.append(
            f"- {'PASS' if ok_hub else 'FAIL'}  the hub's extra CPU for {app['tiles']} tiles <= {GOAL_HUB_PCT:g}% "
            f"of a core: {app['hub_extra']:+.1f}% (pairs: {', '.join(f'{x:+.1f}' for x in app['hub_extras'])}); "
            f"the copy into the slots alone (one thread, nothing beside it): {copy['us_cpu']:.0f} us per "
            f"{copy['width']}x{copy['height']} frame, x {app['tiles'] * app['written_fps']:.0f} frames/s "
            f"= {expected:.1f}%"
        )
    notes = [
        "- median tile fps of each shown window: "
        + "; ".join(
            f"{key} " + ", ".join(f"{median_fps(c['on']):.1f}" for c in results[key]["cycles"])
            for key in sums
        )
    ]
    for mode in modes:
        h = results.get(f"{mode}/health")
        if h:
            notes.append(
                f"- after the {mode} runs: {h['recording']}/{h['cams']} cameras recording, {h['connects']} "
                f"connects in all, detectors dropped {h['detect_dropped']} frames"
            )
    if "continuous/app" in sums:
        notes.append(
            "- continuous mode with detection off decodes nothing while no tile is shown (its hidden "
            "windows start once the hub has let the decoders go, 15-25 s after the tiles hid): its "
            "extra is the sub streams' decoding, which only the tiles need"
        )
    totals = [
        f"{mode} {sums[f'{mode}/app']['client'] + sums[f'{mode}/app']['hub_extra']:.1f}%"
        for mode in modes
        if f"{mode}/app" in sums
    ]
    if totals and ref:
        players = statistics.median(w["client"]["process"] for w in ref["windows"])
        notes.append(
            f"- what the tiles cost in all (the app + the hub's extra): {', '.join(totals)}; players "
            f"decoding the sub streams themselves (the reference): {players:.1f}%"
        )
    run = "`.venv/bin/python bench/live_bench.py" + (" --quick" if args.quick else "") + "`"
    intro = (
        f"{args.cams} cameras (1080p15 main recorded, 640x360 15 fps sub stream detected and shown) from "
        f"{args.sources} loopback RTSP sources; one `porchlight serve`; the client a process of its own: "
        f"the app's main window (Qt offscreen, {args.width}x{args.height}, every tile visible) or the bare "
        f"reader. Per client, {args.cycles} cycles of a {args.seconds:g} s window with the tiles hidden (no "
        "live view) and one shown; the hub's extra is the median of (shown - hidden) over the cycles. "
        "Tile fps: distinct slot pictures each tile was given per second. Picture age: the time shown "
        "minus the picture's wall time (the camera's clock as the hub maps it). CPU % is of one core."
    )
    md = "\n".join(
        [
            "## Live view (`bench/live_bench.py`)",
            "",
            f"- date: {info['date']}",
            f"- machine: {info['machine']}",
            f"- {info['load']}",
            f"- versions: python {info['python']}; {info['porchlight']}; {info['pyav']}; {info['opencv']}",
            f"- run: {run}",
            "",
            intro,
            "",
            table,
            "",
            "### Goals",
            "",
            *goals,
            "",
            "### Notes",
            "",
            *notes,
        ]
    )
    text = "\n".join([table, "", *goals, *notes])
    return text, md
