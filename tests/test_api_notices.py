"""Subscriptions to a running hub's notices, and live-view leases, through the Hub API.

The shared part runs against the live hub in this process and a real ``porchlight serve`` over its
socket; index-only refuses both. Then what only the socket has: two clients at once (one subscribed,
one changing cameras), a subscriber that never reads, the hub's stop ending subscriptions, leases
that end with their connection, and the bounded queue's drops counted and told to the client (a
synthetic publisher on an in-process hub and server: a real socket and client, thousands of notices
in a second).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from hub.api import HubApi, connection, wire
from hub.api.client import SocketHub
from hub.api.errors import NotFoundError, UnavailableError, ValidationError
from hub.api.index import IndexOnly
from hub.api.local import LocalHub
from hub.api.server import ApiServer
from hub.api.subscription import Subscription
from hub.api.types import (
    CameraChange,
    CamerasChanged,
    CameraStateChanged,
    EventEnded,
    EventStarted,
    Missed,
    MotionSettings,
    NewCamera,
    Notice,
    RecordingAdded,
)
from hub.core import bus
from hub.db import repo_media
from tests.support import e2e
from tests.support.apitools import ServedHub, open_api
from tests.support.hubtools import configure, decode_file, wait_for
from tests.support.rawclient import Raw

# The demo's visitor crosses the porch for 2 s of every 4 s: events start and end while it records.
DEMO = NewCamera(
    name="Demo",
    driver="demo",
    mode="continuous",
    device={"period_s": "4", "visit_s": "2"},
    motion=MotionSettings(gap_s=1.0),
)


@pytest.fixture(params=["local", "socket"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, HubApi, Path]]:
    """(kind, api, data dir) of a running hub with no camera, recording 2-s segments once one is added."""
    data = tmp_path / "data"
    configure(data, [], segment_seconds=2.0)
    api = open_api(request.param, data)
    try:
        yield request.param, api, data
    finally:
        api.close()


def collect(sub: Subscription, done: Callable[[list[Notice]], bool], timeout: float) -> list[Notice]:
    """Notices until ``done(notices)`` holds (AssertionError after ``timeout`` seconds)."""
    got: list[Notice] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        left = deadline - time.monotonic()
        assert left > 0, f"gave up after {timeout} s with {[type(n).__name__ for n in got]}"
        notice = sub.get(min(left, 1.0))
        if notice is not None:
            got.append(notice)
    return got


def of(kind: type, got: list[Notice]) -> list:
    return [n for n in got if isinstance(n, kind)]


# -- the shared suite ------------------------------------------------------------------------------------


def test_notices_come_in_order_with_the_ids_the_index_gave(live):
    _kind, api, _data = live
    with api.subscribe() as sub:
        cam = api.add_camera(DEMO)

        def enough(got: list[Notice]) -> bool:
            ended = {n.event.id for n in of(EventEnded, got)}
            return len(of(RecordingAdded, got)) >= 3 and bool(ended)

        got = collect(sub, enough, 60)
        assert sub.dropped == 0
    assert all(a.at_ms <= b.at_ms for a, b in zip(got, got[1:], strict=False))
    assert [n.camera_ids for n in of(CamerasChanged, got)][:1] == [(cam.id,)]
    states = [n.camera.state for n in of(CameraStateChanged, got)]
    assert states[:2] == ["connecting", "recording"], states

    # A recording's notice is its index row, the file is there and plays.
    stored = {r.id: r for r in api.recordings(cam.id)}
    for n in of(RecordingAdded, got):
        assert n.recording == stored[n.recording.id]
        assert n.recording.camera == "Demo" and decode_file(Path(n.recording.path)).times
    # An event's start and end carry the same id, the index's; it started before it ended.
    events = {e.id: e for e in api.events(cam.id)}
    started = [n.event for n in of(EventStarted, got)]
    ended = [n.event for n in of(EventEnded, got)]
    assert ended and {e.id for e in ended} <= {e.id for e in started}
    at = {(type(n), n.event.id): i for i, n in enumerate(got) if isinstance(n, (EventStarted, EventEnded))}
    for e in ended:
        assert at[EventStarted, e.id] < at[EventEnded, e.id]
        row = events[e.id]
        assert (row.kind, row.start_ms, row.end_ms, row.camera) == (e.kind, e.start_ms, e.end_ms, "Demo")
    for e in started:
        assert e.end_ms is None and events[e.id].start_ms == e.start_ms


def test_a_subscriber_gets_only_the_kinds_it_asked_for(live):
    _kind, api, _data = live
    with api.subscribe(["recording"]) as recordings, api.subscribe(["cameras", "camera_state"]) as cams:
        api.add_camera(DEMO)
        got = collect(recordings, lambda g: len(g) >= 2, 30)
        assert {type(n) for n in got} == {RecordingAdded}
        other = collect(cams, lambda g: len(g) >= 3, 10)
        assert {type(n) for n in other} <= {CamerasChanged, CameraStateChanged}
        assert of(CamerasChanged, other) and of(CameraStateChanged, other)


@pytest.mark.parametrize(
    ("kw", "field", "rule"),
    [
        ({"kinds": ["burglar"]}, "kinds", "one_of"),
        ({"queue_size": 0}, "queue_size", "min"),
        ({"queue_size": 65537}, "queue_size", "max"),
    ],
)
def test_a_bad_subscription_names_its_field(live, kw, field, rule):
    _kind, api, _data = live
    with pytest.raises(ValidationError) as err:
        api.subscribe(**kw)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert "recording" in str(err.value) if field == "kinds" else "65536" in str(err.value)


def test_a_lease_shows_in_the_status_until_it_ends(live):
    _kind, api, _data = live
    cam = api.add_camera(DEMO)

    def watched() -> tuple[str, ...]:
        return next(c.watched for c in api.status().cameras if c.camera_id == cam.id)

    tile = api.watch("demo")
    assert (tile.camera_id, tile.role) == (cam.id, "detect") and tile.since_ms > 0
    single = api.watch("Demo", "record")
    assert single.id != tile.id and watched() == ("detect", "record")
    api.unwatch(tile.id)
    assert watched() == ("record",)
    with pytest.raises(NotFoundError):
        api.unwatch(tile.id)  # once only
    with pytest.raises(NotFoundError, match="Demo"):
        api.watch("Garage")
    with pytest.raises(ValidationError) as err:
        api.watch("Demo", "thermal")  # type: ignore[arg-type]
    assert (err.value.field, err.value.rule) == ("role", "one_of")
    api.unwatch(single.id)
    assert watched() == ()


def test_index_only_has_no_notices_and_no_live_view(tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    with IndexOnly.open(data) as api:
        api.add_camera(NewCamera(name="Demo", driver="demo"))
        for call in (api.subscribe, lambda: api.watch("Demo"), lambda: api.unwatch(1)):
            with pytest.raises(UnavailableError, match="porchlight serve"):
                call()


# -- over the socket ---------------------------------------------------------------------------------------


def test_two_clients_one_subscribed_one_changing_cameras(tmp_path):
    """A subscriber sees what another client does, as it is applied; a third that subscribed and
    never reads holds nobody up. Then the hub stops: the subscription ends after the notices of the
    hub's last work (the segment finalized at the stop, indexed and playable)."""
    data = tmp_path / "data"
    configure(data, [], segment_seconds=2.0)
    api = ServedHub.start(data)
    listener = SocketHub.open(data)
    sleeper = listener.subscribe()  # never reads
    try:
        with listener.subscribe() as sub:
            cam = api.add_camera(DEMO)
            collect(sub, lambda g: len(of(RecordingAdded, g)) >= 2, 30)
            api.update_camera(cam.id, CameraChange(name="Porch"))
            got = collect(sub, lambda g: bool(of(RecordingAdded, g)), 30)
            assert of(CamerasChanged, got)[0].camera_ids == (cam.id,)
            assert of(RecordingAdded, got)[-1].recording.camera == "Porch"
            api.stop()
            last = until_ended(sub, 60)
            with pytest.raises(UnavailableError, match="stopped"):
                sub.get(1)  # and stays ended
        assert api.serve.wait(30) == 0
        final = of(RecordingAdded, last)[-1].recording
        assert decode_file(Path(final.path)).times
        with e2e.index(data) as engine:
            assert final.id in {s.id for s in repo_media.list_segments(engine, camera_id=cam.id)}
    finally:
        sleeper.close()
        listener.close()
        api.close()


