"""The Hub API: the one front door of a hub, for the desktop app, the CLI and scripts.

- :mod:`hub.api.types`: the values that cross (msgspec Structs; no hub, no Qt imported);
- :mod:`hub.api.protocol`: :class:`HubApi`, the commands and queries every backend answers;
- :mod:`hub.api.errors`: the hub's error family, which every call raises;
- backends: :class:`hub.api.local.LocalHub` (the live hub in this process) and
  :class:`hub.api.index.IndexOnly` (the index of a data dir, when no hub runs).

:func:`connect` gives a client the API of a data dir. Backends load only when asked for, so a client
that holds values or catches errors does not load the engine.
"""

from __future__ import annotations

from pathlib import Path

from hub.api.protocol import HubApi

__all__ = ["HubApi", "connect"]


def connect(data_dir: Path, db_url: str | None = None) -> HubApi:
    """The Hub API of ``data_dir``: its index (a hub running there polls the index and applies the
    changes within two seconds). ``close()`` it when done."""
    from hub.api.index import IndexOnly

    return IndexOnly.open(data_dir, db_url)
