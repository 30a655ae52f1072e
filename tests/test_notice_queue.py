"""NoticeQueue, the bounded queue between the hub's bus and one subscriber (pure logic, no hub)."""

from __future__ import annotations

import threading
import time

import pytest

from hub.api.errors import UnavailableError
from hub.api.subscription import NoticeQueue
from hub.api.types import CamerasChanged, Missed


def changed(i: int) -> CamerasChanged:
    return CamerasChanged(at_ms=i, camera_ids=(f"c{i}",))


def ids(batch: list) -> list[str]:
    return [n.camera_ids[0] for n in batch]


def test_take_hands_over_a_batch_in_order_and_no_more_than_asked():
    q = NoticeQueue(size=100)
    for i in range(10):
        q.put(changed(i))
    assert ids(q.take(0, most=4)) == ["c0", "c1", "c2", "c3"]
    assert ids(q.take(0, most=100)) == [f"c{i}" for i in range(4, 10)]
    assert q.take(0.05) == [] and q.pending == 0


def test_take_says_first_how_many_were_dropped():
    q = NoticeQueue(size=3)
    for i in range(8):
        q.put(changed(i))
    batch = q.take(0, most=10)
    assert isinstance(batch[0], Missed) and batch[0].count == 5
    assert ids(batch[1:]) == ["c5", "c6", "c7"] and q.dropped == 5
    q.put(changed(8))
    assert ids(q.take(0)) == ["c8"]  # told once


def test_take_waits_for_a_notice_and_wakes_when_one_comes():
    q = NoticeQueue()
    threading.Timer(0.1, q.put, args=(changed(1),)).start()
    started = time.monotonic()
    assert ids(q.take(5)) == ["c1"]
    assert time.monotonic() - started < 4


def test_take_ends_with_what_was_queued_then_the_hubs_error():
    q = NoticeQueue()
    q.put(changed(1))
    q.end(UnavailableError("the hub stopped"))
    assert ids(q.take(0)) == ["c1"]
    with pytest.raises(UnavailableError, match="stopped"):
        q.take(0)


def test_a_closed_queue_gives_nothing_and_wakes_a_waiting_take():
    q = NoticeQueue()
    got: list[list] = []
    waiter = threading.Thread(target=lambda: got.append(q.take(10)))
    waiter.start()
    time.sleep(0.05)
    q.close()
    waiter.join(5)
    assert got == [[]] and not waiter.is_alive()
    q.put(changed(1))
    assert q.take(0) == [] and q.get(0) is None
