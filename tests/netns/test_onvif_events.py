"""OnvifEventSource against the events peer (tests/peers/onvif_events_peer.py), which serves captured
public payloads (tests/fixtures/onvif_events, see PROVENANCE.md) on 127.0.0.1 inside the namespace:
times on the host clock (also with a camera clock 90 s ahead), doorbell presses, digital inputs,
renewal before expiry, recreation after a restart or an outage, malformed replies, clean stops."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Iterator

import aiohttp
import pytest

from drivers.base import CameraEvent, Credentials
from drivers.onvif import loop as onvif_loop
from drivers.onvif.events import OnvifEventSource
from drivers.onvif.topics import is_doorbell, topic_kind
from tests.peers.onvif_events_peer import MALFORMED_KINDS, OnvifEventsPeer
from tests.support.hubtools import wait_for

logger = logging.getLogger(__name__)

USER, PASSWORD = "admin", "Porch-Light_42"


class Recorder:
    """Collects callbacks (they run on the ONVIF loop thread) with their host arrival times."""

    def __init__(self) -> None:
        self.events: list[tuple[float, CameraEvent]] = []
        self.statuses: list[tuple[str, str | None]] = []
        self.threads: set[str] = set()

    def on_event(self, event: CameraEvent) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append((time.time(), event))

    def on_status(self, state: str, reason: str | None) -> None:
        self.threads.add(threading.current_thread().name)
        self.statuses.append((state, reason))

    def of(self, kind: str) -> list[CameraEvent]:
        return [e for _t, e in self.events if e.kind == kind]

    @property
    def state(self) -> str | None:
        return self.statuses[-1][0] if self.statuses else None


@pytest.fixture(autouse=True)
def _loop_errors() -> Iterator[list[dict]]:
    """Every exception the ONVIF loop reports (unretrieved task errors, unclosed sessions) fails the test."""
    errors: list[dict] = []

    async def install() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))

    onvif_loop.run(install(), 5)
    yield errors
    gc.collect()
    onvif_loop.run(asyncio.sleep(0.05), 5)  # let __del__ reports reach the handler
    onvif_loop.shutdown()
    assert not errors, [str(e.get("message")) + " " + repr(e.get("exception")) for e in errors]


@contextlib.contextmanager
def running(
    peer: OnvifEventsPeer, rec: Recorder, credentials: Credentials | None = None, **options: object
) -> Iterator[OnvifEventSource]:
    kw = {"pull_timeout_s": 5.0, "backoff_s": 0.2, "backoff_max_s": 1.0, "request_timeout_s": 5.0, **options}
    source = OnvifEventSource(
        "127.0.0.1", peer.port, credentials, on_event=rec.on_event, on_status=rec.on_status, **kw
    )
    source.start()
    try:
        yield source
    finally:
        source.stop()


def subscribed(peer: OnvifEventsPeer, count: int = 1) -> None:
    wait_for(lambda: peer.counters["created"] >= count and peer.active_subscriptions, 30, "a subscription")


def push_and_wait(
    peer: OnvifEventsPeer, rec: Recorder, name: str, count: int = 1
) -> tuple[float, list[CameraEvent]]:
    before = len(rec.events)
    pushed = time.time()
    peer.push(name)
    wait_for(lambda: len(rec.events) >= before + count, 15, f"{count} event(s) from {name}")
    return pushed, [e for _t, e in rec.events[before:]]


@pytest.mark.parametrize("offset", [0.0, 90.0], ids=["clock-right", "clock-90s-ahead"])
def test_motion_start_and_stop_arrive_with_host_times(offset):
    # The peer checks WS-UsernameToken digests and, like strict cameras, that Created is within 10 s
    # of its own clock: with the clock 90 s ahead this only works with the library's adjust_time.
    with OnvifEventsPeer(clock_offset_s=offset, username=USER, password=PASSWORD, max_skew_s=10) as peer:
        rec = Recorder()
        with running(peer, rec, Credentials(USER, PASSWORD), clock_offset_s=offset):
            subscribed(peer)
            t_on, (on,) = push_and_wait(peer, rec, "onvif_spec_motionalarm_on")
            time.sleep(1.2)
            t_off, (off,) = push_and_wait(peer, rec, "onvif_spec_motionalarm_off")
            t_cell, (cell,) = push_and_wait(peer, rec, "reolink_doorbell_wifi_cellmotion_people")
            t_nvr, (nvr,) = push_and_wait(peer, rec, "nvr_motionalarm_state1")
    assert (on.kind, on.active, off.kind, off.active) == ("motion", True, "motion", False)
    assert abs(on.utc_ms / 1000 - t_on) < 1.0 and abs(off.utc_ms / 1000 - t_off) < 1.0
    assert off.utc_ms - on.utc_ms == pytest.approx((t_off - t_on) * 1000, abs=1000)
    # whole-second UtcTimes (Reolink, the NVR's State="1"): up to a second early, never late
    assert cell.active and -1.0 < cell.utc_ms / 1000 - t_cell < 0.5
    assert nvr.active and -1.0 < nvr.utc_ms / 1000 - t_nvr < 0.5
    assert rec.statuses == [("ok", None)]
    assert rec.threads == {"porchlight-onvif"}


def test_doorbell_press_and_detection_from_event_properties():
    with OnvifEventsPeer() as peer:
        topics = onvif_loop.run(_event_topics(peer.port), 30)
        rec = Recorder()
        with running(peer, rec):
            subscribed(peer)
            _t, events = push_and_wait(peer, rec, "reolink_doorbell_wifi_cellmotion_people")
            pushed, (press,) = push_and_wait(peer, rec, "reolink_doorbell_visitor")
    assert [e.kind for e in events] == ["motion"]  # the person-detection message is not ours
    assert (press.kind, press.active, press.initialized, press.source) == ("doorbell", True, False, "000")
    assert abs(press.utc_ms / 1000 - pushed) < 1.5
    assert "tns1:RuleEngine/MyRuleDetector/Visitor" in topics and is_doorbell(topics)
    assert {topic_kind(t) for t in topics} >= {"motion", "doorbell", "input"}


async def _event_topics(port: int) -> list[str]:
    """GetEventProperties through onvif-zeep-async, as a probe would do it; topics as paths."""
    from drivers.onvif.errors import import_onvif

    import_onvif()
    from onvif import ONVIFCamera

    cam = ONVIFCamera("127.0.0.1", port, "", "", no_cache=True)  # the peer does not check tokens here
    try:
        await cam.update_xaddrs()
        props = await (await cam.create_events_service()).GetEventProperties()
        topics: list[str] = []

        def walk(node, path):  # lxml elements under wstop:TopicSet
            for child in node:
                name = child.tag.rsplit("}", 1)[-1]
                prefix = child.prefix + ":" if child.prefix and child.prefix != "wstop" else ""
                here = f"{path}/{prefix}{name}" if path else f"{prefix}{name}"
                if child.get("{http://docs.oasis-open.org/wsn/t-1}topic") == "true":
                    topics.append(here)
                walk(child, here)

        for node in props.TopicSet._value_1:
            walk([node], "")
        return topics
    finally:
        await cam.close()


def test_digital_input_and_initialized_state():
    with OnvifEventsPeer() as peer:
        rec = Recorder()
        with running(peer, rec):
            subscribed(peer)
            _t, (on,) = push_and_wait(peer, rec, "onvif_spec_digitalinput_on")
            _t, (off,) = push_and_wait(peer, rec, "onvif_spec_digitalinput_off")
            _t, (port,) = push_and_wait(peer, rec, "axis_io_port_initialized")
            _t, (hik,) = push_and_wait(peer, rec, "hikvision_family_initialized")
    assert (on.kind, on.active, on.source, off.active) == ("input", True, "1", False)
    assert (port.kind, port.active, port.initialized) == ("input", False, True)
    assert (hik.kind, hik.active, hik.initialized) == ("motion", False, True)  # zone-less time, "FALSE"


def test_renewal_happens_before_expiry():
    # The peer grants 3 s whatever is asked: the source must renew every ~1.5 s, never let it lapse.
    with OnvifEventsPeer(max_termination_s=3) as peer:
        rec = Recorder()
        with running(peer, rec, renew_s=60, subscription_s=300):
            subscribed(peer)
            time.sleep(8)
            _t, (event,) = push_and_wait(peer, rec, "onvif_spec_motionalarm_on")
            stats = dict(peer.counters)
    assert stats["created"] == 1 and stats["faults"] == 0, stats
    assert stats["renewals"] >= 4, stats
    assert rec.statuses == [("ok", None)] and event.active


def test_refused_renewal_recreates_the_subscription():
    with OnvifEventsPeer(max_termination_s=3) as peer:
        rec = Recorder()
        with running(peer, rec):
            subscribed(peer)
            peer.refuse_renewals(1)
            wait_for(lambda: peer.counters["created"] == 2 and rec.state == "ok", 15, "a new subscription")
            _t, (event,) = push_and_wait(peer, rec, "onvif_spec_motionalarm_on")
    assert [s for s, _r in rec.statuses] == ["ok", "down", "ok"], rec.statuses
    assert "refused to renew" in rec.statuses[1][1] and event.active


def test_peer_restart_recreates_the_subscription():
    with OnvifEventsPeer() as peer:
        rec = Recorder()
        with running(peer, rec) as source:
            subscribed(peer)
            push_and_wait(peer, rec, "onvif_spec_motionalarm_on")
            peer.restart()
            started = time.monotonic()
            subscribed(peer, 2)
            wait_for(lambda: rec.state == "ok" and len(rec.statuses) >= 3, 15, "ok again")
            recovered_s = time.monotonic() - started
            _t, (after,) = push_and_wait(peer, rec, "onvif_spec_motionalarm_off")
            stats = source.stats()
    logger.info("recreated %.2f s after the peer forgot the subscription", recovered_s)
    states = [s for s, _r in rec.statuses]
    assert states == ["ok", "down", "ok"], rec.statuses
    assert "no longer knows the event subscription" in rec.statuses[1][1]
    assert not after.active and stats["subscriptions"] == 2 and recovered_s < 10


def test_peer_down_for_a_while_then_back():
    with OnvifEventsPeer() as peer:
        rec = Recorder()
        with running(peer, rec) as source:
            subscribed(peer)
            peer.stop()
            wait_for(lambda: rec.state == "down", 20, "status down")
            time.sleep(3)  # several attempts, backoff capped at 1 s
            failures = source.stats()["failures"]
            peer.start()
            wait_for(lambda: rec.state == "ok" and len(rec.statuses) >= 3, 20, "status ok again")
            _t, (event,) = push_and_wait(peer, rec, "onvif_spec_motionalarm_on")
    reasons = [r for s, r in rec.statuses if s == "down"]
    assert any("refused the connection" in r for r in reasons), reasons
    assert 3 <= failures <= 12, failures  # bounded: exponential, capped at backoff_max_s
    assert event.active


def test_malformed_replies_never_escape(caplog):
    caplog.set_level(logging.WARNING)
    with OnvifEventsPeer() as peer:
        rec = Recorder()
        with running(peer, rec) as source:
            subscribed(peer)
            for kind in MALFORMED_KINDS:
                served, created = peer.counters["malformed"], peer.counters["created"]
                failures, before = source.stats()["failures"], len(rec.events)
                peer.serve_malformed(kind, payload="onvif_spec_motionalarm_on")
                wait_for(lambda served=served: peer.counters["malformed"] > served, 20, f"{kind} served")
                if kind == "wrong_namespace":  # tolerated: matched by local name
                    wait_for(
                        lambda before=before: len(rec.events) > before, 10, "the event in the wrong namespace"
                    )
                else:  # a failure: the subscription is recreated
                    wait_for(
                        lambda f=failures: source.stats()["failures"] > f, 10, f"{kind} counted as a failure"
                    )
                    wait_for(
                        lambda c=created: peer.counters["created"] > c and rec.state == "ok",
                        20,
                        f"a new subscription after {kind}",
                    )
                push_and_wait(peer, rec, "onvif_spec_motionalarm_off")
            stats = source.stats()
    downs = [r for s, r in rec.statuses if s == "down"]
    assert any("unusable event data" in r for r in downs), downs
    assert stats["state"] == "ok" or stats["state"] == "stopped"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.records


def test_wrong_password_reports_down_and_retries_are_bounded():
    with OnvifEventsPeer(username=USER, password=PASSWORD) as peer:
        rec = Recorder()
        with running(peer, rec, Credentials(USER, "wrong"), max_retries=2) as source:
            wait_for(lambda: rec.state == "failed", 20, "failed after the retries")
            stats = source.stats()
    assert [s for s, _r in rec.statuses] == ["down", "down", "failed"] or [s for s, _r in rec.statuses] == [
        "down",
        "failed",
    ], rec.statuses
    assert "refused the username or password" in rec.statuses[-1][1]
    assert stats["failures"] == 3 and peer.counters["created"] == 0


def test_stop_unsubscribes_and_leaves_nothing_running():
    with OnvifEventsPeer() as peer:
        rec = Recorder()
        source = OnvifEventSource(
            "127.0.0.1", peer.port, None, on_event=rec.on_event, on_status=rec.on_status, pull_timeout_s=5
        )
        source.start()
        subscribed(peer)
        time.sleep(0.5)  # a pull is in flight
        started = time.monotonic()
        source.stop()
        stop_s = time.monotonic() - started
        source.stop()  # twice is fine
        unsubscribed = peer.counters["unsubscribes"]

    async def leftovers() -> list[str]:
        me = asyncio.current_task()
        return [repr(t) for t in asyncio.all_tasks() if t is not me]

    assert onvif_loop.submit(leftovers()).result(5) == []
    gc.collect()
    open_sessions = [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed]
    assert open_sessions == []
    assert unsubscribed == 1 and source.stats()["state"] == "stopped" and stop_s < 3
