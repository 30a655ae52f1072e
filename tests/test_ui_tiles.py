"""A tile's picture: a slot's I420 frame scaled and converted off the GUI thread (ui.tiles)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from hub.api.frames import FrameReader, slot_path
from hub.api.live import SlotSink
from ui.tiles import frame_to_qimage


@pytest.mark.parametrize(("width", "height"), [(640, 360), (333, 187)])
def test_colours_and_shape_survive_the_trip(tmp_path, width, height):
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (200, 30, 30)  # left half red, right half blue
    rgb[:, width // 2 :] = (30, 30, 200)
    sink = SlotSink(slot_path(tmp_path, "cam", "detect"), "detect")
    try:
        sink.put(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"), 1)
        with FrameReader(sink.path) as reader:
            img = frame_to_qimage(reader.read(), 320)
    finally:
        sink.close()
    assert img.width() == 320 and abs(img.height() - round(320 * height / width)) <= 2
    left, right = img.pixelColor(40, img.height() // 2), img.pixelColor(280, img.height() // 2)
    assert left.red() > 150 and left.blue() < 80, left.getRgb()
    assert right.blue() > 150 and right.red() < 80, right.getRgb()


def test_a_small_stream_is_never_scaled_up(tmp_path):
    sink = SlotSink(slot_path(tmp_path, "small", "detect"), "detect")
    try:
        sink.put(av.VideoFrame(160, 90, "yuv420p"), 1)
        with FrameReader(sink.path) as reader:
            assert (
                frame_to_qimage(reader.read(), 640).width() == 160
            )  # converted at its own size, not blown up
    finally:
        sink.close()
