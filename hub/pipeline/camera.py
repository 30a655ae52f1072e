"""One camera's pipeline: its record thread and (optionally) its detect thread."""

from __future__ import annotations

import logging

import av

from hub.model import CameraStatus
from hub.pipeline.context import PipelineContext
from hub.pipeline.detect_worker import DetectWorker
from hub.pipeline.record_worker import RecordWorker
from hub.timefmt import now_ms

logger = logging.getLogger(__name__)


class CameraPipeline:
    """Start, stop and observe one camera. Threads: ``porchlight-rec-<id>``, ``porchlight-det-<id>``."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        # Detection runs when enabled; otherwise a keyframe-only decoder still feeds the live tile.
        self.detect = DetectWorker(ctx, analyse=ctx.config.detect)
        self.record = RecordWorker(ctx, self.detect)

    def start(self) -> None:
        """Start both threads."""
        self.detect.start()
        self.record.start()

    def stop(self) -> None:
        """Ask both threads to stop (non-blocking; see join)."""
        self.record.stop()
        self.detect.stop()

    def join(self, timeout: float = 25.0) -> bool:
        """Wait for both threads; False when one is still running after ``timeout``."""
        ok = self.record.join(timeout)
        ok = self.detect.join(5.0) and ok
        if not ok:
            logger.warning("%s: pipeline did not stop within %.0f s", self.config.id, timeout)
        return ok

    def status(self) -> CameraStatus:
        """Current state and counters."""
        r = self.record
        return CameraStatus(self.config.id, r.state, r.since_ms, r.last_error, now_ms(), r.stats())

    def latest_frame(self) -> tuple[int, av.VideoFrame] | None:
        """Newest decoded frame for the live tile, or None."""
        return self.detect.latest_frame()
