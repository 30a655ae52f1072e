"""The one seam between the hub and Qt.

The hub publishes plain events on its bus; callbacks run on the ``porchlight-bus`` thread. This
bridge re-emits them as Qt signals. The bridge object lives in the GUI thread, so Qt queues every
emission to the GUI thread: slots connected to these signals always run on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from hub.core.bus import (
    CamerasChanged,
    EventBus,
    EventEnded,
    EventStarted,
    HubEvent,
    RetentionRan,
    SegmentClosed,
    StatusChanged,
    StorageChanged,
)


class HubBridge(QObject):
    """Qt signals for hub events (payloads are the hub's immutable dataclasses)."""

    statusChanged = Signal(object)  # hub.core.model.CameraStatus
    camerasChanged = Signal(object)  # tuple of camera ids
    segmentClosed = Signal(object)  # hub.core.model.Segment
    eventStarted = Signal(object)  # hub.core.model.Event
    eventEnded = Signal(object)  # hub.core.model.Event
    storageChanged = Signal(str, str)  # state, message
    retentionRan = Signal(object)  # hub.core.bus.RetentionRan

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe = bus.subscribe(self._on_bus_event)

    def _on_bus_event(self, ev: HubEvent) -> None:  # runs on the bus thread
        if isinstance(ev, StatusChanged):
            self.statusChanged.emit(ev.status)
        elif isinstance(ev, CamerasChanged):
            self.camerasChanged.emit(ev.camera_ids)
        elif isinstance(ev, SegmentClosed):
            self.segmentClosed.emit(ev.segment)
        elif isinstance(ev, EventStarted):
            self.eventStarted.emit(ev.event)
        elif isinstance(ev, EventEnded):
            self.eventEnded.emit(ev.event)
        elif isinstance(ev, StorageChanged):
            self.storageChanged.emit(ev.state, ev.message)
        elif isinstance(ev, RetentionRan):
            self.retentionRan.emit(ev)

    def close(self) -> None:
        """Stop receiving hub events."""
        self._unsubscribe()
