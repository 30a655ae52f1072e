"""A camera's picture as a JPEG for the Hub API's ``snapshot``: the newest decoded frame, encoded at
full size when it fits the size a reply may carry, else smaller until it does."""

from __future__ import annotations

import av
import cv2

QUALITY = 88
SHRINK = 0.75  # each try that is too big is this much narrower
MIN_WIDTH = 160


def encode(frame: av.VideoFrame, max_bytes: int) -> tuple[bytes, int, int]:
    """(JPEG, width, height) of ``frame``, at most ``max_bytes`` long (ValueError when even a small
    picture is not)."""
    width, height = frame.width, frame.height
    while True:
        bgr = frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        if not ok:
            raise ValueError("the picture could not be encoded as a JPEG")
        if len(buf) <= max_bytes:
            return buf.tobytes(), width, height
        if width <= MIN_WIDTH:
            raise ValueError(f"the picture does not fit in {max_bytes} bytes")
        width = max(MIN_WIDTH, int(width * SHRINK) // 2 * 2)
        height = max(2, round(frame.height * width / frame.width) // 2 * 2)
