"""CPU and memory of process trees from /proc (psutil), in fixed windows.

CPU % is of one core (100 = one core busy; a 2-core machine tops out at 200). A tree's CPU time is
user + system of every live process in it plus the times of children it has already reaped, so a
short-lived helper (motion's on_event_start script) is counted and nothing is counted twice. Per
thread CPU (``/proc/PID/task``) is kept for the processes asked for, over the whole measurement.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil


@dataclasses.dataclass
class Group:
    """A system under test: the roots of its process trees, and how many cameras it handles."""

    label: str
    pids: Sequence[int]
    cams: int = 1


@dataclasses.dataclass
class GroupResult:
    label: str
    cams: int
    cpu_windows: list[float]  # % of one core, whole group, per window
    rss_windows: list[float]  # bytes, whole group, per window

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_windows) if self.cpu_windows else float("nan")

    @property
    def cpu_per_cam(self) -> float:
        return self.cpu_median / max(1, self.cams)

    @property
    def rss_per_cam_mb(self) -> float:
        if not self.rss_windows:
            return float("nan")
        return statistics.median(self.rss_windows) / max(1, self.cams) / 2**20


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_rss(pids: Sequence[int]) -> tuple[float, float]:
    cpu = rss = 0.0
    for pid in pids:
        for p in _tree(pid):
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    cpu += t.user + t.system + t.children_user + t.children_system
                    rss += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
    return cpu, rss


def system_busy() -> tuple[float, float]:
    t = psutil.cpu_times()
    busy = t.user + t.system + t.nice + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
    return busy, sum(t)


def threads_cpu(prefixes: tuple[str, ...]) -> float:
    """CPU seconds so far of this process's threads whose names start with one of ``prefixes``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for t in threading.enumerate():
        if t.native_id is None or not t.name.startswith(prefixes):
            continue
        try:
            stat = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(stat[11]) + int(stat[12])) / tick
    return total


def thread_times(pid: int) -> dict[int, float]:
    """CPU seconds of every thread of one process, by OS thread id."""
    try:
        return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}
    except psutil.NoSuchProcess:
        return {}


@dataclasses.dataclass
class Measurement:
    groups: dict[str, GroupResult]
    system_windows: list[float]  # whole machine, % of one core
    seconds: float
    thread_cpu: dict[int, dict[int, float]]  # pid -> tid -> CPU seconds during the measurement

    @property
    def system_median(self) -> float:
        return statistics.median(self.system_windows) if self.system_windows else float("nan")


def measure(
    groups: Sequence[Group],
    seconds: float,
    window: float = 10.0,
    *,
    thread_pids: Sequence[int] = (),
    on_window: Callable[[int, str], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Measurement:
    """Sample every ``window`` seconds for ``seconds``; per-thread times of ``thread_pids``."""
    last = {g.label: cpu_rss(g.pids)[0] for g in groups}
    th0 = {pid: thread_times(pid) for pid in thread_pids}
    s_last = system_busy()
    results = {g.label: GroupResult(g.label, g.cams, [], []) for g in groups}
    system: list[float] = []
    n_windows = max(1, round(seconds / window))
    t_start = t_last = time.monotonic()
    for i in range(n_windows):
        target = t_start + (i + 1) * window
        while (now := time.monotonic()) < target:
            if should_stop():
                break
            time.sleep(min(0.5, target - now))
        if should_stop():
            break
        now = time.monotonic()
        dt = now - t_last
        parts = []
        for g in groups:
            cpu, rss = cpu_rss(g.pids)
            r = results[g.label]
            r.cpu_windows.append(100.0 * (cpu - last[g.label]) / dt)
            r.rss_windows.append(rss)
            last[g.label] = cpu
            parts.append(f"{g.label}={r.cpu_windows[-1]:.1f}%")
        s = system_busy()
        system.append(100.0 * (s[0] - s_last[0]) / max(1e-9, s[1] - s_last[1]) * psutil.cpu_count())
        s_last = s
        t_last = now
        parts.append(f"machine={system[-1]:.0f}%")
        if on_window:
            on_window(i + 1, " ".join(parts))
    th1 = {pid: thread_times(pid) for pid in thread_pids}
    thread_cpu = {
        pid: {tid: th1[pid][tid] - th0[pid].get(tid, 0.0) for tid in th1[pid]} for pid in thread_pids
    }
    return Measurement(results, system, time.monotonic() - t_start, thread_cpu)
