"""The Hub API benchmark's report (bench/api_bench.py): a table on stdout, a section of RESULTS.md."""

from __future__ import annotations

import argparse
import statistics
import sys

from run_bench import fmt, table

NAMES = {"porchlight": "porchlight (hub.sock)", "bare": "reference (bare socket)"}


def pct(sorted_values: list[float], p: float) -> float:
    """The ``p``-th percentile of sorted values (nearest rank)."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def latency(stamps: list[int], got: list[dict]) -> dict[str, float]:
    ms = sorted((at - stamps[seq]) / 1e6 for g in got for seq, at in zip(g["seqs"], g["at_ns"], strict=True))
    return {
        "n": len(ms),
        "sent": len(stamps) * len(got),
        "p50": pct(ms, 50),
        "p95": pct(ms, 95),
        "p99": pct(ms, 99),
        "max": ms[-1] if ms else float("nan"),
    }


def throughput(stamps: list[int], got: list[dict], dropped_before: list[int]) -> dict[str, float]:
    span = [(max(g["at_ns"]) - stamps[0]) / 1e9 if g["at_ns"] else float("nan") for g in got]
    return {
        "published_per_s": (len(stamps) - 1) / max(1e-9, (stamps[-1] - stamps[0]) / 1e9),
        "delivered_per_s": statistics.median(len(g["seqs"]) / s for g, s in zip(got, span, strict=True)),
        "received": sum(len(g["seqs"]) for g in got),
        "sent": len(stamps) * len(got),
        "dropped": sum(g["dropped"] - d for g, d in zip(got, dropped_before, strict=True)),
    }


def _health(when: str, cams: list[dict], before: list[dict] | None) -> str:
    """The cameras' state after a system's runs: recording, reconnections, and what the detectors
    dropped in those runs (and their worst lag since they started)."""

    def dropped(cs: list[dict]) -> int:
        return sum(int(c["detect"].get("dropped", 0)) for c in cs)

    lag = max((int(c["detect"].get("max_lag_ms", 0)) for c in cams), default=0)
    return (
        f"{when}, {sum(c['state'] == 'recording' for c in cams)}/{len(cams)} cameras recording, "
        f"{sum(c['connects'] or 0 for c in cams)} connects in all (one each: none lost), "
        f"detectors dropped {dropped(cams) - (dropped(before) if before else 0)} frames "
        f"(worst lag so far {lag} ms)"
    )


def _ms(values: list[float]) -> str:
    return " / ".join(f"{pct(values, p):.2f}" for p in (50, 95, 99))


def _full_rate(steps: list[dict]) -> str:
    """The highest step every subscriber received in full, and the most delivered per second."""
    full = [s["rate"] for s in steps if s["received"] == s["sent"]]
    best = max(s["delivered_per_s"] for s in steps)
    return f"{max(full):,.0f}/s in full; at most {best:,.0f}/s" if full else f"none in full; {best:,.0f}/s"


def build(args: argparse.Namespace, info: dict[str, str], r: dict) -> tuple[str, str]:
    subs = args.subscribers
    rows = [
        [f"status() round trip, {args.calls} calls: p50 / p95 / p99 ms"] + [_ms(r["rtt"][k]) for k in NAMES],
        [f"event latency, {args.rate:g}/s to {subs} subscribers: p50 / p95 / p99 / max ms"]
        + [
            f"{r[f'latency_{k}']['p50']:.2f} / {r[f'latency_{k}']['p95']:.2f} / "
            f"{r[f'latency_{k}']['p99']:.2f} / {r[f'latency_{k}']['max']:.2f}"
            for k in NAMES
        ],
        ["events delivered in that run"]
        + [f"{r[f'latency_{k}']['n']}/{r[f'latency_{k}']['sent']}" for k in NAMES],
        ["its hub CPU: API threads / whole process above recording, % of a core"]
        + [f"{fmt(r[f'latency_{k}']['api_pct'], 2)} / {fmt(r[f'latency_{k}']['extra_pct'])}" for k in NAMES],
        [f"throughput to {subs} subscribers (steps {args.steps}/s)"]
        + [_full_rate(r[f"steps_{k}"]) for k in NAMES],
    ]
    main = table(["", *NAMES.values()], rows)
    step_rows = []
    for k, label in NAMES.items():
        for s in r[f"steps_{k}"]:
            per = s["api_s"] / s["received"] * 1e6 if s["received"] else float("nan")
            step_rows.append(
                [
                    label,
                    f"{s['rate']:,.0f}",
                    f"{s['published_per_s']:,.0f}",
                    f"{s['delivered_per_s']:,.0f}",
                    f"{s['received']}/{s['sent']}",
                    str(s["dropped"]) if k == "porchlight" else "-",
                    fmt(s["api_pct"]),
                    fmt(s["extra_pct"]),
                    fmt(per),
                ]
            )
    steps = table(
        [
            "system",
            "target /s",
            "published /s",
            "delivered /s (median subscriber)",
            "received/sent",
            "dropped (hub)",
            "API threads CPU %",
            "process above recording CPU %",
            "API CPU us per notice delivered",
        ],
        step_rows,
    )
    cams = r["cameras_after_bare"]
    after_porchlight, after_bare = r["cameras_after_porchlight"], r["cameras_after_bare"]
    health = "; ".join(
        [
            _health("after porchlight's runs", after_porchlight, None),
            _health("after the reference's", after_bare, after_porchlight),
        ]
    )
    base = (
        f"recording alone: the hub process used {fmt(r['baseline_pct'])} % of a core "
        f"(API threads {fmt(r['baseline_api_pct'], 2)} %)"
    )
    reply, notice = r["sizes"]
    sources = (
        f"{args.sources} loopback RTSP sources of the bench clips, as in the scale run above"
        if args.sources
        else "demo cameras: no sub stream, detection on the main one"
    )
    text = "\n".join(
        [
            f"Hub API benchmark: {len(cams)} cameras recording; {subs} subscriber processes; "
            f"status reply {reply} B, event notice {notice} B",
            main,
            "",
            steps,
            "",
            base,
            health,
        ]
    )
    md = "\n".join(
        [
            "## Hub API (`bench/api_bench.py`)",
            "",
            f"- date: {info['date']}",
            f"- machine: {info['machine']}",
            f"- {info['load']}",
            f"- versions: python {info['python']}; {info['porchlight']}",
            f"- run: `.venv/bin/python bench/api_bench.py {' '.join(sys.argv[1:])}`",
            "",
            f"The hub is the benchmark's process, running what `porchlight serve` runs (`LocalHub` + "
            f"`ApiServer` on `hub.sock`) while {len(cams)} cameras record in motion mode with detection "
            f"on their sub stream ({sources}). Every client is a process of its own. The round trip is `status()` "
            f"({len(cams)} cameras, {reply} B reply) back to back. Events: a synthetic publisher puts "
            f"`EventStarted` on the hub's bus (as the detector does; {notice} B notice); each of {subs} "
            "subscribers (every notice kind, queue of the API's default "
            f"{args.queue}) notes the arrival on CLOCK_MONOTONIC, decoded. Hub CPU: the API's own threads "
            "(the bus thread and the connections) from /proc, and the whole process above its baseline "
            "while recording, the publisher's own CPU left out. The reference is the floor of the same "
            "exchange between the same processes: a bare length-prefixed Unix socket, frames of the same "
            "sizes, nothing encoded or decoded, no queue bound (one thread answers calls, one fans out).",
            "",
            main,
            "",
            "### Throughput steps",
            "",
            steps,
            "",
            f"- {base}",
            f"- meanwhile: {health}",
        ]
    )
    return text, md
