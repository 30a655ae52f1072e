"""The window follows its hub going away and coming back (ui.link.HubLink, wired as the app wires
it): a hub stopped on purpose is waited for and started only when the owner asks; a hub killed
is started again after a backoff, and two windows that see it die start one hub between them.
Real ``porchlight serve`` processes, real widgets."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hub.api import launch
from hub.storage.lock import HubLock
from tests.support.apitools import ServedHub, answering_hub_pid
from tests.support.clitools import ok, run_cli
from tests.support.uitools import live_tile
from ui import tasks
from ui.app import connect
from ui.link import HubLink
from ui.main_window import MainWindow

pytestmark = pytest.mark.slow


class Linked:
    """Windows, each with its link to the hub of ``data``, as the app makes them."""

    def __init__(self, qtbot, data: Path) -> None:
        self.qtbot = qtbot
        self.data = data
        self.pairs: list[tuple[MainWindow, HubLink]] = []

    def open(self) -> tuple[MainWindow, HubLink]:
        window = MainWindow()
        self.qtbot.addWidget(window)
        link = HubLink(self.data, backoff=launch.Backoff((0.5, 2.0)), poll_s=0.2, parent=window)
        connect(window, link)
        link.start()
        window.show()
        self.pairs.append((window, link))
        return window, link

    def close(self) -> None:
        for window, link in self.pairs:
            window.close_quietly()
            window.detach()
            link.close()
        tasks.shutdown()


@pytest.fixture
def linked(qtbot, tmp_path) -> Iterator[Linked]:
    data = tmp_path / "data"
    ok(run_cli(data, "demo-camera", "add", "--mode", "continuous"))
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    pairs = Linked(qtbot, data)
    try:
        yield pairs
    finally:
        pairs.close()
        _stop_any_hub(data)


def _stop_any_hub(data: Path) -> None:
    """Stop the hub a link started (detached: no test holds its process)."""
    holder = HubLock.holder(data)
    if holder is None:
        return
    run_cli(data, "stop")
    try:
        psutil.Process(holder["pid"]).wait(30)
    except psutil.NoSuchProcess:
        pass


def test_a_stopped_hub_is_shown_waited_for_and_started_again_when_the_owner_asks(qtbot, linked):
    with ServedHub.start(linked.data) as api:
        (cam,) = api.cameras()
        window, link = linked.open()
        live_tile(qtbot, window, cam.id)
        assert not window.banner.isVisible() and not window.start_action.isEnabled()

        ok(run_cli(linked.data, "stop"))
        qtbot.waitUntil(lambda: "reconnecting" in window.banner.text(), timeout=15000)
        assert "it was asked to stop" in window.banner.text() and window.banner.isVisible()
        assert window.tiles[cam.id].state == "hub_gone"
        assert window.start_action.isEnabled() and not window.stop_action.isEnabled()
        assert api.serve.wait(30) == 0
    # Stopped on purpose: the window waits, and starts no hub by itself.
    qtbot.wait(1500)
    assert HubLock.holder(linked.data) is None and link.api is None

    # The owner asks: a hub starts, and the tiles move again.
    window.start_action.trigger()
    tile = live_tile(qtbot, window, cam.id, timeout_ms=60000)
    assert not window.banner.isVisible() and window.stop_action.isEnabled()
    assert not window.start_action.isEnabled()
    assert "running again" in window.statusBar().currentMessage()
    new_pid = answering_hub_pid(linked.data)
    assert window.hub_pid == new_pid and os.getsid(new_pid) == new_pid  # detached, as the app starts it
    assert tile.title.text() == cam.name


def test_a_hub_that_went_away_is_started_again_by_one_of_its_windows(qtbot, linked):
    """The hub is killed (no goodbye): both windows say so, start it again after the backoff, and
    a data dir still gets one hub; both show it live."""
    with ServedHub.start(linked.data) as api:
        (cam,) = api.cameras()
        first, first_link = linked.open()
        second, second_link = linked.open()
        for window in (first, second):
            live_tile(qtbot, window, cam.id)
        old_pid = api.hub_pid
        api.serve.send(signal.SIGKILL)
        api.serve.wait(10)
        for window in (first, second):
            qtbot.waitUntil(lambda w=window: "went away" in w.banner.text(), timeout=15000)
            assert _tile_gone(window, cam.id)
    for window in (first, second):
        live_tile(qtbot, window, cam.id, timeout_ms=60000)
        assert not window.banner.isVisible()
    new_pid = answering_hub_pid(linked.data)
    assert new_pid not in (None, old_pid) and first.hub_pid == second.hub_pid == new_pid
    assert first_link.restarts + second_link.restarts >= 1
    assert any("started again" in w.statusBar().currentMessage() for w in (first, second))
    serves = [p for p in psutil.process_iter(["cmdline"]) if _serves(p, linked.data)]
    assert [p.pid for p in serves] == [new_pid]
    # Killed again soon after: the next attempt waits longer (the backoff's second step).
    serves[0].send_signal(signal.SIGKILL)  # its handle: once killed and reaped, the pid is gone
    serves[0].wait(10)
    qtbot.waitUntil(lambda: "in 2 s" in first.banner.text() + second.banner.text(), timeout=15000)
    live_tile(qtbot, first, cam.id, timeout_ms=60000)


def _tile_gone(window: MainWindow, cam_id: str) -> bool:
    tile = window.tiles[cam_id]
    return tile.state == "hub_gone" and "stopped" in tile.badge.text()


def _serves(proc: psutil.Process, data: Path) -> bool:
    cmd = proc.info.get("cmdline") or []
    return "serve" in cmd and str(data) in cmd


def test_backoff_grows_while_the_hub_keeps_failing_and_resets_once_it_ran():
    backoff = launch.Backoff((1.0, 2.0, 5.0), settle_s=60)
    assert [backoff.next_delay(now=t) for t in (0, 1, 2, 3)] == [1.0, 2.0, 5.0, 5.0]
    backoff.up(now=10)
    assert backoff.next_delay(now=20) == 5.0  # it failed again soon after it answered
    backoff.up(now=100)
    assert backoff.next_delay(now=161) == 1.0  # it ran a minute: a new failure, not a loop
    assert backoff.attempt == 1
