"""Hub API benchmark: what a client of a recording hub sees, beside the floor of a bare socket.

    .venv/bin/python bench/api_bench.py [--cams 16] [--quick] [--results PATH]

The hub is this process, running what ``porchlight serve`` runs (``LocalHub`` + ``ApiServer`` on
``hub.sock``) while ``--cams`` cameras record in motion mode with detection on their sub stream
(loopback RTSP sources looping the bench clips, shared as in run_bench.py's scale run). Every client
is a process of its own (bench/api_client.py), as the app and the CLI are. It measures:

1. **round trip**: ``status()`` calls back to back from one client (16 cameras in each reply);
2. **event latency**: a synthetic publisher in the hub puts ``--rate`` events/s on the hub's bus
   (the same ``EventStarted`` the detector publishes); 4 subscriber processes (every notice kind, so
   the cameras' own notices flow too) note when each arrives: bus -> notice -> queue -> socket ->
   decoded in the client, on one clock (CLOCK_MONOTONIC);
3. **throughput**: the publisher steps its rate up; per step, what each subscriber received, what
   the hub dropped for it (the queue is bounded; a slow subscriber never stalls the hub), and the
   hub's CPU for it: the API's own threads (bus, connections) and the whole process above its
   baseline while recording, the publisher's own CPU left out.

The reference is the floor for the same exchange between the same processes: a bare length-prefixed
Unix socket, frames of the same sizes, no encoding, dispatch or queue bound (a thread in the hub
answers calls; one fan-out thread writes each event to every subscriber). Everything is on
127.0.0.1 or a Unix socket. A full run writes its section of bench/RESULTS.md (``--quick``
writes none unless ``--results`` is given).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for p in (str(BENCH), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

import api_client as client  # noqa: E402
import api_report  # noqa: E402
import monitor  # noqa: E402
import procs  # noqa: E402
import results as results_file  # noqa: E402
import run_bench  # noqa: E402
from benchclips import make_bench_clips  # noqa: E402

from hub.api import convert, wire  # noqa: E402
from hub.api import types as api  # noqa: E402
from hub.api.local import LocalHub  # noqa: E402
from hub.api.server import ApiServer  # noqa: E402
from hub.core import bus, model  # noqa: E402
from hub.core.times import now_ms  # noqa: E402
from tests.support.rtsp import RtspCamera  # noqa: E402

CLIENT = BENCH / "api_client.py"
#: The threads that do the API's work in the hub (the bus thread also carries the hub's own events).
API_THREADS = ("porchlight-bus", "porchlight-api")
BARE_THREADS = ("bench-bare",)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- CPU -------------------------------------------------------------------------------------------------
class Meter:
    """CPU of one phase: the whole process, the publisher (this thread) and the named threads."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.wall = time.monotonic()
        self.proc = time.process_time()
        self.pub = time.thread_time()
        self.named = monitor.threads_cpu(prefixes)

    def done(self, baseline_pct: float) -> dict[str, float]:
        wall = time.monotonic() - self.wall
        pub = time.thread_time() - self.pub
        named = monitor.threads_cpu(self.prefixes) - self.named
        proc = time.process_time() - self.proc - pub
        return {
            "wall_s": wall,
            "publisher_s": pub,
            "api_pct": 100 * named / wall,
            "extra_pct": 100 * proc / wall - baseline_pct,
            "api_s": named,
        }


# -- the reference: a bare socket ------------------------------------------------------------------------
class BareServer:
    """Calls answered with a fixed reply, and events fanned out by one thread, on two Unix sockets."""

    def __init__(self, folder: Path, reply_size: int, notice_size: int) -> None:
        self.rtt_path, self.fan_path = str(folder / "rtt.sock"), str(folder / "fan.sock")
        self._reply = wire.frame(bytes(reply_size))
        self._pad = bytes(max(0, notice_size - client.SEQ.size))
        self._subscribers: list[socket.socket] = []
        self._events: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._sockets: list[socket.socket] = []
        for path, serve in ((self.rtt_path, self._answer), (self.fan_path, self._subscribers.append)):
            lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lsock.bind(path)
            os.chmod(path, 0o600)
            lsock.listen()
            self._sockets.append(lsock)
            threading.Thread(
                target=self._accept, args=(lsock, serve), name="bench-bare-accept", daemon=True
            ).start()
        self._fan = threading.Thread(target=self._fan_out, name="bench-bare-fanout", daemon=True)
        self._fan.start()

    def publish(self, seq: int) -> None:
        self._events.put(seq)

    def subscribers(self) -> int:
        return len(self._subscribers)

    def _accept(self, lsock: socket.socket, serve: Callable[[socket.socket], None]) -> None:
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            self._sockets.append(conn)
            serve(conn)

    def _answer(self, conn: socket.socket) -> None:
        def run() -> None:
            try:
                while True:
                    client._read_frame(conn)
                    conn.sendall(self._reply)
            except (EOFError, OSError):
                return

        threading.Thread(target=run, name="bench-bare-rtt", daemon=True).start()

    def _fan_out(self) -> None:
        while (seq := self._events.get()) is not None:
            frame = wire.frame(client.SEQ.pack(seq) + self._pad)
            for conn in list(self._subscribers):
                try:
                    conn.sendall(frame)
                except OSError:
                    self._subscribers.remove(conn)

    def close(self) -> None:
        self._events.put(None)
        self._fan.join(10)
        for s in self._sockets:
            s.close()


