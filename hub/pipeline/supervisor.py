"""The running camera pipelines, kept in step with the configured cameras.

:meth:`Supervisor.apply` is given the cameras as the index has them now; it stops the pipelines of
cameras that were removed or disabled, restarts those whose record stream changed (its URL, driver,
device settings, audio or credentials), applies every other change to the running pipeline (a
rename, the mode, pre/post-roll, motion settings and zones: no reconnection, no new segment), and
starts one for every enabled camera without one.
A pipeline is stopped at once but joined on a thread of its own: a camera stuck connecting never
holds up the others or the caller. A camera whose driver this build does not have (an index shared
with a newer hub) is shown offline with the reason, and the others start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import av

from drivers.base import DriverError
from hub.core.model import CameraConfig, CameraStatus
from hub.core.times import now_ms
from hub.pipeline.camera import CameraPipeline, reconnects
from hub.pipeline.context import PipelineContext

logger = logging.getLogger(__name__)


class Supervisor:
    """Owns one CameraPipeline per enabled camera; every method is thread-safe."""

    def __init__(
        self,
        make_context: Callable[[CameraConfig], PipelineContext],
        on_status: Callable[[CameraStatus], None],
    ) -> None:
        """``on_status`` hears the state of a camera that could not be started (its pipeline
        reports the state of one that runs through its own context)."""
        self._make_context = make_context
        self._on_status = on_status
        self._pipelines: dict[str, CameraPipeline] = {}
        self._configs: dict[str, CameraConfig] = {}
        self._unstartable: dict[str, CameraStatus] = {}  # camera -> why it has no pipeline
        self._stopping: set[CameraPipeline] = set()  # stopped, still finishing their last segment
        self._mutex = threading.RLock()

    def apply(self, cameras: Iterable[CameraConfig], reconnect: Iterable[str] = ()) -> tuple[str, ...]:
        """Match the pipelines to ``cameras``; return the ids of cameras added, changed or removed.
        The cameras in ``reconnect`` connect again even when their configuration is the same (their
        credentials changed: the keyring, not the index, holds them)."""
        wanted = {c.id: c for c in cameras}
        again = set(reconnect)
        with self._mutex:
            old = self._configs
            for cam_id, p in list(self._pipelines.items()):
                cfg = wanted.get(cam_id)
                if cfg is None or not cfg.enabled or reconnects(p.config, cfg) or cam_id in again:
                    self._stop(cam_id)
                elif cfg != p.config:
                    p.reconfigure(cfg)
            changed = sorted((set(old) ^ set(wanted)) | {c for c in wanted if wanted[c] != old.get(c)})
            self._configs = wanted
            for cam_id in [c for c in self._unstartable if wanted.get(c) != old.get(c)]:
                del self._unstartable[cam_id]
            for cfg in wanted.values():
                if cfg.enabled and cfg.id not in self._pipelines and cfg.id not in self._unstartable:
                    self._start(cfg)
        return tuple(changed)

    def cameras(self) -> list[CameraConfig]:
        """Configured cameras (enabled or not), as last applied."""
        with self._mutex:
            return list(self._configs.values())

    def pipelines(self) -> list[CameraPipeline]:
        """The running pipelines."""
        with self._mutex:
            return list(self._pipelines.values())

    def pipeline(self, camera_id: str) -> CameraPipeline | None:
        """The running pipeline of a camera (None when it has none)."""
        with self._mutex:
            return self._pipelines.get(camera_id)

    def statuses(self) -> list[CameraStatus]:
        """Live status of every configured camera ("stopped" for one without a pipeline)."""
        with self._mutex:
            pipelines = dict(self._pipelines)
            unstartable = dict(self._unstartable)
            configs = list(self._configs)
        now = now_ms()
        out = []
        for cam_id in configs:
            if p := pipelines.get(cam_id):
                out.append(p.status())
            else:
                out.append(unstartable.get(cam_id) or CameraStatus(cam_id, "stopped", now, None, now))
        return out

    def latest_frame(self, camera_id: str) -> tuple[int, av.VideoFrame] | None:
        """Newest decoded frame of a camera for live tiles (None when none yet)."""
        p = self.pipeline(camera_id)
        return p.latest_frame() if p else None

    def stop_all(self, timeout: float) -> list[CameraStatus]:
        """Stop every pipeline and wait for them (open segments are finalized); return their last status."""
        with self._mutex:
            pipelines = list(self._pipelines.values())
            self._pipelines.clear()
            stopping = list(self._stopping)  # a camera removed or changed a moment ago
        for p in pipelines:
            p.stop()
        for p in pipelines + stopping:
            p.join(timeout)  # before the hub closes the index they report into
        return [p.status() for p in pipelines]  # "stopped", with the counters of the whole run

    def _start(self, cfg: CameraConfig) -> None:
        try:
            ctx = self._make_context(cfg)
        except DriverError as exc:
            logger.warning("%s: not started: %s", cfg.id, exc)
            now = now_ms()
            status = self._unstartable[cfg.id] = CameraStatus(cfg.id, "offline", now, str(exc), now)
            self._on_status(status)
            return
        pipeline = CameraPipeline(ctx)
        self._pipelines[cfg.id] = pipeline
        pipeline.start()

    def _stop(self, cam_id: str) -> None:
        p = self._pipelines.pop(cam_id, None)
        if p is None:
            return
        p.stop()
        self._stopping.add(p)

        def join() -> None:
            p.join()
            with self._mutex:
                self._stopping.discard(p)

        threading.Thread(target=join, name=f"porchlight-join-{cam_id}", daemon=True).start()
