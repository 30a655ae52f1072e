"""One hub per data folder: an exclusive, non-blocking OS lock on ``<data>/hub.lock``.

The OS releases the lock when the process exits, however it exits, so a stale file never blocks a
restart: whether a hub runs is decided by trying the lock, never by trusting the file's content. The
file holds JSON ``{"pid": ..., "started": "<RFC 3339>"}`` of the holder, for messages only.

POSIX uses ``fcntl.flock`` (per open file: a second ``HubLock`` in the same process also conflicts).
Windows uses ``msvcrt.locking`` on one byte far beyond the content, because a locked range cannot be
read by other processes there. The lock is not inherited by child processes (Python opens files
non-inheritable), but a bare ``os.fork`` without exec shares it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from hub.core.errors import HubLockedError
from hub.core.times import format_ms, now_ms

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl

logger = logging.getLogger(__name__)

__all__ = ["LOCK_NAME", "HubLock", "HubLockedError"]

LOCK_NAME = "hub.lock"
_WIN_LOCK_OFFSET = 1 << 30  # Windows: the locked byte, well past the JSON content


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when another open file holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover
            os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError on POSIX, PermissionError on Windows
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_info(path: Path, attempts: int = 10) -> dict[str, Any]:
    """The holder's JSON; retries briefly because a new holder writes it just after locking."""
    for attempt in range(attempts):
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if isinstance(data, dict):
                return {"pid": data.get("pid"), "started": data.get("started")}
        if attempt + 1 < attempts:
            time.sleep(0.05)
    return {"pid": None, "started": None}


class HubLock:
    """The exclusive right of one process to run the hub on a data folder."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> HubLock:
        """Take the lock or raise HubLockedError naming the running hub; returns self."""
        if self._fd is not None:
            raise RuntimeError("this HubLock is already held")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise HubLockedError(self.data_dir, _read_info(self.path))
        try:
            info = json.dumps({"pid": os.getpid(), "started": format_ms(now_ms())})
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, info.encode() + b"\n")
            with contextlib.suppress(OSError):
                os.fsync(fd)
        except BaseException:
            _unlock(fd)
            os.close(fd)
            raise
        self._fd = fd
        logger.info("hub lock taken: %s (pid %s)", self.path, os.getpid())
        return self

    def release(self) -> None:
        """Give the lock up (no-op when not held). The file stays; its content is cleared."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)
        logger.info("hub lock released: %s", self.path)

    def __enter__(self) -> HubLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    @staticmethod
    def holder(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        """``{"pid", "started"}`` of the hub running on ``data_dir``, or None when none runs."""
        path = Path(data_dir) / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        except PermissionError:  # another user's hub: a read-only handle can still test the lock
            fd = os.open(path, os.O_RDONLY)
        try:
            if _try_lock(fd):
                _unlock(fd)
                return None
        finally:
            os.close(fd)
        return _read_info(path)
