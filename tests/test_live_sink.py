"""The hub's side of a live view's slot (hub.api.live.SlotSink): decoded frames in, exact I420 out,
whatever the decoder's row padding or pixel format."""

from __future__ import annotations

import av
import numpy as np
import pytest

from hub.api.frames import FrameReader, slot_path
from hub.api.live import SlotSink


def _i420(frame: av.VideoFrame) -> bytes:
    """The frame's I420 planes packed, the slow sure way: PyAV's own ndarray of each plane."""
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:, : plane.width].tobytes())
    return b"".join(out)


@pytest.mark.parametrize(
    ("width", "height", "fmt"),
    [
        (640, 360, "yuv420p"),
        (636, 358, "yuv420p"),
        (333, 187, "yuv420p"),
        (320, 180, "yuvj420p"),
        (320, 180, "nv12"),
    ],
)
def test_what_the_slot_holds_is_the_picture(tmp_path, width, height, fmt):
    rgb = np.random.default_rng(width).integers(0, 255, (height, width, 3), np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)
    sink = SlotSink(slot_path(tmp_path, "cam", "detect"), "detect")
    try:
        sink.put(frame, 1234)
        with FrameReader(sink.path) as reader:
            got = reader.read()
        as_i420 = frame if fmt in ("yuv420p", "yuvj420p") else frame.reformat(format="yuv420p")
        assert (got.width, got.height, got.ts_ms, got.full_range) == (width, height, 1234, fmt == "yuvj420p")
        assert got.data == _i420(as_i420)
        assert sink.converted == (fmt == "nv12")
        if width == 636:
            assert frame.planes[0].line_size != width  # the padded case really was one
    finally:
        sink.close()
    sink.put(frame, 1300)  # a frame still on its way when the view ended: dropped, no error
    assert not sink.path.exists()
