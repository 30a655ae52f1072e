"""What a running hub tells its subscribers as it happens, and the lease of a live view.

A subscriber (:meth:`hub.api.protocol.HubApi.subscribe`) gets :data:`Notice` values in the order the
hub published them. Recordings and events carry the ids the index gave them: they are published
once the row is committed, so a subscriber may look them up at once. A subscriber that falls behind
loses the oldest notices waiting for it, never the hub's time: it then gets one :class:`Missed`
saying how many, and should ask again (``status``, ``recordings``, ``events``) to catch up.
"""

from __future__ import annotations

from typing import Literal

from hub.api.types.base import StorageState, Value
from hub.api.types.config import CameraStatus
from hub.api.types.devices import Role
from hub.api.types.media import Event, Protection, Recording

__all__ = [
    "CameraStateChanged",
    "CamerasChanged",
    "EventEnded",
    "EventStarted",
    "Lease",
    "Missed",
    "Notice",
    "NoticeBase",
    "NoticeKind",
    "ProtectionChanged",
    "RecordingAdded",
    "RecordingsRemoved",
    "StorageChanged",
]

#: What a subscriber may ask for (a Missed is always delivered).
NoticeKind = Literal[
    "recording",  # a segment was closed and indexed
    "event_started",
    "event_ended",
    "camera_state",  # a camera's state changed (connecting, recording, offline, ...)
    "cameras",  # cameras were added, changed or removed
    "storage",  # the recordings folder's state changed
    "retention",  # retention removed recordings
    "protection",  # footage was protected, or a protection released
]


class NoticeBase(Value, frozen=True, kw_only=True, tag_field="kind"):
    """Base of every notice: ``at_ms`` is when the hub published it."""

    at_ms: int


class RecordingAdded(NoticeBase, frozen=True, kw_only=True, tag="recording"):
    """A segment was closed and is in the index."""

    recording: Recording


class EventStarted(NoticeBase, frozen=True, kw_only=True, tag="event_started"):
    """An event began (motion, a doorbell press, ...); its row is in the index."""

    event: Event


class EventEnded(NoticeBase, frozen=True, kw_only=True, tag="event_ended"):
    """An event ended; its row (the same id as at its start) is updated."""

    event: Event


class CameraStateChanged(NoticeBase, frozen=True, kw_only=True, tag="camera_state"):
    """A camera's state changed."""

    camera: CameraStatus


class CamerasChanged(NoticeBase, frozen=True, kw_only=True, tag="cameras"):
    """Cameras were added, changed or removed (ask ``cameras()`` for them)."""

    camera_ids: tuple[str, ...]


class StorageChanged(NoticeBase, frozen=True, kw_only=True, tag="storage"):
    """The recordings folder's state changed."""

    state: StorageState
    message: str


class RecordingsRemoved(NoticeBase, frozen=True, kw_only=True, tag="retention"):
    """Retention removed recordings (``emergency``: to free a full disk, not by the policy)."""

    count: int
    bytes_freed: int
    emergency: bool = False


class ProtectionChanged(NoticeBase, frozen=True, kw_only=True, tag="protection"):
    """A protection was added, or released (``released``); its recordings' ``kept_for`` changed."""

    protection: Protection
    released: bool = False


class Missed(NoticeBase, frozen=True, kw_only=True, tag="missed"):
    """The subscriber fell behind and ``count`` notices were dropped before this one: ask the hub
    again for what matters."""

    count: int


Notice = (
    RecordingAdded
    | EventStarted
    | EventEnded
    | CameraStateChanged
    | CamerasChanged
    | StorageChanged
    | RecordingsRemoved
    | ProtectionChanged
    | Missed
)


class Lease(Value, frozen=True, kw_only=True):
    """Someone watches a camera's stream live (``role``: the recorded main stream, or the small
    detect stream a grid tile shows). It lasts until :meth:`~hub.api.protocol.HubApi.unwatch`, or
    until its client's connection ends."""

    id: int
    camera_id: str
    role: Role
    since_ms: int
    #: The shared-memory slot (a file path) the hub writes this stream's newest frame into; read it
    #: with :class:`hub.api.frames.FrameReader`. The leases of one stream share it.
    frames: str | None = None
