"""Porchlight recording/motion benchmark against ffmpeg and the motion daemon (``make bench``).

Loopback cameras (gst-rtsp-server + ffmpeg pushers, stream copy of cached clips): 1080p15 H.264 Main
3 Mbit/s (GOP 2 s, noise, a box moving 8 s of every 20 s, frame numbers burned in) + a 640x360
~500 kbit/s sub stream. In one run, concurrently, on the same cameras and in the same window:

  (a)  porchlight serve, motion mode, motion detection on the sub stream
  (a') porchlight serve, continuous mode, detection off ("recording alone")
  (b)  ffmpeg -rtsp_transport tcp -i MAIN -c copy -f segment -segment_time 10, one per camera
  (c)  motion 4.5.x, detection on the sub stream, passthrough recording of the main stream

then (d) porchlight serve alone on --scale cameras (motion mode; cameras share the loopback mounts).

Usage: .venv/bin/python bench/run_bench.py [--cams 4] [--seconds 60] [--scale 16] [--quick] [--profile]
Prints a table; a full run (not --quick) also writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for p in (str(BENCH), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

import analyze  # noqa: E402
import monitor  # noqa: E402
import procs  # noqa: E402
import results as results_file  # noqa: E402
import threadprof as prof  # noqa: E402
from benchclips import BENCH_SPEC, make_bench_clips  # noqa: E402
from systems import CamUrls, FfmpegSegmenters, MotionDaemon, Porchlight, wait_alive  # noqa: E402

from tests.support.rtsp import RtspCamera  # noqa: E402

TARGET_REC_VS_FFMPEG = 1.5
TARGET_MOTION_VS_MOTIOND = 1.0
LABELS = {
    "a": "(a)  porchlight, motion mode, detect on sub",
    "a'": "(a') porchlight, continuous, detect off",
    "b": "(b)  ffmpeg -c copy -f segment",
    "c": "(c)  motion 4.5, detect sub, passthrough",
    "d": "(d)  porchlight x{n}, motion mode, detect on sub",
}


def _on_signal(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- environment -----------------------------------------------------------------------------------------
def _cmd_out(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine_info() -> dict[str, str]:
    import av
    import cv2
    import numpy
    import psutil

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?"
    motion_v = (
        " ".join(_cmd_out(["motion", "-h"]).split()[:3]).rstrip(",") if shutil.which("motion") else "n/a"
    )
    ffmpeg_v = "ffmpeg CLI " + _cmd_out(["ffmpeg", "-version"]).split()[2] if shutil.which("ffmpeg") else "?"
    gst_v = _cmd_out(
        [
            "/usr/bin/python3",
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); "
            "from gi.repository import Gst; Gst.init(None); print(Gst.version_string())",
        ]
    )
    commit = _cmd_out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _cmd_out(["git", "-C", str(ROOT), "status", "--porcelain", "--", "hub", "drivers", "ui"])
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{cpu}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"Linux {platform.release()}, Debian {debian}",
        "load": "load average before the run: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "porchlight": f"git {commit}" + (" + uncommitted changes in hub/drivers/ui" if dirty else ""),
        "pyav": f"PyAV {av.__version__} (FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))} "
        f"libavcodec, bundled)",
        "opencv": f"OpenCV {cv2.__version__}, NumPy {numpy.__version__}",
        "ffmpeg": ffmpeg_v,
        "motion": motion_v,
        "gstreamer": gst_v,
        "py-spy": _cmd_out([prof.pyspy(), "--version"]) if prof.pyspy() else "not installed",
    }


def foreign_sockets(pids: list[int]) -> list[str]:
    """Sockets of our processes bound to anything but loopback (the network rule)."""
    import psutil

    bad = []
    for pid in pids:
        try:
            tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in tree:
            try:
                conns = p.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            for c in conns:
                ip = c.laddr.ip if c.laddr else ""
                if ip and ip not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
                    bad.append(f"{p.name()}[{p.pid}] {ip}:{c.laddr.port} {c.status}")
    return bad


# -- one measured phase ------------------------------------------------------------------------------------
def run_phase(
    systems: dict, groups_extra: list[monitor.Group], args, workdir: Path, tag: str, cams_of: dict[str, int]
) -> dict:
    """Start the systems together, warm up, measure, stop them together."""
    total = args.warmup + args.seconds + 60
    t_start = time.time()
    for key, s in systems.items():
        s.start(total)
        log(f"{tag}: started {key} (pids {', '.join(map(str, s.pids))})")
    children = [c for s in systems.values() for c in s.children()]
    dead = wait_alive(children, args.warmup)
    if dead:
        for key, s in systems.items():
            if isinstance(s, Porchlight):
                log(f"{key} log tail:\n{s.log_tail()}")
        raise RuntimeError(f"{tag}: exited during the warm-up: {', '.join(dead)}")
    porch_pids = {key: s.child.pid for key, s in systems.items() if isinstance(s, Porchlight)}
    names = {key: prof.thread_names(pid) for key, pid in porch_pids.items()}
    bad = foreign_sockets([pid for s in systems.values() for pid in s.pids])
    spies = {}
    if args.profile:
        for key, pid in porch_pids.items():
            out = workdir / f"pyspy-{tag}-{key.replace(chr(39), 'p')}.txt"
            p = prof.start_record(pid, out, args.seconds - 1, rate=args.profile_rate)
            if p is not None:
                spies[key] = (p, out)
    groups = [monitor.Group(key, s.pids, cams_of[key]) for key, s in systems.items()] + groups_extra
    log(f"{tag}: measuring {args.seconds:g} s in {args.window:g} s windows")
    t_measure = time.time()
    meas = monitor.measure(
        groups,
        args.seconds,
        args.window,
        thread_pids=list(porch_pids.values()),
        on_window=lambda i, text: log(f"{tag}: window {i}: {text}"),
    )
    t_stop = time.time()
    stopped_early = [c.label for c in children if not c.alive()]
    log(f"{tag}: stopping")
    rcs = procs.stop([c for s in systems.values() for c in s.children()], timeout=40)
    for p, _out in spies.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=30)
        if p.poll() is None:
            p.kill()
            p.wait()
    return {
        "t_start": t_start,
        "t_measure": t_measure,
        "t_stop": t_stop,
        "measurement": meas,
        "thread_names": names,
        "porch_pids": porch_pids,
        "foreign_sockets": bad,
        "exit_codes": rcs,
        "stopped_early": stopped_early,
        "pyspy": {k: prof.summarize_raw(out) for k, (_p, out) in spies.items()},
    }


# -- analysis -------------------------------------------------------------------------------------------
def scan_all(paths: list[Path], workers: int) -> dict[Path, analyze.FileScan]:
    out = {}
    if not paths:
        return out
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as ex:
        for path, scan in zip(paths, ex.map(analyze.scan_file, paths, chunksize=4), strict=True):
            out[path] = scan
    return out


def porch_status(s: Porchlight) -> dict[str, dict]:
    st = s.status()
    return {c["id"]: c for c in st.get("cameras", [])}


def behind(cam_status: dict, lag_limit_ms: int) -> tuple[bool, int, int]:
    det = (cam_status.get("stats") or {}).get("detect") or {}
    max_lag, dropped = int(det.get("max_lag_ms", 0)), int(det.get("dropped", 0))
    return (dropped > 0 or max_lag > lag_limit_ms), max_lag, dropped


def fmt(x: float, nd: int = 1) -> str:
    return "n/a" if x != x else f"{x:.{nd}f}"  # NaN-safe


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|-" + "-|-".join("-" * w for w in widths) + "-|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cams", type=int, default=4, help="cameras for the side-by-side run (default 4)")
    ap.add_argument("--seconds", type=float, default=None, help="measured window (default 60; --quick 20)")
    ap.add_argument(
        "--warmup", type=float, default=None, help="seconds before measuring (default 30; --quick 8)"
    )
    ap.add_argument("--window", type=float, default=10.0, help="CPU sample window (s)")
    ap.add_argument(
        "--scale", type=int, default=None, help="cameras of the scale run, 0 skips it (default 16; --quick 6)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="short run to smoke-test the scripts (no RESULTS.md)"
    )
    ap.add_argument(
        "--profile", action="store_true", help="py-spy the porchlight processes (functions per thread)"
    )
    ap.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    ap.add_argument(
        "--lag-limit-ms",
        type=int,
        default=1000,
        help="a detector whose max lag exceeds this fell behind (default 1000)",
    )
    ap.add_argument("--no-motion", action="store_true", help="skip the motion daemon (c)")
    ap.add_argument(
        "--results",
        type=Path,
        default=None,
        help="where to write the report (default bench/RESULTS.md; --quick writes none unless given)",
    )
    ap.add_argument("--workdir", type=Path, default=None, help="keep data dirs and recordings here")
    ap.add_argument("--keep", action="store_true", help="do not delete the temporary work dir")
    args = ap.parse_args(argv)
    if args.seconds is None:
        args.seconds = 20.0 if args.quick else 60.0
    if args.warmup is None:
        args.warmup = 8.0 if args.quick else 30.0
    if args.scale is None:
        args.scale = 6 if args.quick else 16
    if args.results is None and not args.quick:
        args.results = BENCH / "RESULTS.md"
    if args.cams < 1:
        ap.error("--cams must be at least 1")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (&)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    info = machine_info()
    if not MotionDaemon.available() and not args.no_motion:
        log("motion is not installed (make bench installs it): skipping (c)")
        args.no_motion = True
    if args.profile and prof.pyspy() is None:
        log("--profile: py-spy not found; per-thread CPU only. Install it: .venv/bin/pip install py-spy")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="porchlight-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.workdir is not None
    log(f"work dir {workdir}")
    cameras: list[RtspCamera] = []
    try:
        clips = make_bench_clips()
        for i in range(args.cams):
            cameras.append(RtspCamera(clips, workdir / "peers" / f"cam{i + 1}").start())
        log(f"{len(cameras)} loopback cameras up: {', '.join(c.url for c in cameras)}")
        infra = monitor.Group(
            "relay+pushers", [p for c in cameras for p in (c.server_pid, c.pusher_pid) if p], len(cameras)
        )
        cams = [CamUrls(f"cam{i + 1}", c.url, c.sub_url, i) for i, c in enumerate(cameras)]

        # ---- side by side ----
        systems: dict = {
            "a": Porchlight("porchlight-motion", workdir, cams, mode="motion", detect=True),
            "a'": Porchlight("porchlight-record", workdir, cams, mode="continuous", detect=False),
            "b": FfmpegSegmenters("ffmpeg-segment", workdir, cams),
        }
        if not args.no_motion:
            systems["c"] = MotionDaemon("motion-daemon", workdir, cams)
        for s in systems.values():
            s.setup()
        phase1 = run_phase(systems, [infra], args, workdir, "side-by-side", {k: len(cams) for k in systems})
        status1 = {k: porch_status(s) for k, s in systems.items() if isinstance(s, Porchlight)}

        # ---- scale ----
        phase2 = None
        scale_sys = None
        status2 = {}
        if args.scale > 0:
            scams = [
                CamUrls(
                    f"s{i + 1:02d}",
                    cameras[i % len(cameras)].url,
                    cameras[i % len(cameras)].sub_url,
                    i % len(cameras),
                )
                for i in range(args.scale)
            ]
            scale_sys = Porchlight("porchlight-scale", workdir, scams, mode="motion", detect=True)
            scale_sys.setup()
            phase2 = run_phase(
                {"d": scale_sys}, [infra], args, workdir, f"scale-{args.scale}", {"d": args.scale}
            )
            status2 = {"d": porch_status(scale_sys)}
        for c in cameras:
            c.close()
        cameras.clear()

        # ---- analysis ----
        log("analysing recordings (keyframe barcodes + timestamps of every packet)")
        files: dict[tuple[str, str], list[Path]] = {}
        for key, s in systems.items():
            for c in cams:
                if isinstance(s, Porchlight):
                    files[(key, c.name)] = s.segment_files(s.ids[c.name])
                else:
                    files[(key, c.name)] = s.files(c.name)
        if scale_sys is not None:
            for c in scale_sys.cams:
                files[("d", c.name)] = scale_sys.segment_files(scale_sys.ids[c.name])
        scans = scan_all([p for ps in files.values() for p in ps], workers=os.cpu_count() or 2)
        report = build_report(
            args, info, systems, scale_sys, cams, files, scans, phase1, phase2, status1, status2, infra
        )
        print(report["stdout"])
        if args.results:
            results_file.write_section(args.results, "recording", report["markdown"])
            log(f"wrote {args.results}")
        return 0
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
        procs.stop_all(timeout=30)
        for c in cameras:
            c.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")
        signal.signal(signal.SIGINT, signal.default_int_handler)


# -- report ------------------------------------------------------------------------------------------------
def build_report(args, info, systems, scale_sys, cams, files, scans, phase1, phase2, status1, status2, infra):
    fps = float(BENCH_SPEC.fps)
    loop = BENCH_SPEC.frame_count
    onset_frames = {math_ceil(s * fps) for s, _e in BENCH_SPEC.passages}
    passage_ms = 1000.0 * max(e - s for s, e in BENCH_SPEC.passages)

    def losses_for(key: str, names: list[str], continuous: bool) -> tuple[analyze.LossReport, dict]:
        total = analyze.LossReport()
        per = {}
        for n in names:
            r = analyze.losses([scans[p] for p in files[(key, n)]], fps, loop, continuous=continuous)
            per[n] = r
            total.add(r)
        return total, per

    def onsets(key: str, name: str) -> list[float]:
        return analyze.porchlight_onsets([scans[p] for p in files[(key, name)]], fps, onset_frames, loop)

    def window(phase) -> tuple[float, float]:
        # the measurement window (every system had warmed up), minus room for the last passage
        return phase["t_measure"] * 1000, phase["t_stop"] * 1000 - passage_ms - 1000

    names = [c.name for c in cams]
    loss = {}
    per_cam_loss = {}
    for key in systems:
        loss[key], per_cam_loss[key] = losses_for(key, names, continuous=(key != "c"))
    if scale_sys is not None:
        loss["d"], per_cam_loss["d"] = losses_for("d", [c.name for c in scale_sys.cams], continuous=True)

    # motion latency
    lat: dict[str, analyze.LatencyReport] = {}
    per_cam_lat: dict[str, dict[str, analyze.LatencyReport]] = {}
    ref_onsets = {n: onsets("a'", n) or onsets("a", n) for n in names}
    ev_a = systems["a"].events()
    lat["a"], per_cam_lat["a"] = analyze.LatencyReport(), {}
    for n in names:
        r = analyze.match_events(
            onsets("a", n) or ref_onsets[n],
            ev_a.get(systems["a"].ids[n], []),
            passage_ms=passage_ms,
            window=window(phase1),
        )
        per_cam_lat["a"][n] = r
        lat["a"].add(r)
    if "c" in systems:
        ev_c = systems["c"].events()
        lat["c"], per_cam_lat["c"] = analyze.LatencyReport(), {}
        for n in names:
            r = analyze.match_events(
                ref_onsets[n], [(t, t) for t in ev_c.get(n, [])], passage_ms=passage_ms, window=window(phase1)
            )
            per_cam_lat["c"][n] = r
            lat["c"].add(r)
    if scale_sys is not None:
        ev_d = scale_sys.events()
        lat["d"], per_cam_lat["d"] = analyze.LatencyReport(), {}
        for c in scale_sys.cams:
            r = analyze.match_events(
                onsets("d", c.name),
                ev_d.get(scale_sys.ids[c.name], []),
                passage_ms=passage_ms,
                window=window(phase2),
            )
            per_cam_lat["d"][c.name] = r
            lat["d"].add(r)

    # detectors
    def behind_summary(key: str, status: dict, sysobj) -> tuple[str, int, list]:
        if not sysobj.detect:
            return "n/a (detection off)", 0, []
        rows = []
        n_behind = 0
        for name, cam_id in sysobj.ids.items():
            b, max_lag, dropped = behind(status.get(cam_id, {}), args.lag_limit_ms)
            n_behind += b
            rows.append((name, b, max_lag, dropped))
        worst = max((r[2] for r in rows), default=0)
        return (
            f"{n_behind}/{len(rows)} (max lag {worst} ms, dropped {sum(r[3] for r in rows)})",
            n_behind,
            rows,
        )

    meas1 = phase1["measurement"]
    meas2 = phase2["measurement"] if phase2 else None
    res = {k: meas1.groups[k] for k in systems}
    if meas2:
        res["d"] = meas2.groups["d"]

    def lost_str(r: analyze.LossReport) -> str:
        s = f"{r.barcode_lost}"
        if r.barcode_dup:
            s += f" (+{r.barcode_dup} dup)"
        return s

    rows = []
    behind_info = {}
    for key in [*systems, *(["d"] if scale_sys is not None else [])]:
        g = res[key]
        label = LABELS[key].format(n=args.scale)
        sysobj = scale_sys if key == "d" else systems[key]
        if isinstance(sysobj, Porchlight):
            status = status2.get("d", {}) if key == "d" else status1.get(key, {})
            b_str, _n, b_rows = behind_summary(key, status, sysobj)
            behind_info[key] = (b_str, _n, b_rows, status)
        else:
            b_str = "-"
        latency = lat[key].summary() if key in lat else "-"
        rows.append(
            [
                label,
                fmt(g.cpu_per_cam, 2),
                fmt(g.cpu_median, 1),
                fmt(g.rss_per_cam_mb, 1),
                str(loss[key].frames),
                lost_str(loss[key]),
                str(loss[key].ts_gap_frames),
                latency,
                b_str,
            ]
        )
    headers = [
        "system",
        "CPU %/cam",
        "CPU % total",
        "RSS MB/cam",
        "frames recorded",
        "lost (barcode)",
        "lost (ts gaps)",
        "motion latency",
        "detectors behind",
    ]
    main_table = table(headers, rows)

    # targets
    targets = []
    cpu = {k: v.cpu_per_cam for k, v in res.items()}
    r1 = cpu["a'"] / cpu["b"] if cpu.get("b") else float("nan")
    targets.append(
        (
            "recording alone (a') <= 1.5x ffmpeg (b) CPU per camera",
            f"a'/b = {fmt(cpu[chr(97) + chr(39)], 2)}/{fmt(cpu['b'], 2)} = {fmt(r1, 2)}x",
            r1 <= TARGET_REC_VS_FFMPEG,
        )
    )
    if "c" in res:
        r2 = cpu["a"] / cpu["c"] if cpu["c"] else float("nan")
        targets.append(
            (
                "record + motion (a) <= 1.0x motion (c) CPU per camera",
                f"a/c = {fmt(cpu['a'], 2)}/{fmt(cpu['c'], 2)} = {fmt(r2, 2)}x",
                r2 <= TARGET_MOTION_VS_MOTIOND,
            )
        )
    if scale_sys is not None:
        b_str, n_behind, _rows, st = behind_info["d"]
        recv = sum((c.get("stats") or {}).get("packets_received", 0) for c in st.values())
        wrote = sum((c.get("stats") or {}).get("packets_written", 0) for c in st.values())
        ok = (
            loss["d"].barcode_lost == 0
            and loss["d"].ts_gap_frames == 0
            and n_behind == 0
            and not loss["d"].errors
        )
        targets.append(
            (
                f"{args.scale} cameras: 0 lost record packets, no detector behind",
                f"lost {loss['d'].barcode_lost} (barcode) / {loss['d'].ts_gap_frames} (ts), "
                f"received-written {recv - wrote}, behind {b_str}",
                ok,
            )
        )
    target_lines = [f"{'PASS' if ok else 'FAIL'}  {name}: {val}" for name, val, ok in targets]

    # per-camera details
    cam_rows = []
    for key in [k for k in ("a", "a'", "d") if k in behind_info]:
        sysobj = scale_sys if key == "d" else systems[key]
        _b, _n, b_rows, st = behind_info[key]
        for name, cam_id in sysobj.ids.items():
            s = (st.get(cam_id) or {}).get("stats") or {}
            det = s.get("detect") or {}
            lr = per_cam_loss[key][name]
            lt = per_cam_lat.get(key, {}).get(name)
            cam_rows.append(
                [
                    key,
                    name,
                    str(s.get("packets_received", "?")),
                    str(s.get("packets_written", "?")),
                    str(s.get("segments", "?")),
                    str(s.get("connects", "?")),
                    lost_str(lr),
                    str(lr.ts_gap_frames),
                    str(det.get("decoded", "?")),
                    str(det.get("analysed", "?")),
                    str(det.get("max_lag_ms", "?")),
                    str(det.get("dropped", "?")),
                    str(det.get("events", "?")),
                    lt.summary() if lt else "-",
                ]
            )
    for key in [k for k in ("b", "c") if k in systems]:
        for name in names:
            lr = per_cam_loss[key][name]
            lt = per_cam_lat.get(key, {}).get(name)
            cam_rows.append(
                [
                    key,
                    name,
                    "-",
                    str(lr.frames),
                    str(lr.files),
                    "-",
                    lost_str(lr),
                    str(lr.ts_gap_frames),
                    "-",
                    "-",
                    "-",
                    "-",
                    str(len(systems["c"].events().get(name, []))) if key == "c" else "-",
                    lt.summary() if lt else "-",
                ]
            )
    cam_table = table(
        [
            "sys",
            "camera",
            "pkts recv",
            "pkts written",
            "segments",
            "connects",
            "lost (barcode)",
            "lost (ts)",
            "det decoded",
            "det analysed",
            "max lag ms",
            "det dropped",
            "events",
            "latency",
        ],
        cam_rows,
    )

    # per-thread profile
    prof_sections = []
    for phase, keys in (
        (phase1, [k for k in systems if isinstance(systems[k], Porchlight)]),
        (phase2, ["d"] if phase2 else []),
    ):
        if phase is None:
            continue
        meas = phase["measurement"]
        for key in keys:
            pid = phase["porch_pids"][key]
            tcpu = meas.thread_cpu.get(pid, {})
            names_map = phase["thread_names"].get(key, {})
            cats = prof.by_category(tcpu, names_map)
            ncam = args.scale if key == "d" else len(cams)
            total_s = sum(v[1] for v in cats.values()) or 1e-9
            prow = [
                [
                    cat,
                    str(n),
                    fmt(100 * secs / meas.seconds, 2),
                    fmt(100 * secs / meas.seconds / ncam, 2),
                    fmt(100 * secs / total_s, 0),
                ]
                for cat, (n, secs) in cats.items()
            ]
            title = LABELS[key].format(n=args.scale).strip()
            sec = [
                f"#### {title}: CPU per thread group (from /proc, whole window)",
                "",
                table(["thread group", "threads", "CPU % of a core", "per camera", "share %"], prow),
            ]
            if not names_map:
                sec.append("\n(thread names unavailable: install py-spy to split record/detect threads)")
            spy = phase["pyspy"].get(key)
            if spy:
                sec.append("")
                sec.append(
                    f"py-spy ({args.profile_rate} Hz, {args.seconds:g} s): top Python frames per thread "
                    "group (self = the line that was running or calling into C; share of the group's "
                    "samples)"
                )
                for cat, d in spy.items():
                    if not d["samples"]:
                        continue
                    sec.append(f"- **{cat}** ({d['samples']} samples)")
                    for fr, n in d["self"][:6]:
                        sec.append(f"    - self {100 * n / d['samples']:.0f}%  `{fr}`")
                    for fr, n in d["inclusive"][:4]:
                        sec.append(f"    - incl {100 * n / d['samples']:.0f}%  `{fr}`")
            prof_sections.append("\n".join(sec))

    inf1 = meas1.groups[infra.label]
    notes = [
        f"machine-wide CPU (all processes, median of windows): side-by-side {fmt(meas1.system_median, 0)}% "
        f"of 200%" + (f", scale run {fmt(meas2.system_median, 0)}%" if meas2 else ""),
        f"loopback cameras (gst-rtsp-server relays + ffmpeg pushers): {fmt(inf1.cpu_median, 1)}% total in the "
        f"side-by-side run (not counted in any system)",
        f"CPU windows of {args.window:g} s: "
        + "; ".join(f"{k}: " + ", ".join(fmt(x, 1) for x in res[k].cpu_windows) for k in res),
    ]
    own = sum(meas1.groups[k].cpu_median for k in systems) + inf1.cpu_median
    other_load = meas1.system_median - own
    busy = other_load > 20
    notes.insert(
        0,
        f"other load on the machine during the side-by-side run (not the benchmark's): about "
        f"{fmt(other_load, 0)}% of a core" + (" - a BUSY machine: re-run on a quiet one" if busy else ""),
    )
    for ph in (phase1, phase2):
        if ph and ph["foreign_sockets"]:
            notes.append(
                "NETWORK RULE VIOLATION: sockets not on loopback: " + "; ".join(ph["foreign_sockets"])
            )
        if ph and ph["stopped_early"]:
            notes.append("exited before the end of the measurement: " + ", ".join(ph["stopped_early"]))
    for key, r in loss.items():
        if r.gaps:
            notes.append(f"{key}: where frames went missing: " + "; ".join(r.gaps[:6]))
        if r.ts_rewritten:
            notes.append(
                f"{key}: {r.ts_rewritten} of {r.files} files carry timestamps the recorder made up (frame "
                "interval differs from the source's), so timestamp gaps cannot show losses there; the "
                "barcode count still does"
            )
        if r.errors:
            notes.append(f"{key}: unreadable files: " + "; ".join(r.errors[:5]))
        if r.boundaries_unchecked:
            notes.append(f"{key}: {r.boundaries_unchecked} file boundaries without a readable keyframe")
    for key, lr in lat.items():
        if lr.other_events:
            notes.append(
                f"{key}: {lr.other_events} event(s) in the window not explained by a box passage (false alarms)"
            )
        if lr.start_offsets_ms:
            notes.append(
                f"{key}: event start - box onset: median {statistics.median(lr.start_offsets_ms):.0f} ms"
            )
    for key, s in [*systems.items(), *([("d", scale_sys)] if scale_sys is not None else [])]:
        if isinstance(s, Porchlight) and "retention deleted" in s.log_tail(10_000):
            notes.append(f"{key}: retention deleted segments during the run: lost-frame counts include them")
    a_det = info_a_detect_off(systems)
    if a_det:
        notes.append(a_det)

    head = (
        f"Porchlight benchmark - {len(cams)} loopback cameras ({BENCH_SPEC.width}x{BENCH_SPEC.height}@"
        f"{BENCH_SPEC.fps} H.264 Main {BENCH_SPEC.bitrate // 1000} kbit/s GOP {BENCH_SPEC.gop_s:g} s + "
        f"{BENCH_SPEC.sub_size[0]}x{BENCH_SPEC.sub_size[1]} {BENCH_SPEC.sub_bitrate // 1000} kbit/s sub), "
        f"{args.seconds:g} s measured after {args.warmup:g} s warm-up"
        + (f"; scale run {args.scale} cameras on {len(cams)} shared mounts" if phase2 else "")
        + (" [--quick]" if args.quick else "")
    )
    stdout = "\n".join(
        [
            head,
            "",
            main_table,
            "",
            *target_lines,
            "",
            "Per camera:",
            cam_table,
            "",
            *prof_sections,
            "",
            "Notes:",
            *[f"- {n}" for n in notes],
        ]
    )

    cmds = []
    for key, s in systems.items():
        cmds += [f"- ({key}) `{c}`" for c in s.commands]
    if scale_sys is not None:
        cmds += [f"- (d) `{c}`" for c in scale_sys.commands]
    md = "\n".join(
        [
            "# Porchlight benchmark results",
            "",
            f"- date: {info['date']}",
            f"- machine: {info['machine']}",
            f"- {info['load']}",
            "- versions: "
            + "; ".join(
                f"{k} {v}" if k in ("python",) else v
                for k, v in info.items()
                if k in ("python", "porchlight", "pyav", "opencv", "ffmpeg", "motion", "gstreamer")
            ),
            f"- py-spy: {info['py-spy']}",
            f"- run: `.venv/bin/python bench/run_bench.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
            *(
                [
                    f"- **taken on a busy machine** (other processes used about {fmt(other_load, 0)}% of a core "
                    "during the measurement): CPU figures are noisy"
                ]
                if busy
                else []
            ),
            "",
            "## Setup",
            "",
            head,
            "",
            "Cameras: pre-encoded clips (bench/benchclips.py, cached in bench/.cache) looped in real time by "
            "`ffmpeg -re -stream_loop -1 -c copy -f rtp` into gst-rtsp-server on 127.0.0.1 "
            "(tests/peers/rtsp_server.py, one server per camera, mounts main/sub, RTP over TCP only). "
            "CPU: utime+stime of each system's whole process tree from /proc (psutil), % of one core, median of "
            f"{args.window:g} s windows; RSS summed over the tree, median of windows, divided by cameras. "
            "Lost frames: keyframes decoded and their burned-in frame numbers read; between two keyframes "
            "`(b - a) mod loop - 1 - packets between` frames are missing (across segment boundaries too); "
            "ts gaps: missing frame intervals in the demuxed timestamps (within files, and across porchlight's "
            "segments of one connection). Motion latency: event `detected_ms` (porchlight's `event` table) or "
            "motion's on_event_start time, minus the wall time at which the box's first frame reached porchlight "
            "(segment start + pts of the frame whose barcode is the passage's first frame).",
            "",
            "Commands:",
            *cmds,
            "",
            "## Results",
            "",
            main_table,
            "",
            "### Targets",
            "",
            *[f"- {t}" for t in target_lines],
            "",
            "### Per camera",
            "",
            cam_table,
            "",
            "### Where porchlight's CPU goes",
            "",
            *[s + "\n" for s in prof_sections],
            "### Notes",
            "",
            *[f"- {n}" for n in notes],
            "",
        ]
    )
    return {"stdout": stdout, "markdown": md}


def info_a_detect_off(systems) -> str:
    if "a'" in systems:
        return (
            "(a') has detection off and no window open: nothing is decoded (the live view starts only "
            "when a tile asks for frames)"
        )
    return ""


def math_ceil(x: float) -> int:
    import math

    return math.ceil(x - 1e-9)


if __name__ == "__main__":
    sys.exit(main())
