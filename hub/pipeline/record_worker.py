"""The record thread of one camera: connect, stream-copy into segments, reconnect, report state."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import av
import av.error

from drivers.base import AuthError, DriverError, FrameTap, StreamRequest, UnsupportedError
from drivers.scrub import redact
from hub.core.errors import StorageUnavailable
from hub.core.model import CameraState, CameraStatus
from hub.core.secrets import SecretsLocked, SecretsUnavailable
from hub.core.times import now_ms
from hub.pipeline.context import PipelineContext
from hub.pipeline.detect_worker import DetectWorker
from hub.pipeline.options import driver_options
from hub.recorder.segment import ClosedSegment
from hub.recorder.session import RecordSession, SessionStats

logger = logging.getLogger(__name__)

RAW_FRAMES_KEPT = 4  # the encoder keeps no frames back (zerolatency): a packet follows its picture at once


def _storage_state(exc: StorageUnavailable) -> CameraState:
    """The camera state for a storage problem: a full disk is not a missing one."""
    return "disk_full" if exc.state == "full" else "storage_missing"


class RecordWorker:
    """Runs on thread ``porchlight-rec-<camera>``; never raises out of its loop."""

    def __init__(
        self,
        ctx: PipelineContext,
        detect: DetectWorker | None,
        observed: Callable[[int, int], bool] | None = None,
    ) -> None:
        self.ctx = ctx
        self.cam = ctx.config.id
        self.detect = detect
        #: A full-size live-view decoder of the record stream, beside a detect worker that reads the
        #: camera's sub stream (None when nobody watches the record stream of such a camera).
        self.view: DetectWorker | None = None
        self._observed = observed
        self.stall_s = max(10.0, 4 * ctx.read_timeout_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"porchlight-rec-{self.cam}", daemon=True)
        self.state: CameraState = "stopped"
        self.since_ms = now_ms()
        self.last_error: str | None = None
        self.session: RecordSession | None = None
        self.totals = SessionStats()
        self.connects = 0
        # Sources that encode here hand over their pictures (pts -> frame) for detection.
        self._raw_source = False
        self._raw_frames: dict[int, av.VideoFrame] = {}
        # Watchdog (housekeeping thread): packets seen at the last check, and since when unchanged.
        self._progress = (-1, time.monotonic())

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish (the open segment is finalized)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- state -----------------------------------------------------------------------------
    def _set_state(self, state: CameraState, error: str | None = None) -> None:
        error = redact(error) if error else None
        if state == self.state and error == self.last_error:
            return
        if state != self.state:
            self.since_ms = now_ms()
        self.state, self.last_error = state, error
        if error:
            logger.warning("%s: %s (%s)", self.cam, state, error)
        else:
            logger.info("%s: %s", self.cam, state)
        self.ctx.on_status(CameraStatus(self.cam, state, self.since_ms, error, now_ms(), self.stats()))

    def stats(self) -> dict[str, Any]:
        """Counters for the status heartbeat (plain data)."""
        s = self.session.stats if self.session is not None else None
        tot = self.totals

        def total(name: str) -> int:
            return int(getattr(tot, name)) + (int(getattr(s, name)) if s else 0)

        out: dict[str, Any] = {
            name: total(name)
            for name in (
                "packets_received",
                "packets_written",
                "audio_packets",
                "segments",
                "repaired_ts",
                "bytes",
                "skipped_before_key",
            )
        }
        out["connects"] = self.connects
        detect = self.detect
        if detect is not None:
            out["detect"] = detect.stats()
        return out

    def check_progress(self, now: float | None = None) -> None:
        """Called by housekeeping every few seconds: a camera that is "recording" but delivered no
        packet for ``stall_s`` is reported offline. Drivers with a read deadline (RTSP) notice a
        stall themselves within seconds; this catches a read that blocks inside the platform (a
        hung USB camera driver) so that the owner sees it. The next packet makes it "recording"."""
        now = time.monotonic() if now is None else now
        session = self.session
        received = session.stats.packets_received if session is not None else -1
        if received != self._progress[0]:
            self._progress = (received, now)
            return
        quiet = now - self._progress[1]
        if self.state == "recording" and session is not None and quiet >= self.stall_s:
            self._set_state(
                "offline",
                f"no video for {quiet:.0f} s: the camera stopped sending and does "
                "not answer (unplugging it and plugging it back in may help)",
            )

    # -- loop ------------------------------------------------------------------------------
    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopping."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        policy = self.ctx.retry
        outage_start: float | None = None
        slow_attempts = 0
        self._set_state("connecting")
        while not self._stop.is_set():
            try:
                self.ctx.check_storage()
            except StorageUnavailable as exc:
                self._set_state(_storage_state(exc), str(exc))
                if self._wait(2.0 if exc.state != "full" else 0.5):
                    break
                continue
            if self.state in ("storage_missing", "disk_full"):
                self._set_state("connecting")
            try:
                delay, recorded = self._connect_and_record()
            except Exception as exc:  # noqa: BLE001 - the thread must never die silently
                logger.exception("%s: unexpected failure in the record loop", self.cam)
                self.last_error = redact(f"internal error: {exc}")
                delay, recorded = None, False
            if self._stop.is_set():
                break
            now = time.monotonic()
            if recorded or outage_start is None:
                outage_start, slow_attempts = now, 0
            outage = now - outage_start
            if self.state not in ("auth_failed", "keyring_locked", "storage_missing", "disk_full"):
                self._set_state(policy.state(outage), self.last_error)
            if delay is None:
                delay = policy.delay(outage, slow_attempts)
                if outage >= policy.fast_period_s:
                    slow_attempts += 1
            if self._wait(delay):
                break
        self._set_state("stopped", None)

    def _connect_and_record(self) -> tuple[float | None, bool]:
        """One connection: (retry delay override or None for the policy's, whether it recorded)."""
        cfg = self.ctx.config
        try:
            creds = self.ctx.credentials()
        except SecretsLocked as exc:  # before log-in: nothing is wrong with the password
            self._set_state("keyring_locked", str(exc))
            return self.ctx.retry.keyring_s, False
        except SecretsUnavailable as exc:
            self._set_state("auth_failed", str(exc))
            return self.ctx.retry.auth_s, False
        request = StreamRequest(
            url=cfg.url,
            role="record",
            credentials=creds,
            want_audio=cfg.audio == "keep",
            open_timeout_s=self.ctx.open_timeout_s,
            read_timeout_s=self.ctx.read_timeout_s,
            options=driver_options(cfg),
        )
        try:
            source = self.ctx.driver.open_stream(request)
        except AuthError as exc:
            self._set_state("auth_failed", str(exc))
            return self.ctx.retry.auth_s, False
        except UnsupportedError as exc:
            self.last_error = str(exc)
            return self.ctx.retry.unsupported_s, False
        except DriverError as exc:
            self.last_error = str(exc)
            return None, False
        self.connects += 1
        session = RecordSession(
            self.cam,
            source,
            self.ctx.storage_root(),
            segment_s=self.ctx.segment_s,
            keep_audio=cfg.audio == "keep",
            on_closed=self._segment_closed,
            check_storage=self.ctx.check_storage,
            tee=self._tee,
        )
        self.session = session
        for worker in self._taps():
            worker.new_stream(source.video)
        self._raw_frames.clear()
        tap = source if source.encoded_here and isinstance(source, FrameTap) else None
        self._raw_source = tap is not None
        if tap is not None:
            # The source encodes pictures it already holds: detection takes them as they are
            # instead of decoding our own H.264 again.
            tap.frame_listener = self._on_raw_frame
        recording = False
        try:
            for pkt in source.packets():
                if self._stop.is_set():
                    break
                session.feed(pkt, time.time())
                if self.state != "recording" and session.stats.packets_received:
                    recording = True
                    self._set_state("recording", None)
        except DriverError as exc:
            self.last_error = str(exc)
        except StorageUnavailable as exc:
            self._set_state(_storage_state(exc), str(exc))
        except (av.error.OSError, OSError) as exc:
            if getattr(exc, "errno", None) == errno.ENOSPC:
                self.last_error = "the disk is full: freeing space"
                self.ctx.request_space()
                return 0.5, recording
            self.last_error = f"cannot write recordings: {exc}"
        finally:
            try:
                session.finish()
            except Exception:  # noqa: BLE001
                logger.warning("%s: finishing the segment failed", self.cam, exc_info=True)
            source.close()
            self._fold(session.stats)
            self.session = None
        return None, recording

    def attach_detect(self, detect: DetectWorker | None) -> None:
        """Use another detect/preview worker from now on (any thread)."""
        self.detect = detect
        session = self.session
        if detect is not None and detect.uses_record_stream and session is not None:
            detect.new_stream(session.video)

    def attach_view(self, view: DetectWorker | None) -> None:
        """Hand the record stream to a full-size live-view decoder too, or to none (any thread)."""
        self.view = view
        session = self.session
        if view is not None and session is not None:
            view.new_stream(session.video)

    def _taps(self) -> list[DetectWorker]:
        """The workers that decode the record stream's packets."""
        return [w for w in (self.detect, self.view) if w is not None and w.uses_record_stream]

    def _on_raw_frame(self, frame: av.VideoFrame) -> None:
        """A picture about to be encoded (record thread); ``_tee`` matches it to its packet by pts."""
        if frame.pts is None or not self._taps():
            return
        raw = self._raw_frames
        raw[frame.pts] = frame
        while len(raw) > RAW_FRAMES_KEPT:  # pictures whose packets never reach the tee (held at start)
            raw.pop(next(iter(raw)))

    def _tee(self, pkt: av.Packet[Any], media_s: float, wall_ms: int) -> None:
        taps = self._taps()
        if not taps:
            return
        frame = self._raw_frames.pop(pkt.pts, None) if self._raw_source and pkt.pts is not None else None
        for tap in taps:
            if frame is not None:
                tap.offer_frame(frame, wall_ms)
            elif not self._raw_source:  # (a picture the encoder dropped is simply not analysed)
                tap.offer(pkt, media_s, wall_ms)

    def _fold(self, s: SessionStats) -> None:
        for name in vars(s):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(s, name))

    def _segment_closed(self, seg: ClosedSegment) -> None:
        if self._observed is not None:
            observed = self._observed(seg.start_ms, seg.end_ms)
        else:
            detect = self.detect
            observed = detect is not None and detect.analyse and detect.observed(seg.start_ms, seg.end_ms)
        self.ctx.on_segment(seg, not observed)
        if seg.lost_frames:  # the disk filled up while the file was finished: say so, free space
            self.ctx.request_space()
            self._set_state(
                self.state,
                f"the disk was full: the last {seg.lost_frames} frames of a "
                "segment could not be saved; freeing space",
            )
