"""Logging for the hub: one redacting formatter on every handler, FFmpeg's messages included; into
stderr, or into a rotated log file that also receives the process's standard output and error."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TextIO

from drivers.scrub import redact


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks credentials and registered secrets (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


#: Size at which the log file is rotated, and how many rotated files are kept (hub.log.1 ... .3).
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StdRedirectingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that file descriptors 1 and 2 point at, the current one after each rollover.

    A detached process has no terminal: what bypasses logging (a traceback at exit, a faulthandler
    dump, a C library's message) would otherwise go to whatever stderr it was started with, or be
    lost. fd 1 and 2 share the handler's open file (O_APPEND), and ``shouldRollover`` measures the
    file's end, so what they write counts towards the size too."""

    def __init__(self, filename: Path, *, max_bytes: int, backups: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.point_std_fds()

    def doRollover(self) -> None:  # noqa: N802 (the logging API's name)
        """Rotate the files, then point fd 1 and 2 at the new one (they would keep the old one open)."""
        super().doRollover()
        self.point_std_fds()

    def point_std_fds(self) -> None:
        """Point fd 1 and 2 at the current file (what Python still buffers for them is written first,
        to where it was meant to go, when it still can be)."""
        if self.stream is None:  # closed
            return
        for std in (sys.stdout, sys.stderr):
            if std is not None:
                with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
                    std.flush()
        fd = self.stream.fileno()
        os.dup2(fd, 1)
        os.dup2(fd, 2)


def setup_logging(
    level: int = logging.INFO,
    *,
    stream: TextIO | None = None,
    log_file: Path | None = None,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
) -> None:
    """Send logs to stderr or ``stream`` (redacted) and route FFmpeg's warnings through Python logging.

    With ``log_file``, logs go to that file instead, rotated at ``max_bytes`` with ``backups`` old files
    kept, and the process's fd 1 and 2 point at it from now on (so never in a process whose standard
    output matters, such as a test runner's). Its folder is created (0700) when missing."""
    handler: logging.Handler
    if log_file is None:
        handler = logging.StreamHandler(stream or sys.stderr)
    else:
        make_private_dirs(Path(log_file).parent)
        handler = StdRedirectingFileHandler(Path(log_file), max_bytes=max_bytes, backups=backups)
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces its plugins and every migration step at INFO; the hub logs the migration
    # that matters itself (hub.db.upgrade). Shown with -vv (DEBUG).
    logging.getLogger("alembic").setLevel(logging.WARNING if level > logging.DEBUG else logging.DEBUG)
    global _routing_wanted
    _routing_wanted = True
    if "av" in sys.modules:
        route_ffmpeg_logs()
    # Else when a hub or an index client starts (route_ffmpeg_logs_if_set_up): a client that only
    # talks to a running hub never loads PyAV.


_routing_wanted = False


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700 (``mkdir(parents=True)`` gives the parents
    the default mode): a log may name cameras, hosts and times."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def route_ffmpeg_logs_if_set_up() -> None:
    """Route FFmpeg's messages once PyAV is about to be used, when :func:`setup_logging` ran."""
    if _routing_wanted:
        route_ffmpeg_logs()


def route_ffmpeg_logs(level: str = "ERROR") -> None:
    """FFmpeg messages (which may contain URLs) go to the ``libav`` loggers, never straight to stderr."""
    import av.logging

    av.logging.set_level(getattr(av.logging, level))
    # Decoders complain at ERROR level about routine things (a stream joined mid-GOP while
    # probing); the drivers report real failures themselves. Shown with -vv (DEBUG).
    libav = logging.getLogger("libav")
    libav.setLevel(logging.CRITICAL if logging.getLogger().level > logging.DEBUG else logging.DEBUG)


def secure_all_handlers() -> None:
    """Wrap the formatter of every root handler (e.g. installed by pytest) so output is redacted."""
    for h in logging.getLogger().handlers:
        fmt = h.formatter
        if not isinstance(fmt, RedactingFormatter):
            wrapped = RedactingFormatter(fmt._fmt if fmt else None, fmt.datefmt if fmt else None)
            h.setFormatter(wrapped)
