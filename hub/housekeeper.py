"""The hub's chores on one thread (``porchlight-housekeeper``).

Every ``poll_s``: apply configuration changes that other processes wrote to the index, let each camera
check that its packets still arrive, and publish the storage state when it changes. Every
``heartbeat_s``: refresh the status rows (state changes are written at once; this keeps the counters
fresh) and end live previews nobody watches any more. A failing chore is logged and tried again
next time: the thread never dies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hub.core.bus import EventBus, StorageChanged
from hub.pipeline.sink import IndexSink
from hub.pipeline.supervisor import Supervisor
from hub.storage.manager import StorageManager

logger = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # state changes are written at once; this refreshes the counters
CONFIG_POLL_S = 2.0  # changes made by another `porchlight` command apply within this


class Housekeeper:
    """Runs the chores until :meth:`stop`."""

    def __init__(
        self,
        *,
        sync_config: Callable[[], None],
        supervisor: Supervisor,
        storage: StorageManager,
        bus: EventBus,
        sink: IndexSink,
        poll_s: float = CONFIG_POLL_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._sync_config = sync_config
        self._supervisor = supervisor
        self._storage = storage
        self._bus = bus
        self._sink = sink
        self._poll_s = poll_s
        self._heartbeat_s = heartbeat_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="porchlight-housekeeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        last_beat = 0.0
        last_storage = None
        while not self._stop.wait(self._poll_s):
            try:
                self._sync_config()
                pipelines = self._supervisor.pipelines()
                for p in pipelines:
                    p.check_progress()
                state = self._storage.state()
                if state != last_storage:
                    last_storage = state
                    self._bus.publish(StorageChanged(*state))
                if time.monotonic() - last_beat >= self._heartbeat_s:
                    last_beat = time.monotonic()
                    self._sink.statuses(self._supervisor.statuses())
                    for p in pipelines:
                        p.reap_idle_preview()
            except Exception:  # noqa: BLE001 - keep housekeeping alive; the index may be busy
                logger.exception("housekeeping failed")
