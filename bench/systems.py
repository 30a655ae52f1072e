"""The systems under test, each recording the same loopback cameras.

* :class:`Porchlight` - ``porchlight serve`` with its own ``--data-dir``, cameras added by the CLI.
* :class:`FfmpegSegmenters` - one ``ffmpeg -rtsp_transport tcp -i MAIN -c copy -f segment`` per camera.
* :class:`MotionDaemon` - Debian's ``motion`` (4.5.x): one camera config per camera, detection on the
  sub stream (``netcam_url``), passthrough recording of the main stream (``netcam_high_url``), no
  web control or stream ports (nothing listens), event start times logged by ``on_event_start``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import sqlite3
import stat
import sys
import time
from pathlib import Path

from procs import Child, bench_env, run

PORCHLIGHT = str(Path(sys.executable).parent / "porchlight")


@dataclasses.dataclass(frozen=True)
class CamUrls:
    name: str
    url: str
    sub_url: str
    source: int  # which loopback camera (RtspCamera) serves it


class Porchlight:
    """One hub instance (``porchlight serve``) in its own data dir."""

    def __init__(
        self, label: str, workdir: Path, cams: list[CamUrls], *, mode: str, detect: bool, use_sub: bool = True
    ) -> None:
        self.label = label
        self.data_dir = workdir / label
        self.cams = cams
        self.mode = mode
        self.detect = detect
        self.use_sub = use_sub
        self.child: Child | None = None
        self.ids: dict[str, str] = {}  # camera name -> id
        self.detect_setting = "cameras add --detect yes" if detect else "cameras add --detect no"
        self.commands: list[str] = []

    def _cli(self, *args: str, check: bool = True):
        cmd = [PORCHLIGHT, "--data-dir", str(self.data_dir), *args]
        return run(cmd, check=check, env=bench_env())

    def setup(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for c in self.cams:
            args = [
                "cameras",
                "add",
                c.name,
                "--url",
                c.url,
                "--mode",
                self.mode,
                "--detect",
                "yes" if self.detect else "no",
            ]
            if self.use_sub:
                args += ["--sub-url", c.sub_url]
            self._cli(*args)
        self.commands.append(
            f"porchlight --data-dir DIR cameras add NAME --url MAIN --sub-url SUB "
            f"--mode {self.mode} --detect {'yes' if self.detect else 'no'}"
        )
        cams = json.loads(self._cli("cameras", "list", "--json").stdout)
        self.ids = {c["name"]: c["id"] for c in cams}

    def start(self, cap_s: float) -> None:
        # --duration is only a safety net: the benchmark stops it with SIGTERM.
        args = [PORCHLIGHT, "--data-dir", str(self.data_dir), "serve", "--duration", f"{cap_s:.0f}"]
        self.commands.append("porchlight --data-dir DIR serve")
        self.child = Child(
            self.label, args, self.data_dir / "serve.log", stop_signal=signal.SIGTERM, env=bench_env()
        )

    @property
    def pids(self) -> list[int]:
        return [self.child.pid] if self.child else []

    def children(self) -> list[Child]:
        return [self.child] if self.child else []

    def status(self) -> dict:
        """``status --json`` (after the hub stopped: its final counters)."""
        res = self._cli("status", "--json", check=False)
        try:
            return json.loads(res.stdout)
        except ValueError:
            return {"error": res.stderr.strip()}

    def db_rows(self, sql: str) -> list[tuple]:
        db = self.data_dir / "porchlight.db"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def events(self) -> dict[str, list[tuple[float, float]]]:
        """camera id -> [(start_ms, detected_ms)] of motion events."""
        out: dict[str, list[tuple[float, float]]] = {}
        for cam, start, detected in self.db_rows(
            "SELECT camera_id, start_ms, detected_ms FROM event WHERE kind='motion' ORDER BY start_ms"
        ):
            out.setdefault(cam, []).append((float(start), float(detected)))
        return out

    def segment_files(self, cam_id: str) -> list[Path]:
        """The camera's segment files in time order (from disk: the index may lag or be pruned)."""
        root = self.data_dir / "recordings" / cam_id
        return sorted(root.rglob("*.mp4"), key=lambda p: p.relative_to(root).as_posix())

    def indexed_segments(self) -> int:
        return int(self.db_rows("SELECT count(*) FROM segment")[0][0])

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.child.log_path.read_text(errors="replace").splitlines()[-n:])
        except (OSError, AttributeError):
            return ""