def until_ended(sub: Subscription, timeout: float) -> list[Notice]:
    """Every notice until the hub ends ``sub`` (AssertionError after ``timeout`` seconds)."""
    got: list[Notice] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            notice = sub.get(1)
        except UnavailableError:
            return got
        if notice is not None:
            got.append(notice)
    raise AssertionError(f"the subscription did not end within {timeout} s")


def test_leases_belong_to_their_connection(tmp_path):
    data = tmp_path / "data"
    configure(data, [], segment_seconds=2.0)
    api = ServedHub.start(data)
    try:
        cam = api.add_camera(DEMO)
        other = SocketHub.open(data)
        lease = other.watch(cam.id)
        with pytest.raises(NotFoundError, match="no live-view lease"):
            api.unwatch(lease.id)  # not this connection's

        def watched() -> tuple[str, ...]:
            return api.status().cameras[0].watched

        assert watched() == ("detect",)
        other.close()  # the app went away: its lease ends with its connection
        wait_for(lambda: watched() == (), 10, "the lease to end with its connection")
    finally:
        api.close()


# -- backpressure, with a synthetic publisher ----------------------------------------------------------


@pytest.fixture
def served_here(tmp_path: Path) -> Iterator[tuple[LocalHub, ApiServer, Path]]:
    """A hub with no camera and its API server in this process (so that the test can publish)."""
    data = tmp_path / "data"
    configure(data, [])
    api = LocalHub.start(data)
    server = ApiServer(api, data, started_ms=api.hub.started_ms).start()
    try:
        yield api, server, data
    finally:
        server.close()
        api.close()


