"""The detect thread of one camera: decode the detect stream, run motion detection, keep the
latest frame for live tiles.

Input is either the camera's sub stream (its own connection) or, for a one-stream camera, the
record stream's packets handed over by the record thread through a bounded queue. When the queue
overflows, packets are dropped up to the next keyframe (a decoder cannot skip a P-frame) and the
drop is counted; recording never waits for detection. All frames are decoded (the P-frame chain
needs them) but only ``analysis_fps`` of them are shrunk and analysed; the Y plane is used
directly, never converted to colour.

The same worker, without analysis, is the live-view decoder of a camera nobody analyses: it decodes
keyframes only while just a snapshot needs a picture, and every frame while someone watches
(:meth:`DetectWorker.show`). Every decoded frame of a watched stream goes to the live views
(``ctx.on_frame``): the frames detection decodes anyway are the ones the tiles show.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import av
import av.error
import cv2

from drivers.base import AuthError, DriverError, PacketSource, StreamRequest
from hub.core.model import MotionSettings
from hub.core.times import now_ms
from hub.motion.detector import MotionDetector, shrink_luma
from hub.motion.tracker import EventEnded, EventStarted, MotionEventTracker
from hub.pipeline.context import PipelineContext
from hub.pipeline.options import driver_options
from hub.recorder.clock import StreamTimeline, WallClock

logger = logging.getLogger(__name__)

QUEUE_PACKETS = 90  # ~6 s at 15 fps
QUEUE_FRAMES = 8  # raw frames (sources that encode here): each is a whole picture, and any frame will do
COVERAGE_GAP_MS = 2500  # analysed frames further apart than this leave a hole in coverage
MAX_LAG_MS = 3000  # behind by more than this: skip to the next keyframe


def jpeg_of(frame: av.VideoFrame, width: int = 480) -> bytes | None:
    """A JPEG thumbnail of a decoded frame (colour conversion only here, once per event)."""
    try:
        h = max(2, round(frame.height * width / frame.width) // 2 * 2)
        bgr = frame.reformat(width=width, height=h, format="bgr24").to_ndarray()
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return buf.tobytes() if ok else None
    except Exception:  # noqa: BLE001 - a thumbnail is never worth an exception
        logger.debug("thumbnail failed", exc_info=True)
        return None


class DetectWorker:
    """Runs on thread ``porchlight-det-<camera>``."""

    def __init__(self, ctx: PipelineContext, *, analyse: bool = True, record_stream: bool = False) -> None:
        """``record_stream``: decode the record stream even though the camera has a sub stream (a
        full-size live view)."""
        self.ctx = ctx
        self.cam = ctx.config.id
        cfg = ctx.config
        self.uses_record_stream = record_stream or not cfg.sub_url
        #: The live-view roles this worker's frames can serve.
        self.feeds: tuple[str, ...] = (
            ("detect", "record") if not cfg.sub_url else ("record",) if record_stream else ("detect",)
        )
        self.analyse = analyse
        self.roles: tuple[str, ...] = ()  # the roles watched now: each frame goes to them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"porchlight-det-{self.cam}", daemon=True)
        self._q: collections.deque[tuple[str, Any, int]] = collections.deque()  # (kind, item, wall ms)
        self._q_cv = threading.Condition()
        self._resync = True
        self._settings = self._wanted = cfg.motion  # _wanted: set by configure(), taken up here
        self._detector = MotionDetector(cfg.motion)
        self._tracker = MotionEventTracker(cfg.motion)
        self._interval_ms = 1000.0 / max(0.2, cfg.motion.analysis_fps)
        self._next_due = 0.0
        self._latest: tuple[int, av.VideoFrame] | None = None
        self._coverage: collections.deque[list[int]] = collections.deque(maxlen=256)
        self._open_event_start: int | None = None
        self._last_ts = 0
        self.error: str | None = None
        self.counters = {
            "decoded": 0,
            "analysed": 0,
            "dropped": 0,
            "lag_ms": 0,
            "max_lag_ms": 0,
            "events": 0,
            "connects": 0,
        }

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish (an open event is closed)."""
        self._stop.set()
        with self._q_cv:
            self._q_cv.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def show(self, roles: tuple[str, ...]) -> None:
        """Hand every decoded frame to the live views of ``roles`` (any thread; () stops that). A
        worker that does not analyse decodes every frame while it shows, keyframes only otherwise."""
        self.roles = tuple(r for r in roles if r in self.feeds)

    def configure(self, settings: MotionSettings) -> None:
        """New motion settings (any thread): the detect thread takes them up at its next analysed
        frame, keeping the background it learnt, the open event and the stream."""
        self._wanted = settings

    # -- record-stream input (called on the record thread) ------------------------------------
    def new_stream(self, template: av.stream.Stream) -> None:
        """The record thread (re)connected: decode its packets with a fresh decoder."""
        with self._q_cv:
            self._q.clear()
            self._q.append(("stream", template, 0))
            self._q_cv.notify()

    def offer(self, pkt: av.Packet[Any], media_s: float, wall_ms: int) -> None:
        """Hand over one record-stream packet; never blocks (drops to the next keyframe when full)."""
        with self._q_cv:
            if self._resync:
                if not pkt.is_keyframe:
                    return
                self._resync = False
            if len(self._q) >= QUEUE_PACKETS:
                self._q.clear()
                self._resync = not pkt.is_keyframe
                self.counters["dropped"] += QUEUE_PACKETS
                if self._resync:
                    return
            self._q.append(("pkt", pkt, wall_ms))
            self._q_cv.notify()

    def offer_frame(self, frame: av.VideoFrame, wall_ms: int) -> None:
        """Hand over one raw picture of a source that encodes here (USB): nothing to decode.

        Never blocks; when the detector is behind, the oldest pictures are dropped (each stands alone).
        """
        with self._q_cv:
            while len(self._q) >= QUEUE_FRAMES:
                self._q.popleft()
                self.counters["dropped"] += 1
            self._q.append(("frame", frame, wall_ms))
            self._q_cv.notify()

    # -- queries (any thread) ----------------------------------------------------------------
    def latest_frame(self) -> tuple[int, av.VideoFrame] | None:
        """(wall ms, frame) of the newest decoded frame, for live tiles."""
        return self._latest

    def observed(self, start_ms: int, end_ms: int) -> bool:
        """True when detection analysed frames throughout [start_ms, end_ms]."""
        if not self.analyse:
            return False
        for span in list(self._coverage):
            if span[0] <= start_ms and span[1] + COVERAGE_GAP_MS >= end_ms:
                return True
        return False

    def stats(self) -> dict[str, Any]:
        """Counters for the status heartbeat."""
        return {**self.counters, "error": self.error}

    # -- loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.uses_record_stream:
                    self._run_queue()
                else:
                    self._run_own_stream()
            except Exception:  # noqa: BLE001 - never die silently; try again after a pause
                logger.exception("%s: detection failed; restarting it", self.cam)
                self.error = "internal error in detection (see log)"
                self._close_event()
                self._stop.wait(5.0)
        self._close_event()

    def _run_queue(self) -> None:
        decoder: av.CodecContext | None = None
        walls: dict[int, int] = {}
        while not self._stop.is_set():
            with self._q_cv:
                while not self._q and not self._stop.is_set():
                    self._q_cv.wait(1.0)
                if self._stop.is_set():
                    return
                kind, item, wall_ms = self._q.popleft()
            if kind == "stream":
                decoder = self._make_decoder(item)
                walls.clear()
                self._detector.reset()  # a new connection: do not compare against a stale background
                continue
            if kind == "frame":
                self._on_frame(item, wall_ms)
                continue
            if decoder is None:
                continue
            pkt = item
            if pkt.pts is not None:
                walls[pkt.pts] = wall_ms
                if len(walls) > 64:
                    walls.pop(next(iter(walls)))
            for frame in self._decode(decoder, pkt):
                ts = walls.pop(frame.pts, wall_ms) if frame.pts is not None else wall_ms
                self._on_frame(frame, ts)

    def _run_own_stream(self) -> None:
        cfg = self.ctx.config
        while not self._stop.is_set():
            try:
                creds = self.ctx.credentials()
                src = self.ctx.driver.open_stream(
                    StreamRequest(
                        url=cfg.sub_url,
                        role="detect",
                        credentials=creds,
                        want_audio=False,
                        open_timeout_s=self.ctx.open_timeout_s,
                        read_timeout_s=self.ctx.read_timeout_s,
                        options=driver_options(cfg),
                    )
                )
            except AuthError as exc:
                self._down(str(exc))
                if self._stop.wait(self.ctx.retry.auth_s):
                    return
                continue
            except Exception as exc:  # noqa: BLE001 - DriverError, SecretsUnavailable...
                self._down(str(exc))
                if self._stop.wait(2.0):
                    return
                continue
            self.counters["connects"] += 1
            self.error = None
            self._detector.reset()
            try:
                self._consume(src)
            except DriverError as exc:
                self._down(str(exc))
            finally:
                src.close()
            if self._stop.wait(1.0):
                return

    def _consume(self, src: PacketSource) -> None:
        decoder = self._make_decoder(src.video, own=True)
        clock = WallClock()
        timeline = StreamTimeline()
        zero = None
        tb: float | None = None
        skipping = False
        for pkt in src.packets():
            if self._stop.is_set():
                return
            if pkt.pts is None:
                continue
            arrival = time.time()
            if zero is None:
                if not pkt.is_keyframe:
                    continue
                zero = pkt.pts
            if tb is None:
                tb = float(pkt.time_base)
            timeline.correct(pkt, arrival, tb)
            media_s = (pkt.pts - zero) * tb
            clock.observe(arrival, media_s)
            wall = clock.wall_ms(media_s)
            lag = int(arrival * 1000) - wall
            self.counters["lag_ms"] = lag
            self.counters["max_lag_ms"] = max(self.counters["max_lag_ms"], lag)
            if lag > MAX_LAG_MS and not pkt.is_keyframe:
                skipping = True
            if skipping:
                if not pkt.is_keyframe:
                    self.counters["dropped"] += 1
                    continue
                skipping = False
            for frame in self._decode(decoder, pkt):
                self._on_frame(
                    frame, wall if frame.pts == pkt.pts else clock.wall_ms((frame.pts - zero) * tb)
                )

    # -- decoding and analysis ----------------------------------------------------------------
    def _make_decoder(self, stream: av.stream.Stream, own: bool = False) -> av.CodecContext:
        if own:
            cc = stream.codec_context
        else:
            # By codec, not by implementation: our own sources encode with libx264, decode with h264.
            cc = av.CodecContext.create(stream.codec_context.codec.canonical_name, "r")
            if stream.codec_context.extradata:
                cc.extradata = stream.codec_context.extradata
        cc.thread_count = 1  # threads cost more than they save here, and add a frame of delay each
        if self.analyse:
            cc.options = {"skip_loop_filter": "all"}  # deblocking does not matter for motion
        else:
            cc.skip_frame = self._skip_frame()
        return cc

    def _skip_frame(self) -> Literal["DEFAULT", "NONKEY"]:
        """What a decoder that only shows skips: nothing while watched; for a snapshot, keyframes will do."""
        return "DEFAULT" if self.roles else "NONKEY"

    def _decode(self, decoder: av.CodecContext, pkt: av.Packet[Any]) -> Iterator[av.VideoFrame]:
        if not self.analyse and pkt.is_keyframe:  # switch at a keyframe: no broken picture
            if decoder.skip_frame != (want := self._skip_frame()):
                decoder.skip_frame = want
        try:
            frames = decoder.decode(pkt)
        except av.error.FFmpegError:
            self.counters["dropped"] += 1
            return iter(())
        self.counters["decoded"] += len(frames)
        return iter(frames)

    def _on_frame(self, frame: av.VideoFrame, ts_ms: int) -> None:
        self._latest = (ts_ms, frame)
        if roles := self.roles:
            self.ctx.on_frame(roles, frame, ts_ms)
        if not self.analyse or ts_ms < self._next_due:
            return
        # Keep the cadence through jitter; after a gap, start again from this frame.
        self._next_due = max(self._next_due + self._interval_ms, ts_ms + self._interval_ms / 2)
        self._last_ts = ts_ms
        if (wanted := self._wanted) is not self._settings:
            self._settings = wanted
            self._detector.configure(wanted)
            self._tracker.configure(wanted)
            self._interval_ms = 1000.0 / max(0.2, wanted.analysis_fps)
        plane = frame.planes[0]
        gray = shrink_luma(plane, frame.width, frame.height, plane.line_size, self._settings.analysis_width)
        result = self._detector.analyze(gray, ts_ms)
        self.counters["analysed"] += 1
        self._cover(ts_ms)
        for action in self._tracker.update(ts_ms, result, frame):
            self._act(action)

    def _cover(self, ts_ms: int) -> None:
        if self._coverage and ts_ms - self._coverage[-1][1] <= COVERAGE_GAP_MS:
            self._coverage[-1][1] = ts_ms
        else:
            self._coverage.append([ts_ms, ts_ms])

    def _act(self, action: object) -> None:
        if isinstance(action, EventStarted):
            self._open_event_start = action.start_ms
            self.counters["events"] += 1
            thumb = jpeg_of(self._latest[1]) if self._latest else None
            self.ctx.on_event_started(self.cam, action.start_ms, action.score, tuple(action.zones), thumb)
        elif isinstance(action, EventEnded):
            self._open_event_start = None
            best = action.best_frame
            thumb = jpeg_of(best) if isinstance(best, av.VideoFrame) else None
            self.ctx.on_event_ended(
                self.cam, action.start_ms, action.end_ms, action.peak_score, tuple(action.zones), thumb
            )

    def _close_event(self) -> None:
        for action in self._tracker.close(self._last_ts or now_ms()):
            self._act(action)

    def _down(self, message: str) -> None:
        self.error = message
        logger.warning("%s: detection stream: %s", self.cam, message)
        self._close_event()