class FfmpegSegmenters:
    """The reference recorder: ffmpeg stream copy into 10 s segments, one process per camera."""

    def __init__(self, label: str, workdir: Path, cams: list[CamUrls]) -> None:
        self.label = label
        self.dir = workdir / label
        self.cams = cams
        self.procs: list[Child] = []
        self.commands = [
            "ffmpeg -hide_banner -loglevel error -nostdin -rtsp_transport tcp -i MAIN -map 0:v "
            "-c copy -f segment -segment_time 10 -reset_timestamps 1 OUT/%05d.mp4"
        ]

    def setup(self) -> None:
        for c in self.cams:
            (self.dir / c.name).mkdir(parents=True, exist_ok=True)

    def start(self, cap_s: float) -> None:
        for c in self.cams:
            args = [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-rtsp_transport",
                "tcp",
                "-i",
                c.url,
                "-map",
                "0:v",
                "-c",
                "copy",
                "-t",
                f"{cap_s:.0f}",
                "-f",
                "segment",
                "-segment_time",
                "10",
                "-reset_timestamps",
                "1",
                str(self.dir / c.name / "%05d.mp4"),
            ]
            # SIGINT: ffmpeg finishes the open segment (writes its moov) and exits.
            self.procs.append(
                Child(f"{self.label}-{c.name}", args, self.dir / f"{c.name}.log", stop_signal=signal.SIGINT)
            )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def children(self) -> list[Child]:
        return list(self.procs)

    def files(self, cam: str) -> list[Path]:
        return sorted((self.dir / cam).glob("*.mp4"))


_EVENT_SCRIPT = """#!/bin/sh
# motion on_event_start: camera id, wall-clock time (s) of the event's start
echo "$1 $(date +%s.%N)" >> "{events}"
"""


class MotionDaemon:
    """Debian's motion daemon, one camera config per camera (see lab/motion-sub-high.conf)."""

    def __init__(self, label: str, workdir: Path, cams: list[CamUrls]) -> None:
        self.label = label
        self.dir = workdir / label
        self.cams = cams
        self.child: Child | None = None
        self.events_file = self.dir / "events.txt"
        self.conf = self.dir / "motion.conf"
        self.commands = [
            "motion -n -c motion.conf  (camera files: netcam_url SUB, netcam_high_url MAIN, "
            "movie_passthrough on, webcontrol_port 0, stream_port 0)"
        ]

    @staticmethod
    def available() -> bool:
        return shutil.which("motion") is not None

    def setup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        script = self.dir / "on_event_start.sh"
        script.write_text(_EVENT_SCRIPT.format(events=self.events_file))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        lines = [
            "daemon off",
            "setup_mode off",
            f"log_file {self.dir / 'motion.log'}",
            "log_level 6",
            f"pid_file {self.dir / 'motion.pid'}",
            "webcontrol_port 0",
            "webcontrol_localhost on",
            "stream_port 0",
            "stream_localhost on",
        ]
        for i, c in enumerate(self.cams, start=1):
            cam_conf = self.dir / f"camera{i}.conf"
            target = self.dir / c.name
            target.mkdir(exist_ok=True)
            cam_conf.write_text(
                "\n".join(
                    [
                        f"camera_id {i}",
                        f"camera_name {c.name}",
                        f"netcam_url {c.sub_url}",
                        f"netcam_high_url {c.url}",
                        "netcam_params rtsp_transport=tcp",
                        "netcam_high_params rtsp_transport=tcp",
                        "width 640",
                        "height 360",
                        "framerate 15",
                        "threshold 300",
                        "despeckle_filter EedDl",
                        "minimum_motion_frames 1",
                        "event_gap 5",
                        "pre_capture 3",
                        "post_capture 15",
                        f"text_left {c.name}",
                        "text_right %Y-%m-%d\\n%T-%q",
                        "picture_output off",
                        "movie_output on",
                        "movie_passthrough on",
                        "movie_max_time 60",
                        "movie_codec mp4",
                        "movie_filename %Y%m%d%H%M%S-%v",
                        f"target_dir {target}",
                        f"on_event_start {script} %t",
                        "stream_port 0",
                        "stream_localhost on",
                        "",
                    ]
                )
            )
            lines.append(f"camera {cam_conf}")
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, cap_s: float) -> None:  # noqa: ARG002 - stopped by the benchmark
        self.child = Child(
            self.label,
            ["motion", "-n", "-c", str(self.conf)],
            self.dir / "stdout.log",
            stop_signal=signal.SIGTERM,
            cwd=self.dir,
        )

    @property
    def pids(self) -> list[int]:
        return [self.child.pid] if self.child else []

    def children(self) -> list[Child]:
        return [self.child] if self.child else []

    def files(self, cam: str) -> list[Path]:
        return sorted((self.dir / cam).glob("*.mp4"))

    def events(self) -> dict[str, list[float]]:
        """camera name -> wall ms of each event start."""
        out: dict[str, list[float]] = {}
        try:
            text = self.events_file.read_text()
        except OSError:
            return out
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                i = int(parts[0])
                if 1 <= i <= len(self.cams):
                    out.setdefault(self.cams[i - 1].name, []).append(float(parts[1]) * 1000.0)
        return out


def wait_alive(children: list[Child], seconds: float) -> list[str]:
    """Sleep ``seconds``; return the labels of children that exited meanwhile."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        dead = [c.label for c in children if not c.alive()]
        if dead:
            return dead
        time.sleep(0.5)
    return []
