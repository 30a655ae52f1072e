"""What a camera pipeline needs from the hub, as plain callables (easy to fake in tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.base import Credentials, Driver
from hub.core.model import CameraConfig, CameraStatus
from hub.pipeline.retry import RetryPolicy
from hub.recorder.segment import ClosedSegment


@dataclasses.dataclass
class PipelineContext:
    """Dependencies of one camera pipeline. Every callback may be called from camera threads."""

    config: CameraConfig
    driver: Driver
    storage_root: Callable[[], Path]
    #: Raise hub.core.errors.StorageUnavailable(message) when no segment may be written.
    check_storage: Callable[[], None]
    credentials: Callable[[], Credentials | None]
    on_status: Callable[[CameraStatus], None]
    on_segment: Callable[[ClosedSegment, bool], None]  # (segment, unobserved)
    # (camera, start ms, score, zones, JPEG) and keywords kind="motion", source="local"
    on_event_started: Callable[..., object]
    # (camera, start ms, end ms, score, zones, JPEG) and keywords kind="motion", source="local"
    on_event_ended: Callable[..., object]
    request_space: Callable[[], None] = lambda: None
    #: The roles of this camera someone watches live now ("detect", "record").
    watched: Callable[[], tuple[str, ...]] = lambda: ()
    #: (roles, frame, wall ms): a decoded frame for the live views of those roles (camera threads).
    on_frame: Callable[[tuple[str, ...], Any, int], None] = lambda _roles, _frame, _ts: None
    segment_s: float = 10.0
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    open_timeout_s: float = 15.0
    read_timeout_s: float = 2.5
