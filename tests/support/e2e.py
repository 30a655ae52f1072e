"""Helpers for end-to-end tests on real storage: mounts, index-vs-disk checks, playability checks.

Every check here reads the files and the index independently of the product's own scanner, so
that a test using them can catch the product disagreeing with the disk.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import pytest

from hub.core.model import CameraStatus, Event, Segment
from hub.db import repo_media
from hub.db.engine import open_engine

MARKER = ".porchlight-storage"
QUARANTINE = ".quarantine"


# -- the index -----------------------------------------------------------------------------------
@contextlib.contextmanager
def index(data_dir: Path) -> Iterator:
    """A short-lived engine on the data dir's SQLite index (read or write from the test)."""
    engine = open_engine(f"sqlite:///{data_dir / 'porchlight.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


def rows(data_dir: Path) -> list[Segment]:
    """Every segment row, oldest first."""
    with index(data_dir) as engine:
        return repo_media.all_segments(engine)


def events(data_dir: Path) -> list[Event]:
    """Every event row, oldest first."""
    with index(data_dir) as engine:
        return repo_media.list_events(engine)


def stored_status(data_dir: Path, camera_id: str) -> CameraStatus | None:
    """The status row the hub last wrote for a camera."""
    with index(data_dir) as engine:
        return next((s for s in repo_media.list_status(engine) if s.camera_id == camera_id), None)


# -- the disk ------------------------------------------------------------------------------------
def segment_files(root: Path) -> set[str]:
    """Relative paths of every ``*.mp4`` under ``root`` outside dot-folders (our own walk)."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(".mp4"):
                out.add(Path(dirpath, name).relative_to(root).as_posix())
    return out


def all_entries(root: Path) -> list[str]:
    """Every file and folder under ``root`` (relative), dot-entries included, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(out)


def stray_files(root: Path) -> list[str]:
    """Files under ``root`` that are neither segments, the marker, nor quarantined (tmp files...)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != QUARANTINE]
        for name in filenames:
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if rel != MARKER and not name.endswith(".mp4"):
                out.append(rel)
    return sorted(out)


def empty_dirs(root: Path) -> list[str]:
    """Folders under ``root`` (not ``root`` itself, not dot-folders) that hold nothing."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if Path(dirpath) != root and not dirnames and not filenames:
            out.append(Path(dirpath).relative_to(root).as_posix())
    return sorted(out)


def assert_index_matches_disk(data_dir: Path, root: Path) -> list[Segment]:
    """Index rows and segment files are the same set, sizes agree, no stray or empty folders."""
    segs = rows(data_dir)
    paths = [s.path for s in segs]
    assert len(paths) == len(set(paths)), f"duplicate rows: {sorted(p for p in paths if paths.count(p) > 1)}"
    on_disk = segment_files(root)
    assert set(paths) - on_disk == set(), f"rows without files: {sorted(set(paths) - on_disk)}"
    assert on_disk - set(paths) == set(), f"files without rows: {sorted(on_disk - set(paths))}"
    wrong_size = [
        (s.path, s.bytes, (root / s.path).stat().st_size)
        for s in segs
        if (root / s.path).stat().st_size != s.bytes
    ]
    assert not wrong_size, f"row size differs from the file (path, row, file): {wrong_size}"
    assert stray_files(root) == [], f"stray files in the storage folder: {stray_files(root)}"
    return segs


# -- playability ---------------------------------------------------------------------------------
def ffprobe_clean(path: Path) -> None:
    """ffprobe reads the whole file (every packet) without a single error message."""
    r = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and not r.stderr.strip(), f"ffprobe {path}: rc={r.returncode} {r.stderr.strip()}"


def decoded_frames(path: Path) -> int:
    """Decode every video frame with PyAV; raise AssertionError on any decoding error."""
    try:
        with av.open(str(path)) as c:
            return sum(1 for _ in c.decode(video=0))
    except av.error.FFmpegError as exc:
        raise AssertionError(f"{path} does not decode: {exc}") from exc


def assert_plays(path: Path, frames: int | None = None) -> int:
    """ffprobe is clean and PyAV decodes every frame (``frames`` of them when given)."""
    ffprobe_clean(path)
    n = decoded_frames(path)
    assert n > 0, f"{path}: no frame decodes"
    if frames is not None:
        assert n == frames, f"{path}: {n} frames decode, the index says {frames}"
    return n


# -- mounts --------------------------------------------------------------------------------------
def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30)


def cannot_mount(why: str) -> None:
    """Skip, or fail when ``CI=true`` (CI runs as root and must exercise these tests)."""
    message = f"cannot mount a test file system: {why}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def mount(*args: str) -> None:
    """``mount ARGS``; raise with mount's message on failure."""
    r = _run("mount", *args)
    if r.returncode != 0:
        raise OSError(f"mount {' '.join(args)} failed: {r.stderr.strip()}")


def umount(target: Path, lazy: bool = True) -> None:
    """Unmount ``target`` (lazily by default: open files keep their detached file system)."""
    r = _run("umount", *(["-l"] if lazy else []), str(target))
    if r.returncode != 0:
        raise OSError(f"umount {target} failed: {r.stderr.strip()}")


def _unescape(field: str) -> str:
    """Undo the octal escapes of /proc/self/mountinfo (``\\040`` is a space)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mountpoint(path: Path) -> bool:
    """True when something is mounted on ``path`` (bind mounts included, unlike os.path.ismount)."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            return any(_unescape(line.split()[4]) == target for line in fh)
    except OSError:
        return os.path.ismount(path)


class Mounts:
    """Mounts made by one test; ``cleanup()`` lazily unmounts whatever is still mounted."""

    def __init__(self) -> None:
        self._targets: list[Path] = []

    def tmpfs(self, target: Path, size: str) -> Path:
        """Mount a fresh tmpfs of ``size`` (e.g. ``"8m"``) on ``target``; skip/fail if impossible."""
        target.mkdir(parents=True, exist_ok=True)
        try:
            mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target))
        except (OSError, subprocess.SubprocessError) as exc:
            cannot_mount(str(exc))
        self._targets.append(target)
        return target

    def bind(self, source: Path, target: Path) -> Path:
        """Bind-mount ``source`` on ``target``; skip/fail if impossible."""
        source.mkdir(parents=True, exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        try:
            mount("--bind", str(source), str(target))
        except (OSError, subprocess.SubprocessError) as exc:
            cannot_mount(str(exc))
        self._targets.append(target)
        return target

    def cleanup(self) -> None:
        """Unmount everything still mounted (innermost first), lazily, ignoring errors."""
        for target in reversed(self._targets):
            for _ in range(5):  # a target may be mounted several times over
                if not is_mountpoint(target):
                    break
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    umount(target, lazy=True)
                time.sleep(0.05)
        self._targets.clear()


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    """Mount helper whose mounts are always undone at teardown."""
    m = Mounts()
    try:
        yield m
    finally:
        m.cleanup()
