"""Logging for the hub: one redacting formatter on every handler, FFmpeg's messages included."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from drivers.scrub import redact


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks credentials and registered secrets (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: int = logging.INFO, *, stream: TextIO | None = None) -> None:
    """Send logs to stderr (redacted) and route FFmpeg's warnings through Python logging."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
