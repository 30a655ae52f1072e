"""One camera's pipeline: its record thread and (optionally) its detect thread.

With detection on, the detect thread always runs (it also feeds the live tile). With detection
off, nothing is decoded unless somebody looks: a keyframe-only decoder starts when a live tile
asks for frames and stops once nobody has asked for ``PREVIEW_IDLE_S``, so a headless hub never
decodes for nothing.
"""

from __future__ import annotations

import logging
import threading
import time

import av

from hub.model import CameraStatus
from hub.pipeline.context import PipelineContext
from hub.pipeline.detect_worker import DetectWorker
from hub.pipeline.record_worker import RecordWorker
from hub.timefmt import now_ms

logger = logging.getLogger(__name__)

PREVIEW_IDLE_S = 15.0


class CameraPipeline:
    """Start, stop and observe one camera. Threads: ``porchlight-rec-<id>``, ``porchlight-det-<id>``."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self._lock = threading.Lock()
        self._stopping = False
        self._last_view = 0.0
        self.detect: DetectWorker | None = DetectWorker(ctx, analyse=True) if ctx.config.detect else None
        self.record = RecordWorker(ctx, self.detect)

    def start(self) -> None:
        """Start the threads."""
        if self.detect is not None:
            self.detect.start()
        self.record.start()

    def stop(self) -> None:
        """Ask the threads to stop (non-blocking; see join)."""
        with self._lock:
            self._stopping = True
            detect = self.detect
        self.record.stop()
        if detect is not None:
            detect.stop()

    def join(self, timeout: float = 25.0) -> bool:
        """Wait for the threads; False when one is still running after ``timeout``."""
        ok = self.record.join(timeout)
        detect = self.detect
        if detect is not None:
            ok = detect.join(5.0) and ok
        if not ok:
            logger.warning("%s: pipeline did not stop within %.0f s", self.config.id, timeout)
        return ok

    def status(self) -> CameraStatus:
        """Current state and counters."""
        r = self.record
        return CameraStatus(self.config.id, r.state, r.since_ms, r.last_error, now_ms(), r.stats())

    def latest_frame(self) -> tuple[int, av.VideoFrame] | None:
        """Newest decoded frame for the live tile (starting a preview decoder if needed), or None."""
        self._last_view = time.monotonic()
        detect = self.detect
        if detect is None:
            self._start_preview()
            return None
        return detect.latest_frame()

    def _start_preview(self) -> None:
        with self._lock:
            if self._stopping or self.detect is not None:
                return
            preview = DetectWorker(self.ctx, analyse=False)
            self.detect = preview
        preview.start()
        self.record.attach_detect(preview)
        logger.info("%s: live view started", self.config.id)

    def reap_idle_preview(self) -> None:
        """Stop a preview-only decoder nobody has looked at for a while (housekeeping)."""
        with self._lock:
            preview = self.detect
            if preview is None or preview.analyse or time.monotonic() - self._last_view < PREVIEW_IDLE_S:
                return
            self.detect = None
        self.record.attach_detect(None)
        preview.stop()
        threading.Thread(target=preview.join, args=(5.0,), name=f"porchlight-join-{self.config.id}",
                         daemon=True).start()
        logger.info("%s: live view stopped (nobody watching)", self.config.id)
