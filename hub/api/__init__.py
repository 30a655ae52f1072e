"""The Hub API: the one front door of a hub, for the desktop app, the CLI and scripts.

- :mod:`hub.api.types`: the values that cross (msgspec Structs; no hub, no Qt imported);
- :mod:`hub.api.protocol`: :class:`HubApi`, the commands and queries every backend answers;
- :mod:`hub.api.errors`: the hub's error family, which every call raises;
- backends: :class:`hub.api.local.LocalHub` (the live hub in this process),
  :class:`hub.api.client.SocketHub` (the hub running on a data dir, over its ``hub.sock``; served by
  :class:`hub.api.server.ApiServer`, on the wire of :mod:`hub.api.wire`) and
  :class:`hub.api.index.IndexOnly` (the index of a data dir, when no hub runs).

:func:`connect` gives a client the API of a data dir. Backends load only when asked for, so a client
that holds values or catches errors does not load the engine.
"""

from __future__ import annotations

import time
from pathlib import Path

from hub.api.protocol import HubApi

__all__ = ["HubApi", "connect", "hub_holds"]


def connect(data_dir: Path, db_url: str | None = None, *, wait_s: float = 10.0) -> HubApi:
    """The Hub API of ``data_dir``: the hub running there, over its socket
    (:class:`~hub.api.client.SocketHub`), or its index when no hub runs
    (:class:`~hub.api.index.IndexOnly`). A hub that holds the data dir but does not listen yet (it is
    starting) is waited for up to ``wait_s``; after that the index is used, which a hub polls.
    HubVersionError when the running hub speaks another version of the API. ``close()`` it when done.

    ``db_url`` is used only without a hub: a running hub answers from the index it was started with."""
    from hub.api.client import NoHub, SocketHub

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return SocketHub.open(data_dir)
        except NoHub:
            pass
        if time.monotonic() >= deadline or not hub_holds(data_dir):
            break
        time.sleep(0.1)
    from hub.api.index import IndexOnly

    return IndexOnly.open(data_dir, db_url)


def hub_holds(data_dir: Path) -> bool:
    """True when a hub process holds ``data_dir`` (it may not listen yet: it is starting). Trying the
    lock takes it for an instant: a hub starting at that very instant would find it taken."""
    from hub.storage.lock import HubLock

    return HubLock.holder(data_dir) is not None
