"""A synthetic camera: a porch scene where a visitor walks by on a timer.

It lets a new user see the whole app working with no camera, and gives tests a source that needs
no server. Frames are drawn with numpy/OpenCV and encoded to H.264 here (like USB cameras), paced
in real time.
"""

from __future__ import annotations

import fractions
import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import av
import cv2
import numpy as np

from drivers.base import BaseDriver, ProbeResult, StreamInfo, StreamRequest

DEFAULTS = {"width": "640", "height": "360", "fps": "10", "period_s": "30", "visit_s": "6"}


def _background(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    img = np.empty((h, w, 3), np.uint8)
    img[: h // 2] = (200, 170, 120)  # sky (BGR)
    img[h // 2 :] = (70, 110, 80)  # lawn
    cv2.rectangle(img, (w // 8, h // 5), (w // 2, int(h * 0.8)), (150, 160, 175), -1)  # house
    cv2.rectangle(
        img, (int(w * 0.27), int(h * 0.45)), (int(w * 0.36), int(h * 0.8)), (40, 60, 110), -1
    )  # door
    cv2.rectangle(img, (0, int(h * 0.8)), (w, h), (120, 120, 120), -1)  # sidewalk
    texture = rng.integers(-12, 12, size=(h, w, 1), dtype=np.int16)
    out: np.ndarray = np.clip(img.astype(np.int16) + texture, 0, 255).astype(np.uint8)
    return out


class DemoSource:
    """Generates and encodes the demo scene (see drivers.base.PacketSource)."""

    encoded_here = True
    audio = None
    start_time_realtime_us = None

    def __init__(self, request: StreamRequest) -> None:
        opts = {**DEFAULTS, **request.options}
        self.width, self.height = int(opts["width"]) // 2 * 2, int(opts["height"]) // 2 * 2
        self.fps = int(opts["fps"])
        self.period_s, self.visit_s = float(opts["period_s"]), float(opts["visit_s"])
        self._holder = av.open(io.BytesIO(), "w", format="mp4")
        vs = self._holder.add_stream(
            "libx264",
            rate=self.fps,
            options={
                "preset": "ultrafast",
                "tune": "zerolatency",
                "g": str(self.fps * 2),
                "bf": "0",
                "crf": "26",
                "threads": "1",
            },
        )
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, "yuv420p"
        vs.time_base = fractions.Fraction(1, self.fps)
        self._holder.start_encoding()  # opens the encoder so the stream can serve as a template
        self.video = vs
        self._bg = _background(self.width, self.height)
        self._closed = threading.Event()

    def _draw(self, t: float) -> np.ndarray:
        img = self._bg.copy()
        phase = t % self.period_s
        if phase < self.visit_s:  # a visitor crosses the frame
            w, h = self.width, self.height
            x = int(-w * 0.1 + (phase / self.visit_s) * w * 1.2)
            top, bottom = int(h * 0.45), int(h * 0.92)
            cv2.rectangle(img, (x, top), (x + w // 14, bottom), (30, 30, 160), -1)
            cv2.circle(img, (x + w // 28, top - h // 20), h // 18, (140, 170, 220), -1)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        cv2.putText(img, "DEMO " + stamp, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        return img

    def packets(self) -> Iterator[av.Packet[Any]]:
        """Yield encoded packets in real time until closed."""
        t0 = time.monotonic()
        n = 0
        while not self._closed.is_set():
            due = t0 + n / self.fps
            delay = due - time.monotonic()
            if delay > 0 and self._closed.wait(delay):
                break
            frame = av.VideoFrame.from_ndarray(self._draw(time.time()), format="bgr24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = n
            frame.time_base = self.video.codec_context.time_base  # the muxer may change the stream's
            n += 1
            yield from self.video.encode(frame)

    def close(self) -> None:
        """Stop generating (idempotent)."""
        self._closed.set()


class DemoDriver(BaseDriver):
    """The synthetic demo camera: added explicitly, never discovered."""

    kind = "demo"
    title = "Demo camera"

    def probe(self, request: StreamRequest) -> ProbeResult:
        """Describe the synthetic stream."""
        opts = {**DEFAULTS, **request.options}
        return ProbeResult(
            streams=(StreamInfo(None, "h264", int(opts["width"]), int(opts["height"]), float(opts["fps"])),),
            manufacturer="Porchlight",
            model="Demo",
        )

    def open_stream(self, request: StreamRequest) -> DemoSource:
        """Start the synthetic scene."""
        return DemoSource(request)