def test_a_slow_subscriber_loses_the_oldest_and_is_told_how_many(served_here):
    """20,000 notices in a burst: a subscriber that keeps up gets every one in order while another
    that reads nothing meanwhile loses the oldest; it then gets a Missed with the count, and what
    it got plus what it lost is every notice, the last one included."""
    api, _server, data = served_here
    n = 20_000
    client = SocketHub.open(data)
    try:
        slow = client.subscribe(["cameras"], queue_size=8)
        fast = client.subscribe(["cameras"], queue_size=65536)
        seen: list[str] = []

        def keep_up() -> None:
            while len(seen) < n:
                notice = fast.get(10)
                assert isinstance(notice, CamerasChanged), notice
                seen.append(notice.camera_ids[0])

        reader = threading.Thread(target=keep_up)
        reader.start()
        for i in range(n):
            api.hub.bus.publish(bus.CamerasChanged((f"c{i}",)))
        reader.join(60)
        assert seen == [f"c{i}" for i in range(n)] and fast.dropped == 0

        got: list[str] = []
        missed: list[int] = []
        while not got or got[-1] != f"c{n - 1}":
            notice = slow.get(10)
            assert notice is not None, f"stalled after {len(got)} notices"
            if isinstance(notice, Missed):
                missed.append(notice.count)
            else:
                got.append(notice.camera_ids[0])
        assert missed and sum(missed) == slow.dropped > 0
        assert len(got) + slow.dropped == n
        assert got == sorted(got, key=lambda c: int(c[1:]))  # in order, with a hole where it lost some
        fast.close()
        slow.close()
    finally:
        client.close()


def test_the_hub_stopping_then_its_server_closing_loses_no_notice(served_here):
    """What ``serve`` does at its end: the hub stops (each subscription gets its last notices and
    then its end), then the API server closes every connection. The server lets a subscription the
    hub ended finish sending first: the subscriber reads every notice, then "the hub stopped"."""
    api, server, data = served_here
    n = 20_000
    client = SocketHub.open(data)
    try:
        sub = client.subscribe(["cameras"], queue_size=65536)
        got: list[str] = []
        ended: list[Exception] = []

        def read_all() -> None:
            try:
                while True:
                    notice = sub.get(10)
                    assert isinstance(notice, CamerasChanged), notice
                    got.append(notice.camera_ids[0])
            except UnavailableError as exc:
                ended.append(exc)

        reader = threading.Thread(target=read_all)
        reader.start()
        for i in range(n):
            api.hub.bus.publish(bus.CamerasChanged((f"c{i}",)))
        api.close()  # the bus delivers what it holds before the hub stops
        server.close()
        reader.join(60)
        assert len(got) == n and got[-1] == f"c{n - 1}", f"{len(got)} of {n} notices arrived"
        assert ended and "stopped" in str(ended[0]), ended
    finally:
        client.close()