# -- clients ---------------------------------------------------------------------------------------------
_clients: list[subprocess.Popen[str]] = []


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(CLIENT), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=procs._child_setup,  # noqa: PLW1509 - the client dies with the bench
        start_new_session=True,
    )
    _clients.append(proc)
    return proc


def read_json(proc: subprocess.Popen[str]) -> object:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"a client (pid {proc.pid}) ended early with {proc.wait(10)}: see its stderr")
    return json.loads(line)


def round_trip(args: list[str]) -> list[float]:
    proc = spawn("rtt", *args)
    try:
        ns = read_json(proc)["ns"]  # type: ignore[index]
    finally:
        proc.wait(30)
    return [x / 1e6 for x in ns]


class Listeners:
    """``n`` subscriber processes; each phase ends with a negative sequence number."""

    def __init__(self, n: int, args: list[str], ready: Callable[[], bool]) -> None:
        self.procs = [spawn("listen", *args) for _ in range(n)]
        for p in self.procs:
            if read_json(p) != "ready":
                raise RuntimeError("a subscriber did not start")
        deadline = time.monotonic() + 10
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not see every subscriber")
            time.sleep(0.01)

    def phase(self, publish: Callable[[int], None], phase: int) -> list[dict]:
        publish(-phase)
        return [read_json(p) for p in self.procs]  # type: ignore[misc]

    def close(self, publish: Callable[[int], None]) -> None:
        publish(client.END)
        for p in self.procs:
            read_json(p)
            p.wait(30)


def paced(publish: Callable[[int], None], count: int, rate: float) -> list[int]:
    """Publish sequence numbers 0..count-1 at ``rate`` per second (0: as fast as it goes); their
    times (CLOCK_MONOTONIC ns)."""
    stamps = []
    period = 1e9 / rate if rate else 0.0
    t0 = time.monotonic_ns()
    for i in range(count):
        if period:
            while (wait := t0 + i * period - time.monotonic_ns()) > 0:
                time.sleep(wait / 1e9)
        stamps.append(time.monotonic_ns())
        publish(i)
    return stamps


# -- the run ---------------------------------------------------------------------------------------------
def bench_event(seq: int, camera_id: str) -> model.Event:
    """An event as the detector makes it, its id the sequence number, its ``source`` "bench"."""
    at = now_ms()
    return model.Event(
        seq, camera_id, "motion", at, None, 0.18, ("driveway",), "events/bench.jpg", "bench", at
    )


def synthetic(hub: LocalHub, camera_id: str) -> Callable[[int], None]:
    """The synthetic publisher: puts one event on the hub's bus, as the detector does."""
    publish = hub.hub.bus.publish
    return lambda seq: publish(bus.EventStarted(bench_event(seq, camera_id)))


def sizes(hub: LocalHub, camera_id: str) -> tuple[int, int]:
    """The encoded sizes of a status reply and of one synthetic event's notice, for the reference."""
    status = wire.encode(wire.Reply(id=1, value=wire.raw(hub.status())))
    shown = convert.event(bench_event(1, camera_id), "s01", hub.hub.data.root)
    notice = wire.encode(wire.Published(id=1, value=wire.raw(api.EventStarted(at_ms=now_ms(), event=shown))))
    return len(status), len(notice)


