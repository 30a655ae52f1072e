"""One camera's pipeline: its record thread and (optionally) its detect thread.

With detection on, the detect thread always runs, and its frames feed the live tiles too (no
second decode). With detection off, nothing is decoded unless somebody looks: a live view's lease
(:meth:`CameraPipeline.views_changed`) starts a decoder that decodes every frame while it is
watched; a snapshot alone starts one that decodes keyframes, stopped once nobody has asked for
``PREVIEW_IDLE_S``. The full-size record stream of a camera whose detection reads its sub stream
is decoded only while a record-role view is open. A headless hub never decodes for nothing.

A changed configuration is applied to the running pipeline (:meth:`CameraPipeline.reconfigure`)
unless it changes the record stream itself (:func:`reconnects`): the record thread keeps its
connection and its open segment. New motion settings and zones reach the detector at its next
frame; turning detection or the camera's own events on or off, or a new detect stream, replaces
only that thread. Retention reads the mode and the pre/post-roll from the configuration.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import av

from drivers.base import EventListener, EventSubscription, StatusListener
from hub.core.model import CameraConfig, CameraStatus
from hub.core.times import now_ms
from hub.pipeline.context import PipelineContext
from hub.pipeline.detect_worker import DetectWorker
from hub.pipeline.events_worker import CameraEventsWorker, SourceFactory
from hub.pipeline.options import driver_options
from hub.pipeline.record_worker import RecordWorker

logger = logging.getLogger(__name__)

PREVIEW_IDLE_S = 15.0
#: The fields that make the record stream: a change to any of them reconnects the camera.
RECORD_STREAM_FIELDS = ("driver", "url", "device", "audio", "has_credentials")


def reconnects(old: CameraConfig, new: CameraConfig) -> bool:
    """True when going from ``old`` to ``new`` needs a new record connection (and so a new segment)."""
    return any(getattr(old, f) != getattr(new, f) for f in RECORD_STREAM_FIELDS)


def _analyses(cfg: CameraConfig) -> bool:
    """Whether the camera runs local motion detection."""
    return cfg.detect and cfg.events in ("local", "both")


def _hears_camera(cfg: CameraConfig) -> bool:
    """Whether the camera's own events are listened to."""
    return cfg.events in ("camera", "both")


class _Stoppable(Protocol):
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> bool: ...


def event_source_factory(ctx: PipelineContext) -> SourceFactory | None:
    """How to subscribe to this camera's own events (None: it has none)."""
    options = driver_options(ctx.config)
    if not ctx.driver.has_events(options):
        return None

    def make(on_event: EventListener, on_status: StatusListener) -> EventSubscription:
        return ctx.driver.open_events(options, ctx.credentials(), on_event, on_status)

    return make


