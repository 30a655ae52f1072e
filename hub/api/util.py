"""Pure helpers a client of the Hub API needs beside it: times, sizes, credentials in URLs, logging
the default data dir, and a place read from coordinates or a map link. They touch no index and start nothing."""

from __future__ import annotations

from drivers.scrub import redact, split_credentials
from hub.community.formats.places import Place, PlaceError, parse_place
from hub.core.logs import setup_logging
from hub.core.paths import default_data_dir
from hub.core.settings import format_size, parse_size
from hub.core.times import format_ms, now_ms, parse_rfc3339

__all__ = [
    "Place",
    "PlaceError",
    "parse_place",
    "default_data_dir",
    "format_ms",
    "format_size",
    "now_ms",
    "parse_rfc3339",
    "parse_size",
    "redact",
    "setup_logging",
    "split_credentials",
]
