"""The Hub API's backends for tests: the shared suites (tests/test_api*.py) run once per backend.

- ``local``: the live hub in this process (hub.api.local.LocalHub), recording for real;
- ``index``: index-only (hub.api.index.IndexOnly), what a client uses when no hub runs.

The socket backend joins this list when it lands (issue 12, step b1).
"""

from __future__ import annotations

from pathlib import Path

from hub.api import HubApi
from hub.api.index import IndexOnly
from hub.api.local import LocalHub
from hub.hub import HubOptions

BACKENDS = ["local", "index"]


def open_api(kind: str, data: Path) -> HubApi:
    """The API of backend ``kind`` on the data dir ``data``; close it when done (a local hub stops)."""
    if kind == "local":
        return LocalHub.start(data, options=HubOptions(open_timeout_s=2.0))
    if kind == "index":
        return IndexOnly.open(data)
    raise ValueError(f"no backend {kind!r}")
