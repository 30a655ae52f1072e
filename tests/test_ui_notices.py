"""The seam between a hub's notices and Qt (ui.notices): every notice reaches the window, in order,
including those queued before the window was ready for them."""

from __future__ import annotations

import time

import pytest

from hub.api.errors import HubStoppedError, UnavailableError
from hub.api.subscription import NoticeQueue
from hub.api.types import StorageChanged
from ui.notices import NoticeBridge


def _notice(n: int) -> StorageChanged:
    return StorageChanged(at_ms=n, state="ok", message=f"notice {n}")


def test_notices_queued_before_the_window_listens_are_not_lost(qtbot):
    """A camera that starts recording while the window loads its view has its notice queued before
    the bridge exists: the bridge must not read it before the window has connected its slots (the
    cause of a tile stuck at "Connecting" beside a recording camera)."""
    queue = NoticeQueue()
    queue.put(_notice(1))
    bridge = NoticeBridge(queue)
    time.sleep(0.3)  # a busy GUI thread between making the bridge and connecting to it
    got: list[StorageChanged] = []
    bridge.received.connect(got.append)
    bridge.start()
    queue.put(_notice(2))
    try:
        qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
        assert [n.message for n in got] == ["notice 1", "notice 2"]
    finally:
        bridge.close()


@pytest.mark.parametrize(
    ("error", "stopped"),
    [
        (HubStoppedError("the hub stopped: it got SIGTERM"), True),
        (UnavailableError("connection lost"), False),
    ],
)
def test_the_hub_ending_its_notices_is_told_once_with_whether_it_meant_to(qtbot, error, stopped):
    """A hub that stopped on purpose is waited for; one that went away may be restarted: the bridge
    tells which."""
    queue = NoticeQueue()
    bridge = NoticeBridge(queue)
    ended: list[tuple[str, bool]] = []
    bridge.ended.connect(lambda why, on_purpose: ended.append((why, on_purpose)))
    bridge.start()
    queue.put(_notice(1))
    queue.end(error)
    try:
        qtbot.waitUntil(lambda: ended == [(str(error), stopped)], timeout=5000)
    finally:
        bridge.close()


def test_a_bridge_never_started_closes_at_once():
    bridge = NoticeBridge(NoticeQueue())
    started = time.monotonic()
    bridge.close()
    assert time.monotonic() - started < 1