def health(hub: LocalHub) -> list[dict]:
    """Each camera's state and counters (the detector's are totals since it started)."""
    return [
        {
            "name": c.name,
            "state": c.state,
            **{k: c.stats.get(k) for k in ("connects", "packets_received", "packets_written")},
            "detect": c.stats.get("detect") or {},
        }
        for c in hub.status().cameras
    ]


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cams", type=int, default=16, help="cameras recording meanwhile (default 16)")
    ap.add_argument(
        "--sources", type=int, default=4, help="loopback RTSP sources they share (default 4; 0: demo cameras)"
    )
    ap.add_argument("--subscribers", type=int, default=4)
    ap.add_argument("--calls", type=int, default=2000, help="status() calls measured (default 2000)")
    ap.add_argument("--events", type=int, default=3000, help="events of the latency run (default 3000)")
    ap.add_argument("--rate", type=float, default=200.0, help="events/s of the latency run (default 200)")
    ap.add_argument(
        "--steps", default="1000,2000,5000,10000,15000,20000,40000", help="throughput rates, events/s"
    )
    ap.add_argument("--step-seconds", type=float, default=4.0)
    ap.add_argument("--baseline", type=float, default=20.0, help="seconds of recording alone measured first")
    ap.add_argument("--queue", type=int, default=256, help="each subscriber's queue (the API's default)")
    ap.add_argument("--quick", action="store_true", help="a short smoke run (4 cameras, fewer calls)")
    ap.add_argument("--results", type=Path, help="the report (default bench/RESULTS.md; --quick: none)")
    args = ap.parse_args(argv)
    if args.quick:
        args.cams, args.sources, args.calls, args.events = min(args.cams, 4), min(args.sources, 1), 300, 400
        args.steps, args.step_seconds, args.baseline = "2000,20000", 1.5, 3.0
    elif args.results is None:
        args.results = BENCH / "RESULTS.md"
    args.rates = [float(x) for x in args.steps.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    info = run_bench.machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="porchlight-apibench-"))
    cameras: list[RtspCamera] = []
    hub = server = bare = None
    try:
        if args.sources:
            clips = make_bench_clips()
            cameras = [
                RtspCamera(clips, workdir / "peers" / f"src{i + 1}").start() for i in range(args.sources)
            ]
        data_dir = workdir / "data"
        hub = LocalHub.start(data_dir)
        for i in range(args.cams):
            name = f"s{i + 1:02d}"
            if cameras:
                src = cameras[i % len(cameras)]
                new = api.NewCamera(name=name, url=src.url, sub_url=src.sub_url, mode="motion")
            else:
                new = api.NewCamera(name=name, driver="demo", mode="motion")
            hub.add_camera(new)
        server = ApiServer(hub, data_dir, started_ms=hub.hub.started_ms).start()
        log(
            f"{args.cams} cameras from {len(cameras) or 'no'} loopback sources; hub on {data_dir / 'hub.sock'}"
        )
        deadline = time.monotonic() + 60
        while sum(c.state == "recording" for c in hub.status().cameras) < args.cams:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every camera records: {[c.state for c in hub.status().cameras]}")
            time.sleep(0.5)
        camera_id = hub.status().cameras[0].camera_id
        reply_size, notice_size = sizes(hub, camera_id)
        bare = BareServer(workdir, reply_size, notice_size)
        time.sleep(min(5.0, args.baseline))  # detectors learn their background
        log(f"baseline: recording alone for {args.baseline:g} s")
        m = Meter(API_THREADS)
        time.sleep(args.baseline)
        base = m.done(0.0)
        baseline_pct = base["extra_pct"]
        results: dict = {"baseline_pct": baseline_pct, "baseline_api_pct": base["api_pct"]}
        results["sizes"] = (reply_size, notice_size)

        log(f"round trip: {args.calls} status() calls, then as many bare ones")
        warm = max(50, args.calls // 10)
        results["rtt"] = {
            "porchlight": sorted(round_trip(["porchlight", str(data_dir), str(args.calls), str(warm)])),
            "bare": sorted(round_trip(["bare", bare.rtt_path, str(args.calls), str(warm), str(reply_size)])),
        }

        systems = {
            "porchlight": (
                synthetic(hub, camera_id),
                ["porchlight", str(data_dir), str(args.queue)],
                lambda: True,  # a client is ready once subscribe() has returned
                API_THREADS,
            ),
            "bare": (
                bare.publish,
                ["bare", bare.fan_path],
                lambda: bare.subscribers() >= args.subscribers,
                BARE_THREADS,
            ),
        }
        for name, (publish, cargs, ready, threads) in systems.items():
            log(f"{name}: {args.subscribers} subscribers; {args.events} events at {args.rate:g}/s")
            listeners = Listeners(args.subscribers, cargs, ready)
            try:
                m = Meter(threads)
                stamps = paced(publish, args.events, args.rate)
                got = listeners.phase(publish, 1)
                results[f"latency_{name}"] = {**api_report.latency(stamps, got), **m.done(baseline_pct)}
                dropped = [g["dropped"] for g in got]
                steps = []
                for k, rate in enumerate(args.rates, start=2):
                    log(f"{name}: {rate:g} events/s for {args.step_seconds:g} s")
                    m = Meter(threads)
                    stamps = paced(publish, int(rate * args.step_seconds), rate)
                    got = listeners.phase(publish, k)
                    steps.append(
                        {"rate": rate, **api_report.throughput(stamps, got, dropped), **m.done(baseline_pct)}
                    )
                    dropped = [g["dropped"] for g in got]
                    time.sleep(1.0)
                results[f"steps_{name}"] = steps
            finally:
                listeners.close(publish)
            results[f"cameras_after_{name}"] = health(hub)
        text, markdown = api_report.build(args, info, results)
        print(text)
        if args.results:
            results_file.write_section(args.results, "hub-api", markdown)
            log(f"wrote {args.results}")
        return 0
    finally:
        if bare is not None:
            bare.close()
        if server is not None:
            server.stop_accepting()
        if hub is not None:
            hub.close()
        if server is not None:
            server.close()
        for proc in _clients:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for c in cameras:
            c.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