def test_a_subscription_cancelled_leaves_its_connection_taking_calls(served_here):
    """On the wire: a call while subscribed is refused and the notices go on; a Cancel ends the
    subscription, and the same connection takes calls again."""
    api, _server, data = served_here
    raw = Raw(data)
    try:
        raw.hello()
        reply = raw.call("subscribe", call_id=7, kinds=["cameras"])
        assert isinstance(reply, wire.Reply) and reply.id == 7
        api.hub.bus.publish(bus.CamerasChanged(("c1",)))
        msg = raw.next()
        assert isinstance(msg, wire.Published) and msg.id == 7
        notice = msgspec.msgpack.decode(msg.value, type=Notice)
        assert isinstance(notice, CamerasChanged) and notice.camera_ids == ("c1",)
        refused = raw.call("status", call_id=8)
        assert isinstance(refused, wire.Failure) and refused.id == 8, refused
        assert "carries a subscription" in refused.error.message
        api.hub.bus.publish(bus.CamerasChanged(("c2",)))
        msg = raw.next()
        assert isinstance(msg, wire.Published) and b"c2" in bytes(msg.value)
        raw.send(wire.Cancel(id=7))
        wait_for(lambda: api.notifier.subscribers == 0, 10, "the subscription to end")
        reply = raw.call("status", call_id=9)
        assert isinstance(reply, wire.Reply) and reply.id == 9
    finally:
        raw.close()


def test_a_cancel_is_heard_while_notices_keep_coming(served_here, monkeypatch):
    """The hub sends a burst in batches and looks for the client's messages between batches only
    now and then; it still does while its queue never empties. A client reads slowly (at most
    2,000 notices a second) through an endless flood, so that the queue stays full (and every batch
    too: they are made small); a Cancel, then a call, end the subscription and get their reply
    within seconds."""
    monkeypatch.setattr(connection, "SEND_BATCH", 4)
    api, _server, data = served_here
    raw = Raw(data)
    stop = threading.Event()
    read = 0

    def flood() -> None:
        i = 0
        while not stop.is_set():
            for _ in range(100):
                api.hub.bus.publish(bus.CamerasChanged((f"c{i}",)))
                i += 1
            time.sleep(0.002)

    def next_slowly() -> wire.FromHub:
        nonlocal read
        read += 1
        if read % 20 == 0:
            time.sleep(0.01)
        return raw.next()

    publisher = threading.Thread(target=flood)
    try:
        raw.hello()
        assert isinstance(raw.call("subscribe", call_id=7, kinds=["cameras"], queue_size=256), wire.Reply)
        publisher.start()
        deadline = time.monotonic() + 20
        missed = 0
        while missed < 3:  # the queue overflows again and again: the hub takes full batches
            msg = next_slowly()
            assert isinstance(msg, wire.Published) and time.monotonic() < deadline, msg
            missed += b"missed" in bytes(msg.value)
        raw.send(wire.Cancel(id=7)).send(wire.Call(id=8, method="status", args=wire.raw({})))
        asked = time.monotonic()
        while isinstance(msg := next_slowly(), wire.Published):
            assert time.monotonic() - asked < 8, "the Cancel was not heard during the flood"
        assert isinstance(msg, wire.Reply) and msg.id == 8, msg
        assert api.notifier.subscribers == 0
    finally:
        stop.set()
        if publisher.is_alive():
            publisher.join(10)
        raw.close()


def test_a_subscriber_that_reads_nothing_is_disconnected(served_here, caplog):
    """Notices keep coming (10,000 a second) to a subscriber that reads none: once its socket's
    buffer is full and stays full for the send timeout, the hub lets it go; nothing else waits."""
    api, server, data = served_here
    server.send_timeout_s = 2.0  # for connections from now on
    client = SocketHub.open(data)
    try:
        stuck = client.subscribe(["cameras"], queue_size=8)
        deadline = time.monotonic() + 10 + server.send_timeout_s
        sent = 0
        while api.notifier.subscribers and time.monotonic() < deadline:
            for _ in range(100):
                api.hub.bus.publish(bus.CamerasChanged((f"c{sent}",)))
                sent += 1
            time.sleep(0.01)
        assert api.notifier.subscribers == 0, "a subscriber that reads nothing is still served"
        with pytest.raises(UnavailableError, match="lost"):
            while True:
                stuck.get(5)  # what the socket holds, then the end
        assert "took no notices in" in caplog.text
        assert client.status().hub.running  # the hub, and its other clients, are fine
    finally:
        client.close()
