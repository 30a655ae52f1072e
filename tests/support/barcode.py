"""Frame-number barcode: black/white blocks in a strip at the top-left of a frame.

The strip holds 8 x 4 cells: 4 sync cells (column 0, rows alternately white/black) give the reader
its threshold, then 20 bits of frame number and an 8-bit CRC. A one-cell black border on the right and
at the bottom keeps the changing cells away from the picture. Cells scale with the frame (8 px at
320x180), so the strip survives H.264 at 320x180 and larger. A frame without the strip, or one too
damaged to read, gives None rather than a wrong number.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Normalized (x, y, w, h) of everything the barcode draws, border included; mask it from motion.
BARCODE_RECT: tuple[float, float, float, float] = (0.0, 0.0, 0.225, 2 / 9)
BITS = 20
MODULO = 1 << BITS
_COLS, _ROWS = 8, 4  # data cells; the drawn grid is one cell wider and taller (border)
_SYNC = (1, 0, 1, 0)  # column 0, top to bottom
_CRC_BITS = 8
_LUMA = (16, 235)  # video-range black/white on a Y plane
_RGB = (0, 255)
_MIN_CONTRAST = 60.0


def _crc8(value: int) -> int:
    crc = 0
    for byte in value.to_bytes(3, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _cells(number: int) -> np.ndarray:
    """The 4 x 8 cell grid (1 = white) for ``number``."""
    value = number % MODULO
    payload = value << _CRC_BITS | _crc8(value)
    bits = [(payload >> (BITS + _CRC_BITS - 1 - i)) & 1 for i in range(BITS + _CRC_BITS)]
    grid = np.zeros((_ROWS, _COLS), dtype=np.uint8)
    grid[:, 0] = _SYNC
    grid[:, 1:] = np.array(bits, dtype=np.uint8).reshape(_ROWS, _COLS - 1)
    return grid


def _edges(height: int, width: int) -> tuple[list[int], list[int]]:
    """Pixel edges of the (rows + 1) x (cols + 1) drawn grid, border cells last."""
    x0, y0, w, h = BARCODE_RECT
    left, top = round(x0 * width), round(y0 * height)
    pw, ph = round(w * width), round(h * height)
    xs = [left + round(i * pw / (_COLS + 1)) for i in range(_COLS + 2)]
    ys = [top + round(i * ph / (_ROWS + 1)) for i in range(_ROWS + 2)]
    return xs, ys


def rect_pixels(height: int, width: int) -> tuple[int, int, int, int]:
    """The strip's (x, y, w, h) in pixels for a frame of this size."""
    xs, ys = _edges(height, width)
    return xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0]


def draw(frame: np.ndarray, number: int) -> None:
    """Draw ``number`` (mod 2**20) in place on a Y plane (H x W) or an RGB frame (H x W x 3)."""
    black, white = _LUMA if frame.ndim == 2 else _RGB
    xs, ys = _edges(frame.shape[0], frame.shape[1])
    frame[ys[0] : ys[-1], xs[0] : xs[-1]] = black
    grid = _cells(number)
    for r in range(_ROWS):
        for c in range(_COLS):
            if grid[r, c]:
                frame[ys[r] : ys[r + 1], xs[c] : xs[c + 1]] = white


def read(y: np.ndarray) -> int | None:
    """Read the frame number from a Y plane (or an RGB frame); None if absent or unreadable."""
    if y.ndim == 3:
        y = y.mean(axis=2)
    xs, ys = _edges(y.shape[0], y.shape[1])
    means = np.empty((_ROWS, _COLS))
    for r in range(_ROWS):
        for c in range(_COLS):
            # centre half of the cell: block edges carry ringing and deblocking
            x0, x1 = xs[c], xs[c + 1]
            y0, y1 = ys[r], ys[r + 1]
            qx, qy = max((x1 - x0) // 4, 0), max((y1 - y0) // 4, 0)
            means[r, c] = float(y[y0 + qy : y1 - qy, x0 + qx : x1 - qx].mean())
    sync = np.array(_SYNC, dtype=bool)
    white, black = means[sync, 0].mean(), means[~sync, 0].mean()
    if white - black < _MIN_CONTRAST:
        return None
    threshold = (white + black) / 2
    if np.any(np.abs(means - threshold) < (white - black) / 4):
        return None  # an ambiguous cell: better no number than a wrong one
    grid = means > threshold
    if not np.array_equal(grid[:, 0], sync):
        return None
    payload = 0
    for bit in grid[:, 1:].reshape(-1):
        payload = payload << 1 | int(bit)
    value, crc = payload >> _CRC_BITS, payload & 0xFF
    return value if _crc8(value) == crc else None
