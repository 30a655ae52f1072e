"""A camera's own events: one ONVIF PullPoint subscription, kept alive, turned into CameraEvents.

:class:`OnvifEventSource` runs on the process's ONVIF loop thread (:mod:`drivers.onvif.loop`). It
subscribes (CreatePullPointSubscription), pulls (PullMessages, long-polled), renews before the
subscription expires, and recreates it after any failure (the camera restarted and forgot it, the
network dropped, a reply was unusable) with capped exponential backoff. ``on_event`` and
``on_status`` are called **on the ONVIF loop thread**: keep them short (enqueue and return).
``on_status("ok", None)`` when subscribed, ``("down", reason)`` after a failure, ``("failed",
reason)`` when ``max_retries`` consecutive attempts failed (the source then stops trying).

This module is the lifecycle: the loop, the renew-or-pull schedule, recreation with backoff, status
and callbacks. The SOAP/HTTP exchange itself (and where it goes around onvif-zeep-async, and why)
is :mod:`drivers.onvif.pullpoint`'s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from drivers.base import CameraEvent, Credentials
from drivers.onvif import loop as onvif_loop
from drivers.onvif.pullpoint import PullPointClient
from drivers.onvif.topics import to_camera_event

logger = logging.getLogger(__name__)


class OnvifEventSource(PullPointClient):
    """PullPoint events of the camera at ``host:port``; see the module docstring for threading.

    ``clock_offset_s``: device clock minus host clock (the probe's ``clock_offset_s``); event times
    are corrected by it (``set_clock_offset`` changes it later). ``pull_timeout_s``: how long one
    PullMessages may wait on the camera for news. ``renew_s``: renew at least this often, and at half
    the lifetime the camera granted when that is sooner; ``subscription_s``: the lifetime asked for.
    ``max_retries``: consecutive failed attempts before giving up with ``("failed", reason)``; None
    (the default, right for an NVR) retries forever, ``backoff_s`` doubling up to ``backoff_max_s``.
    ``request_timeout_s`` bounds every other request.
    """

    def __init__(
        self,
        host: str,
        port: int,
        credentials: Credentials | None,
        *,
        on_event: Callable[[CameraEvent], None],
        on_status: Callable[[str, str | None], None],
        clock_offset_s: float = 0.0,
        pull_timeout_s: float = 10.0,
        renew_s: float = 60.0,
        subscription_s: float = 300.0,
        max_retries: int | None = None,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        request_timeout_s: float = 15.0,
    ) -> None:
        super().__init__(
            host,
            port,
            credentials,
            clock_offset_s=clock_offset_s,
            renew_s=renew_s,
            subscription_s=subscription_s,
            request_timeout_s=request_timeout_s,
        )
        self.pull_timeout_s = max(1.0, pull_timeout_s)
        self.max_retries = max_retries
        self.backoff_s, self.backoff_max_s = backoff_s, max(backoff_s, backoff_max_s)
        self._on_event, self._on_status = on_event, on_status
        self.state = "idle"
        self.reason: str | None = None
        self._future: concurrent.futures.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- control (any thread but the ONVIF loop's) ------------------------------------------------
    def start(self) -> None:
        """Subscribe in the background; returns at once."""
        if self._future is not None:
            return
        self._stopping = False
        self._future = onvif_loop.submit(self._main())

    def stop(self, timeout: float = 10.0) -> None:
        """Unsubscribe (best effort), close every connection; blocks until done (at most ``timeout`` s)."""
        future, self._future = self._future, None
        if future is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        task = self._task
        if running is not None and task is not None and task.get_loop() is running:
            raise RuntimeError("OnvifEventSource.stop() would block the ONVIF loop it waits for")
        try:
            onvif_loop.run(self._shutdown(), timeout)
        except TimeoutError:
            logger.warning("%s: the event subscription did not stop within %g s", self.where, timeout)
            future.cancel()

    def set_clock_offset(self, clock_offset_s: float) -> None:
        """Use a new device clock offset (device minus host, seconds) for the next notifications."""
        self.clock_offset_s = float(clock_offset_s)

    def stats(self) -> dict[str, Any]:
        """Counters and state, for status displays and tests."""
        return {**self.counters, "state": self.state, "reason": self.reason}

    # -- loop thread --------------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        self._stopping = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def _main(self) -> None:
        self._task = asyncio.current_task()
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4), trust_env=False)
        failures = 0
        try:
            while not self._stopping:
                try:
                    await self._subscribe()
                    self._status("ok", None)
                    await self._pull_loop()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every failure leads to a recreation
                    error = self._describe(exc)
                    failures = 1 if self._healthy else failures + 1  # count from the last good pull
                    self.counters["failures"] += 1
                    logger.debug("%s: event subscription failed", self.where, exc_info=exc)
                    await self._drop(unsubscribe=False)
                    if self.max_retries is not None and failures > self.max_retries:
                        self._status("failed", str(error))
                        return
                    self._status("down", str(error))
                    await asyncio.sleep(self._backoff(failures))
        finally:
            await self._drop(unsubscribe=self._stopping)
            http, self._http = self._http, None
            if http is not None:
                await http.close()
            if self._stopping:
                self.state = "stopped"

    def _backoff(self, failures: int) -> float:
        delay: float = min(self.backoff_max_s, self.backoff_s * 2 ** min(failures - 1, 16))
        return delay * random.uniform(0.8, 1.2)

    async def _pull_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            sub = self._sub
            assert sub is not None
            now = loop.time()
            if now >= sub.renew_at:
                await self._renew()
                continue
            wait = max(1.0, min(self.pull_timeout_s, sub.renew_at - now))
            notes = await self._pull(sub, wait)
            self._healthy = True
            received_ms = int(time.time() * 1000)
            for note in notes:
                self.counters["notifications"] += 1
                event = to_camera_event(note, received_ms)
                if event is not None:
                    self.counters["events"] += 1
                    self._emit(event)

    def _status(self, state: str, reason: str | None) -> None:
        if (state, reason) == (self.state, self.reason):
            return
        if state != self.state:
            log = logger.info if state == "ok" else logger.warning
            log("%s: events %s%s", self.where, state, f" ({reason})" if reason else "")
        self.state, self.reason = state, reason
        try:
            self._on_status(state, reason)
        except Exception:  # noqa: BLE001 - a broken callback must not stop the subscription
            logger.exception("%s: on_status callback failed", self.where)

    def _emit(self, event: CameraEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001
            logger.exception("%s: on_event callback failed", self.where)


__all__ = ["OnvifEventSource"]
