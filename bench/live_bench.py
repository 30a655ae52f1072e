"""Live-view benchmark: 16 cameras watched by one client, as the desktop app watches them.

    .venv/bin/python bench/live_bench.py [--cams 16] [--quick] [--results PATH]

The hub is a ``porchlight serve`` process; ``--cams`` cameras (640x360 15 fps sub streams of
``--sources`` loopback RTSP sources of the bench clips, 1080p main streams recorded) record in
motion mode, then in continuous mode with detection off. The client is the desktop app's main
window (``ui.main_window``, Qt offscreen, its grid at ``--size``) in a process of its own
(bench/live_client.py). Each run alternates windows with the tiles hidden (the app ends its live
views) and shown, ``--cycles`` times, so the hub's CPU for serving the tiles is the difference of
neighbouring windows, not of runs minutes apart. It measures:

* **frames per tile**: distinct pictures each tile showed per second, beside what the hub wrote
  into its slot (the camera's rate), and how old a picture was when shown;
* **the hub's extra CPU** for the tiles (whole process, shown minus hidden); and the cost per frame
  of the hub's copy into a slot, measured alone in this process;
* **the client's CPU**: the process, its GUI thread and its frame worker.

Beside the app, on the same hub: the floor of this design (a bare client that copies each new
frame out of its slot and does nothing else), and the reference without a hub's slots: one ffmpeg
per sub stream decoding it and scaling it to a tile (what a grid of players pays). A full run takes
about 8 minutes and writes its section of bench/RESULTS.md (``--quick`` writes none unless
``--results`` is given). Everything is on 127.0.0.1 or a Unix socket.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for p in (str(BENCH), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

import live_report  # noqa: E402
import monitor  # noqa: E402
import procs  # noqa: E402
import results as results_file  # noqa: E402
import run_bench  # noqa: E402
from benchclips import make_bench_clips  # noqa: E402

from hub.api import types as api  # noqa: E402
from hub.api.client import SocketHub  # noqa: E402
from hub.housekeeper import HEARTBEAT_S  # noqa: E402
from hub.pipeline.camera import PREVIEW_IDLE_S  # noqa: E402
from tests.support.rtsp import RtspCamera  # noqa: E402

CLIENT = BENCH / "live_client.py"
SETTLE_S = 2.0  # after hiding or showing, before a window is measured


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_s(*pids: int) -> float:
    """CPU seconds so far of these processes and their children."""
    return monitor.cpu_rss(pids)[0]


def machine_s() -> float:
    """CPU seconds so far of the whole machine, every core."""
    return monitor.system_busy()[0]


# -- the hub ---------------------------------------------------------------------------------------------
class Hub:
    """``porchlight serve`` on a data dir of its own, and the API to set it up."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        env = {**procs.bench_env(), "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "serve"]
        self.child = procs.Child("hub", cmd, data_dir.parent / "serve.log", env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api = SocketHub.open(data_dir)
                break
            except Exception:
                if time.monotonic() > deadline or not self.child.alive():
                    raise RuntimeError(f"the hub did not start; see {self.child.log_path}") from None
                time.sleep(0.2)

    def wait_recording(self, n: int) -> None:
        deadline = time.monotonic() + 90
        while sum(c.state == "recording" for c in self.api.status().cameras) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not every camera records: {[c.state for c in self.api.status().cameras]}"
                )
            time.sleep(0.5)

    def health(self) -> dict[str, Any]:
        cams = self.api.status().cameras
        return {
            "recording": sum(c.state == "recording" for c in cams),
            "cams": len(cams),
            "connects": sum(int(c.stats.get("connects") or 0) for c in cams),
            "detect_dropped": sum(int((c.stats.get("detect") or {}).get("dropped") or 0) for c in cams),
        }

    def close(self) -> None:
        self.api.close()
        procs.stop([self.child], 60)


