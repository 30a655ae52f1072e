"""Camera event latency: from the moment the events peer queues a notification to the moment
Porchlight's OnvifEventSource hands the CameraEvent to its callback, side by side with a bare
reference client (one aiohttp long-poll loop posting a fixed PullMessages envelope, no signing, no
parsing) against the same peer in the same process.

    .venv/bin/python bench/event_latency.py [--events N]

Everything runs on 127.0.0.1 (tests/peers/onvif_events_peer.py serves captured public payloads).
Prints median / p95 / max milliseconds per client and the CPU time each spent per event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from drivers.onvif import loop as onvif_loop  # noqa: E402
from drivers.onvif.events import OnvifEventSource  # noqa: E402
from tests.peers.onvif_events_peer import OnvifEventsPeer  # noqa: E402
from tests.support.hubtools import wait_for  # noqa: E402

ON, OFF = "onvif_spec_motionalarm_on", "onvif_spec_motionalarm_off"
_ENV = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><s:Body>{}</s:Body></s:Envelope>'
)


def _drive(peer: OnvifEventsPeer, arrived: list[float], count: int) -> list[float]:
    """Push ``count`` payloads one at a time; the delays (s) from push to arrival."""
    delays = []
    for i in range(count):
        before = len(arrived)
        pushed = time.time()
        peer.push(ON if i % 2 == 0 else OFF)
        wait_for(lambda before=before: len(arrived) > before, 15, "the event", interval=0.002)
        delays.append(arrived[before] - pushed)
        time.sleep(0.02)
    return delays


def run_porchlight(peer: OnvifEventsPeer, count: int) -> tuple[list[float], float]:
    arrived: list[float] = []
    source = OnvifEventSource(
        "127.0.0.1",
        peer.port,
        None,
        on_event=lambda _e: arrived.append(time.time()),
        on_status=lambda *_a: None,
        pull_timeout_s=10,
    )
    source.start()
    wait_for(lambda: peer.active_subscriptions, 15, "a subscription", interval=0.01)
    time.sleep(0.3)
    cpu0 = _loop_cpu()
    delays = _drive(peer, arrived, count)
    cpu = _loop_cpu() - cpu0
    source.stop()
    return delays, cpu


def run_reference(peer: OnvifEventsPeer, count: int) -> tuple[list[float], float]:
    arrived: list[float] = []
    stop = asyncio.Event()

    async def client() -> None:
        async with aiohttp.ClientSession() as http:
            body = _ENV.format("<tev:CreatePullPointSubscription/>")
            async with http.post(peer.url.replace("device_service", "event_service"), data=body) as resp:
                address = re.search(r"<wsa:Address>([^<]+)</wsa:Address>", await resp.text()).group(1)
            pull = _ENV.format(
                "<tev:PullMessages><tev:Timeout>PT10S</tev:Timeout>"
                "<tev:MessageLimit>100</tev:MessageLimit></tev:PullMessages>"
            )
            while not stop.is_set():
                async with http.post(address, data=pull) as resp:
                    text = await resp.text()
                if "NotificationMessage" in text:
                    arrived.append(time.time())

    future = onvif_loop.submit(client())
    wait_for(lambda: peer.active_subscriptions, 15, "a subscription", interval=0.01)
    time.sleep(0.3)
    cpu0 = _loop_cpu()
    delays = _drive(peer, arrived, count)
    cpu = _loop_cpu() - cpu0
    onvif_loop.submit(_set(stop))
    peer.restart()  # ends the pending pull with a fault
    try:
        future.result(15)
    except Exception:  # noqa: BLE001, S110 - the fault ends the loop
        pass
    return delays, cpu


async def _set(event: asyncio.Event) -> None:
    event.set()


def _loop_cpu() -> float:
    """CPU seconds of the ONVIF loop thread so far (where both clients run)."""
    for thread in threading.enumerate():
        if thread.name == "porchlight-onvif" and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with OnvifEventsPeer() as peer:
        for name, run in (
            ("reference (bare long-poll)", run_reference),
            ("porchlight OnvifEventSource", run_porchlight),
        ):
            delays, cpu = run(peer, args.events)
            ms = sorted(d * 1000 for d in delays)
            rows.append(
                (name, statistics.median(ms), ms[int(len(ms) * 0.95) - 1], ms[-1], cpu / len(ms) * 1000)
            )
    onvif_loop.shutdown()
    print(f"event latency, peer push -> client, {args.events} events each (127.0.0.1)")
    print(f"{'client':32} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'loop CPU ms/event':>18}")
    for name, med, p95, worst, cpu in rows:
        print(f"{name:32} {med:10.2f} {p95:8.2f} {worst:8.2f} {cpu:18.2f}")


if __name__ == "__main__":
    main()
