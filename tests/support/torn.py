"""Two ends of a frame slot, each a process of its own, for the torn-frame test.

``python -m tests.support.torn write PATH SECONDS BUFFERS`` writes patterned 640x360 pictures as
fast as it can: picture ``n`` is every byte ``n % 251``, stamped ``ts_ms = 10 * n``. It prints
``{"written": N}`` and closes the slot.

``python -m tests.support.torn read PATH SECONDS [--no-check]`` reads the newest picture over and
over and checks each one whole: every byte must be its seq's value and the stamp must match the seq.
It prints ``{"read": N, "torn": T, "backwards": B, "retries": R}``. ``--no-check`` turns the
reader's seqlock off, to show that the checker does see tears when nothing prevents them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hub.api.frames import FrameReader, FrameSlotError, SlotWriter, i420_size

WIDTH, HEIGHT = 640, 360


def write(path: Path, seconds: float, buffers: int) -> dict[str, int]:
    size = i420_size(WIDTH, HEIGHT)
    writer = SlotWriter(path, size, buffers=buffers)
    end = time.monotonic() + seconds
    n = 0
    try:
        while time.monotonic() < end:
            n += 1
            with writer.frame(10 * n, WIDTH, HEIGHT) as buf:
                buf[:] = bytes([n % 251]) * size
    finally:
        writer.close()
    return {"written": n}


def read(path: Path, seconds: float, check: bool) -> dict[str, int]:
    reader = FrameReader(path, check=check)
    end = time.monotonic() + seconds
    last = count = torn = backwards = 0
    while time.monotonic() < end and not reader.closed:
        try:
            frame = reader.read(after=0 if not check else last)
        except FrameSlotError:  # unchecked metadata from the middle of a write
            torn += 1
            continue
        if frame is None or frame.seq == last:
            continue
        count += 1
        value = bytes([frame.seq % 251])
        if frame.ts_ms != 10 * frame.seq or frame.data.strip(value):
            torn += 1
        if frame.seq < last:
            backwards += 1
        last = frame.seq
    reader.close()
    return {"read": count, "torn": torn, "backwards": backwards, "retries": reader.torn}


if __name__ == "__main__":
    what, where, secs = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    if what == "write":
        out = write(where, secs, int(sys.argv[4]))
    else:
        out = read(where, secs, check="--no-check" not in sys.argv[4:])
    print(json.dumps(out), flush=True)
