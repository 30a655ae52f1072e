"""From the hub's bus to the Hub API's subscribers: each bus event becomes one API notice, put into
the queue of every subscriber that wants its kind.

It runs on the bus's thread (``porchlight-bus``) and never waits for a subscriber: a
:class:`~hub.api.subscription.NoticeQueue` drops its oldest notice when full. A notice is made once
per event, whatever the number of subscribers, and not at all while nobody subscribes.
"""

from __future__ import annotations

import logging
import threading

from hub.api import convert
from hub.api import types as api
from hub.api.subscription import NoticeQueue
from hub.core import bus
from hub.core.errors import HubError
from hub.core.model import Event, Protection, Segment
from hub.core.times import now_ms
from hub.db import repo_config, repo_protect
from hub.hub import Hub

logger = logging.getLogger(__name__)


def kind_of(notice: api.Notice) -> str:
    """A notice's kind (its tag on the wire)."""
    return str(type(notice).__struct_config__.tag)


class Notifier:
    """The subscribers of one hub's notices."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._lock = threading.Lock()
        self._queues: set[NoticeQueue] = set()
        self._names: dict[str, str] = {}  # camera id -> name; refreshed when the cameras change
        self._ended: HubError | None = None
        self._unsubscribe = hub.bus.subscribe(self._on_event)

    def subscribe(self, kinds: frozenset[str] | None, size: int) -> NoticeQueue:
        """A new subscriber's queue (UnavailableError once the hub has stopped)."""
        queue = NoticeQueue(kinds, size, on_close=self._forget)
        with self._lock:
            if self._ended is not None:
                raise self._ended
            self._queues.add(queue)
        return queue

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return len(self._queues)

    def end(self, error: HubError) -> None:
        """End every subscription (the hub stopped): each gets ``error`` after what it has queued."""
        self._unsubscribe()
        with self._lock:
            self._ended = error
            queues, self._queues = list(self._queues), set()
        for q in queues:
            q.end(error)

    def _forget(self, queue: NoticeQueue) -> None:
        with self._lock:
            self._queues.discard(queue)

    # -- on the bus thread ---------------------------------------------------------------------------
    def _on_event(self, event: bus.HubEvent) -> None:
        if isinstance(event, bus.CamerasChanged):
            self._names.clear()
        with self._lock:
            queues = list(self._queues)
        if not queues:
            return
        notice = self._notice(event)
        if notice is None:
            return
        kind = kind_of(notice)
        for q in queues:
            if q.wants(kind):
                q.put(notice)

    def _notice(self, event: bus.HubEvent) -> api.Notice | None:
        at = now_ms()
        match event:
            case bus.SegmentClosed(segment=seg):
                kept = self._protections(seg)
                recording = convert.recording(seg, self._name(seg.camera_id), self._hub.storage.root, kept)
                return api.RecordingAdded(at_ms=at, recording=recording)
            case bus.EventStarted(event=ev):
                return api.EventStarted(at_ms=at, event=self._event(ev))
            case bus.EventEnded(event=ev):
                return api.EventEnded(at_ms=at, event=self._event(ev))
            case bus.StatusChanged(status=st):
                watched = self._hub.viewers.watched(st.camera_id)
                camera = convert.camera_status(st, self._name(st.camera_id), watched)
                return api.CameraStateChanged(at_ms=at, camera=camera)
            case bus.CamerasChanged(camera_ids=ids):
                return api.CamerasChanged(at_ms=at, camera_ids=tuple(ids))
            case bus.StorageChanged(state=state, message=message):
                return api.StorageChanged(at_ms=at, state=state, message=message)  # type: ignore[arg-type]
            case bus.ProtectionChanged(protection=p, released=released):
                shown = convert.protection(p, self._name(p.camera_id))
                return api.ProtectionChanged(at_ms=at, protection=shown, released=released)
            case bus.RetentionRan(deleted=count, bytes_freed=freed, emergency=emergency):
                return api.RecordingsRemoved(at_ms=at, count=count, bytes_freed=freed, emergency=emergency)
        return None

    def _protections(self, seg: Segment) -> list[Protection]:
        """The protections covering a new segment (footage recorded into a protected window is kept
        from the start: its notice says so)."""
        try:
            return repo_protect.list_protections(self._hub.engine, seg.camera_id, seg.start_ms, seg.end_ms)
        except Exception:  # noqa: BLE001 - the index is busy or gone: the notice goes without them
            logger.debug("no protections for %s", seg.path, exc_info=True)
            return []

    def _event(self, ev: Event) -> api.Event:
        return convert.event(ev, self._name(ev.camera_id), self._hub.data.root)

    def _name(self, camera_id: str) -> str:
        if not self._names:
            self._names = {c.id: c.name for c in self._hub.cameras()}
        name = self._names.get(camera_id)
        if name is None:  # a camera removed a moment ago: its name is still in the index
            try:
                removed = repo_config.list_cameras(self._hub.engine, include_removed=True)
            except Exception:  # noqa: BLE001 - the index is busy or gone: the id will do
                logger.debug("no name for camera %s", camera_id, exc_info=True)
                return camera_id
            name = next((c.name for c in removed if c.id == camera_id), camera_id)
            self._names[camera_id] = name
        return name