# -- clients ---------------------------------------------------------------------------------------------
class Client:
    """bench/live_client.py: commands on stdin, one JSON line back for each."""

    def __init__(self, *args: str) -> None:
        env = {**procs.bench_env(), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, str(CLIENT), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=procs._child_setup,  # noqa: PLW1509 - the client dies with the bench
            start_new_session=True,
        )
        self.cams = self._read()["ready"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the client (pid {self.proc.pid}) ended early with {self.proc.wait(10)}")
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def window(hub_pid: int, client: Client | None, seconds: float) -> dict[str, Any]:
    """One measured window: the hub's and the machine's CPU, and the client's figures."""
    a = client.ask("sample") if client else None
    h0, m0, t0 = cpu_s(hub_pid), machine_s(), time.monotonic()
    time.sleep(seconds)
    b = client.ask("sample") if client else None
    dt = time.monotonic() - t0
    out: dict[str, Any] = {
        "s": dt,
        "hub_pct": 100 * (cpu_s(hub_pid) - h0) / dt,
        "machine_pct": 100 * (machine_s() - m0) / dt,
    }
    if a is not None and b is not None:
        cdt = b["t"] - a["t"]
        out["client"] = {k: 100 * (b["cpu"][k] - a["cpu"][k]) / cdt for k in b["cpu"]}
        out["tiles"] = {
            cam: {
                "shown_fps": (c["shown"] - a["cams"].get(cam, {}).get("shown", 0)) / cdt,
                "images_fps": (c["images"] - a["cams"].get(cam, {}).get("images", 0)) / cdt,
                "written_fps": (c["last_seq"] - a["cams"].get(cam, {}).get("last_seq", c["first_seq"])) / cdt,
            }
            for cam, c in b["cams"].items()
        }
        out["ages"] = b["ages"]
    return out


def cycles(hub: Hub, client: Client, n: int, seconds: float, hidden_settle: float) -> list[dict[str, Any]]:
    """``n`` pairs of windows: tiles hidden (measured ``hidden_settle`` s later), then shown."""
    out = []
    for i in range(n):
        client.ask("hide")
        time.sleep(hidden_settle)
        off = window(hub.child.pid, client, seconds)
        shown = client.ask("show")
        if shown["shown"] < shown["of"]:
            raise RuntimeError(f"only {shown['shown']} of {shown['of']} tiles showed a frame")
        time.sleep(SETTLE_S)
        on = window(hub.child.pid, client, seconds)
        log(
            f"  cycle {i + 1}/{n}: hub {off['hub_pct']:.1f}% hidden, {on['hub_pct']:.1f}% shown; client "
            f"{on['client']['process']:.1f}%; tiles {live_report.median_fps(on):.1f} fps"
        )
        out.append({"off": off, "on": on})
    return out


def ffmpeg_reference(hub: Hub, subs: list[str], width: int, n: int, seconds: float, logs: Path) -> dict:
    """One ffmpeg per sub stream decoding it and scaling it to a tile in RGB (no hub slots)."""
    children = [
        procs.Child(
            f"ffmpeg{i}",
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-an"]
            + ["-vf", f"scale={width}:-2,format=rgb24", "-f", "null", "-"],
            logs / f"ffmpeg{i}.log",
        )
        for i, url in enumerate(subs)
    ]
    try:
        time.sleep(SETTLE_S + 2)
        wins = []
        for _ in range(n):
            c0, h0, m0, t0 = (
                cpu_s(*(c.pid for c in children)),
                cpu_s(hub.child.pid),
                machine_s(),
                time.monotonic(),
            )
            time.sleep(seconds)
            dt = time.monotonic() - t0
            wins.append(
                {
                    "client": {"process": 100 * (cpu_s(*(c.pid for c in children)) - c0) / dt},
                    "hub_pct": 100 * (cpu_s(hub.child.pid) - h0) / dt,
                    "machine_pct": 100 * (machine_s() - m0) / dt,
                    "alive": sum(c.alive() for c in children),
                }
            )
        return {"windows": wins, "procs": len(children)}
    finally:
        procs.stop(children, 10)


def copy_cost(clips: Any, workdir: Path, cams: int, frames_n: int) -> dict[str, float]:
    """The hub's copy of a decoded sub-stream frame into a slot (SlotSink.put), alone on one thread:
    us per frame, the frames going round ``cams`` slots (``clips`` None: 640x360 pictures of noise,
    as the demo camera's)."""
    import av
    import numpy as np

    from hub.api import frames
    from hub.api.live import SlotSink

    if clips is None:
        noise = np.random.default_rng(1).integers(0, 255, (540, 640), np.uint8)
        pictures = [av.VideoFrame.from_ndarray(noise, format="yuv420p")]
    else:
        with av.open(str(clips.sub_ts)) as f:
            pictures = [fr for _, fr in zip(range(240), f.decode(video=0), strict=False)]
    sinks = [
        SlotSink(frames.slot_path(workdir / "micro", f"cam{i}", "detect"), "detect") for i in range(cams)
    ]
    try:
        for i, sink in enumerate(sinks):  # each slot's pages touched once, as a running view's are
            sink.put(pictures[i % len(pictures)], 0)
        t0, c0 = time.perf_counter(), time.thread_time()
        for i in range(frames_n):
            sinks[i % cams].put(pictures[i % len(pictures)], i)
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    finally:
        for sink in sinks:
            sink.close()
    w, h = pictures[0].width, pictures[0].height
    return {"us_wall": 1e6 * wall / frames_n, "us_cpu": 1e6 * cpu / frames_n, "width": w, "height": h}


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cams", type=int, default=16)
    ap.add_argument(
        "--sources", type=int, default=4, help="loopback RTSP sources the cameras share (0: demo cameras)"
    )
    ap.add_argument("--cycles", type=int, default=3, help="hidden/shown window pairs per client")
    ap.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help="each measured window (20: one passage of the clip per window)",
    )
    ap.add_argument("--size", default="1600x1000", help="the app window (its grid's tiles follow)")
    ap.add_argument("--modes", default="motion,continuous")
    ap.add_argument("--no-ffmpeg", action="store_true", help="skip the ffmpeg reference")
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--results", type=Path, help="the report (default bench/RESULTS.md; --quick: none)")
    args = ap.parse_args(argv)
    if args.quick:
        args.cams, args.sources, args.cycles, args.seconds = min(args.cams, 4), min(args.sources, 1), 2, 3.0
    elif args.results is None:
        args.results = BENCH / "RESULTS.md"
    args.width, args.height = (int(x) for x in args.size.split("x"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    info = run_bench.machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="porchlight-livebench-"))
    sources: list[RtspCamera] = []
    hub: Hub | None = None
    clients: list[Client] = []
    results: dict[str, Any] = {}
    try:
        clips = make_bench_clips() if args.sources else None
        results["copy"] = copy_cost(clips, workdir, args.cams, 4800)
        log(f"the hub's copy of a frame into a slot, alone: {results['copy']['us_cpu']:.0f} us")
        sources = [RtspCamera(clips, workdir / "peers" / f"src{i + 1}").start() for i in range(args.sources)]
        hub = Hub(workdir / "data")
        subs = []
        for i in range(args.cams):
            name = f"s{i + 1:02d}"
            if not sources:
                hub.api.add_camera(api.NewCamera(name=name, driver="demo", mode="motion"))
                continue
            src = sources[i % len(sources)]
            hub.api.add_camera(api.NewCamera(name=name, url=src.url, sub_url=src.sub_url, mode="motion"))
            subs.append(src.sub_url)
        hub.wait_recording(args.cams)
        log(f"{args.cams} cameras record from {len(sources)} loopback sources")
        for mode in args.modes.split(","):
            if mode == "continuous":
                for cam in hub.api.cameras():
                    hub.api.update_camera(cam.id, api.CameraChange(mode="continuous", detect=False))
                time.sleep(3)
                hub.wait_recording(args.cams)
            time.sleep(5)  # detectors learn their background
            # In continuous mode the hub decodes a sub stream only for its tiles; a camera's decoder
            # goes once it has shown nothing for PREVIEW_IDLE_S, at the next heartbeat.
            settle = SETTLE_S if mode == "motion" else PREVIEW_IDLE_S + HEARTBEAT_S + SETTLE_S
            kinds = [("app", ["app", str(hub.data_dir), str(args.width), str(args.height)])]
            if mode == "motion":  # the floor: what any client of the slots costs the hub
                kinds.append(("floor", ["bare", str(hub.data_dir)]))
            for kind, cargs in kinds:
                log(f"{mode}: the {kind} client, {args.cycles} cycles of {args.seconds:g} s hidden / shown")
                client = Client(*cargs)
                clients.append(client)
                try:
                    results[f"{mode}/{kind}"] = {
                        "cycles": cycles(hub, client, args.cycles, args.seconds, settle)
                    }
                finally:
                    client.close()
            results[f"{mode}/health"] = hub.health()
        if subs and not args.no_ffmpeg:
            log(f"reference: {len(subs)} ffmpeg decoding a sub stream each")
            results["reference"] = ffmpeg_reference(
                hub, subs, 400, args.cycles, args.seconds, workdir / "ffmpeg"
            )
        text, markdown = live_report.build(args, info, results)
        print(text)
        if args.results:
            results_file.write_section(args.results, "live-view", markdown)
            log(f"wrote {args.results}")
        return 0
    finally:
        for c in clients:
            c.close()
        if hub is not None:
            hub.close()
        for s in sources:
            s.close()
        procs.stop_all(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
