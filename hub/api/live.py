"""Live views of the Hub API: a watched stream's frames go into a shared-memory slot
(:mod:`hub.api.frames`) that every client watching it reads; the lease names the slot.

The hub's pipelines hand each decoded frame of a watched stream to a :class:`SlotSink` on their own
thread. It copies the picture's planes as they are (I420; other pixel formats, rare, are converted
first) into the slot, row by row only when the decoder pads its rows. The first Hub API made on a
started hub removes the slots a killed hub of the same data dir left behind (:func:`prepare`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path
from typing import Any

import av
import numpy as np

from hub.api import frames
from hub.hub import Hub
from hub.live.viewers import FrameSink

logger = logging.getLogger(__name__)

#: The capacity a slot starts with (a bigger picture replaces it with a bigger one): 720p for a
#: grid tile's stream, 4K for the record stream. tmpfs only takes the pages a picture touches.
START_CAPACITY = {"detect": frames.i420_size(1280, 720), "record": frames.i420_size(3840, 2160)}
_AS_IS = {"yuv420p": False, "yuvj420p": True}  # pixel formats copied as they are -> full range

_prepared: weakref.WeakSet[Hub] = weakref.WeakSet()
_prepared_lock = threading.Lock()


def prepare(hub: Hub) -> None:
    """Once per started hub: remove the slots a hub of this data dir left when it was killed (the
    caller's hub holds the data dir's lock, so no live hub owns them)."""
    with _prepared_lock:
        if hub in _prepared:
            return
        _prepared.add(hub)
    removed = frames.sweep(hub.data.root)
    if removed:
        logger.info("removed %d live-view slot(s) left by a hub that did not stop", len(removed))


class SlotSink:
    """One watched stream's slot: the pipelines write, the clients read (see :mod:`hub.api.frames`)."""

    def __init__(self, path: Path, role: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._writer: frames.SlotWriter | None = frames.SlotWriter(path, START_CAPACITY.get(role, 0))
        self.converted = 0  # frames that had to change pixel format first

    def put(self, frame: av.VideoFrame, ts_ms: int) -> None:
        """Write one decoded frame (a camera thread)."""
        full_range = _AS_IS.get(frame.format.name)
        if full_range is None:
            frame = frame.reformat(format="yuv420p")
            full_range = False
            self.converted += 1
        w, h = frame.width, frame.height
        cw, ch = frames.chroma_size(w, h)
        with self._lock:
            writer = self._writer
            if writer is None:
                return  # the view ended while this frame was on its way
            with writer.frame(ts_ms, w, h, full_range=full_range) as buf:
                out = np.frombuffer(buf, np.uint8)
                at = 0
                for plane, (pw, ph) in zip(frame.planes, ((w, h), (cw, ch), (cw, ch)), strict=True):
                    _copy_plane(plane, pw, ph, out[at : at + pw * ph])
                    at += pw * ph
                del out

    def close(self) -> None:
        """The view ended (its last lease, or the hub stopped): readers see it; the file goes."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


def _copy_plane(plane: Any, width: int, height: int, out: np.ndarray[Any, Any]) -> None:
    src = np.frombuffer(plane, np.uint8)
    if plane.line_size == width:
        out[:] = src[: width * height]
    else:  # padded rows: copy the picture, leave the padding
        out.reshape(height, width)[:] = src[: plane.line_size * height].reshape(height, plane.line_size)[
            :, :width
        ]


def sink_factory(hub: Hub, camera_id: str, role: str) -> FrameSink:
    """Make the slot of a newly watched stream (called by the hub's viewers under their lock)."""
    return SlotSink(frames.slot_path(hub.data.root, camera_id, role), role)