class CameraPipeline:
    """Start, stop and observe one camera. Threads: ``porchlight-rec-<id>``, ``porchlight-det-<id>``."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self._lock = threading.Lock()
        self._stopping = False
        self._last_view = 0.0
        self._retired: list[_Stoppable] = []  # replaced workers, stopped, joined by join()
        self.detect: DetectWorker | None = DetectWorker(ctx, analyse=True) if _analyses(ctx.config) else None
        self.events = self._events_worker()
        self.record = RecordWorker(ctx, self.detect, observed=self.observed)
        self.view: DetectWorker | None = None  # the record stream's live view, beside a sub stream

    def _events_worker(self) -> CameraEventsWorker | None:
        if not _hears_camera(self.ctx.config) or (factory := event_source_factory(self.ctx)) is None:
            return None
        return CameraEventsWorker(self.ctx, factory, latest_frame=self.latest_frame_if_any)

    def start(self) -> None:
        """Start the threads."""
        if self.detect is not None:
            self.detect.start()
        if self.events is not None:
            self.events.start()
        self.record.start()
        self.views_changed()  # a restarted camera keeps the live views it had

    def observed(self, start_ms: int, end_ms: int) -> bool:
        """True when every event source of this camera watched [start_ms, end_ms]: local motion
        detection and/or the camera's own events. Unobserved footage is kept in motion mode."""
        sources: list[DetectWorker | CameraEventsWorker | None] = []
        if _analyses(self.config):
            sources.append(self.detect)
        if _hears_camera(self.config):
            sources.append(self.events)
        if not sources:
            return False
        return all(s is not None and s.observed(start_ms, end_ms) for s in sources)

    def latest_frame_if_any(self) -> tuple[int, av.VideoFrame] | None:
        """The newest decoded frame without starting a live view (for event thumbnails)."""
        detect = self.detect
        return detect.latest_frame() if detect is not None else None

    def reconfigure(self, cfg: CameraConfig) -> None:
        """Apply a changed configuration of this camera without touching its record stream (the
        caller restarts the pipeline instead when :func:`reconnects` says so). Any thread."""
        if reconnects(self.config, cfg) or cfg.id != self.config.id:
            raise ValueError(f"{cfg.id}: this change needs a new record connection")
        with self._lock:
            if self._stopping:
                return
            old = self.config
            self.ctx.config = self.config = cfg  # read by the workers at their next (re)connection
            detect = new = self.detect
            new_detect = (_analyses(old), old.sub_url) != (_analyses(cfg), cfg.sub_url)
            if new_detect:
                new = self.detect = DetectWorker(self.ctx, analyse=True) if _analyses(cfg) else None
                if new is not None:
                    new.start()  # under the lock: stop() never meets an unstarted worker
            old_events = new_events = self.events
            if _hears_camera(old) != _hears_camera(cfg):
                new_events = self.events = self._events_worker()
                if new_events is not None:
                    new_events.start()
        if new_detect:
            self._replace(detect, new)
            logger.info("%s: detection %s", cfg.id, "restarted" if new else "stopped")
            self.views_changed()  # the live views move to the new worker (or to a new decoder)
        elif cfg.motion != old.motion and detect is not None and detect.analyse:
            detect.configure(cfg.motion)
            logger.info("%s: motion settings applied", cfg.id)
        if new_events is not old_events:
            if old_events is not None:
                self._retire(old_events)
            logger.info("%s: camera events %s", cfg.id, "on" if new_events else "off")

    def _replace(self, old: DetectWorker | None, new: DetectWorker | None) -> None:
        """Hand the record stream to ``new`` (started) and retire ``old`` (a preview too)."""
        self.record.attach_detect(new)
        if old is not None:
            self._retire(old)

    def _retire(self, worker: _Stoppable) -> None:
        """Stop a replaced worker; :meth:`join` waits for it with the others."""
        worker.stop()
        with self._lock:
            self._retired = [w for w in self._retired if not w.join(0)] + [worker]

    def stop(self) -> None:
        """Ask the threads to stop (non-blocking; see join)."""
        with self._lock:
            self._stopping = True
            detect, view = self.detect, self.view
        self.record.stop()
        for worker in (detect, view):
            if worker is not None:
                worker.stop()
        # The camera's events stop in join(), after the record thread finished: its last segment
        # is judged while the event source still watches.

    def join(self, timeout: float = 25.0) -> bool:
        """Wait for the threads; False when one is still running after ``timeout``."""
        ok = self.record.join(timeout)
        for decoder in (self.detect, self.view):
            if decoder is not None:
                ok = decoder.join(5.0) and ok
        if self.events is not None:
            self.events.stop()
            ok = self.events.join(10.0) and ok
        with self._lock:
            retired, self._retired = self._retired, []
        for worker in retired:
            ok = worker.join(5.0) and ok
        if not ok:
            logger.warning("%s: pipeline did not stop within %.0f s", self.config.id, timeout)
        return ok

    def status(self) -> CameraStatus:
        """Current state and counters."""
        r = self.record
        stats = r.stats()
        if self.events is not None:
            stats["camera_events"] = self.events.stats()
        return CameraStatus(self.config.id, r.state, r.since_ms, r.last_error, now_ms(), stats)

    def latest_frame(self) -> tuple[int, av.VideoFrame] | None:
        """Newest decoded frame for a snapshot (starting a keyframe decoder if needed), or None."""
        self._last_view = time.monotonic()
        detect = self.detect
        if detect is None:
            self._start_preview()
            return None
        return detect.latest_frame()

    def _start_preview(self) -> None:
        with self._lock:
            preview = None if self._stopping else self._new_preview_locked()
        if preview is not None:
            self.record.attach_detect(preview)
            logger.info("%s: live view started", self.config.id)

    def _new_preview_locked(self) -> DetectWorker | None:
        """Under the lock: start a decoder that only shows (no analysis) when the camera has no
        detect worker; the new one (to attach to the record stream after the lock), or None."""
        if self.detect is not None:
            return None
        self.detect = DetectWorker(self.ctx, analyse=False)
        self.detect.start()  # under the lock: stop() never meets an unstarted worker
        return self.detect

    def views_changed(self) -> None:
        """The live views of this camera changed (any thread): decode what is watched now, hand its
        frames to the views, and stop decoding what nobody watches any more."""
        with self._lock:  # the watched roles are read under it too: two changes never cross
            if self._stopping:
                return
            watched = set(self.ctx.watched())
            cfg = self.config
            # A one-stream camera's detect worker serves both roles; else it serves "detect".
            shown_by_detect = watched & {"detect", *(() if cfg.sub_url else ("record",))}
            started = self._new_preview_locked() if shown_by_detect else None
            detect = self.detect
            old_view = new_view = self.view
            if "record" in watched and cfg.sub_url and old_view is None:
                new_view = self.view = DetectWorker(self.ctx, analyse=False, record_stream=True)
                new_view.start()
            elif not ("record" in watched and cfg.sub_url):
                new_view = self.view = None
            self._last_view = time.monotonic()  # a preview nobody watches now is reaped later
            if detect is not None:
                detect.show(tuple(watched))
            if new_view is not None:
                new_view.show(("record",))
        if started is not None:
            self.record.attach_detect(started)
            logger.info("%s: live view started", cfg.id)
        if new_view is not old_view:
            self.record.attach_view(new_view)
            if old_view is not None:
                self._retire(old_view)
            logger.info("%s: full-size live view %s", cfg.id, "started" if new_view else "stopped")

    def check_progress(self) -> None:
        """Housekeeping: report a record stream that stopped without an error (see RecordWorker)."""
        self.record.check_progress()

    def reap_idle_preview(self) -> None:
        """Stop a preview-only decoder nobody has looked at for a while (housekeeping)."""
        with self._lock:
            preview = self.detect
            if (
                preview is None
                or preview.analyse
                or preview.roles
                or time.monotonic() - self._last_view < PREVIEW_IDLE_S
            ):
                return
            self.detect = None
        self._replace(preview, None)
        logger.info("%s: live view stopped (nobody watching)", self.config.id)
