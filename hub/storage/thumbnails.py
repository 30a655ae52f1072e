"""Event thumbnails: ``thumbs/<camera>/<start ms>.jpg`` in the data dir, each written whole or not at all."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

logger = logging.getLogger(__name__)


class Thumbnails:
    """Writes the JPEGs that the detect threads take of an event; the index stores their relative paths."""

    def __init__(self, data_root: Path) -> None:
        self._root = data_root

    def save(self, camera_id: str, start_ms: int, jpeg: bytes | None) -> str | None:
        """Store the thumbnail of the event starting at ``start_ms``; return its path in the data dir.

        None when there is no picture or it could not be written (a full disk never fails the event:
        the event is kept without a thumbnail). A newer picture of the same event replaces the older.
        """
        if not jpeg:
            return None
        rel = f"thumbs/{camera_id}/{start_ms}.jpg"
        path = self._root / rel
        # One temporary name per thread: the start and the end of an event may come from two threads.
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(jpeg)
            os.replace(tmp, path)
        except OSError:
            logger.warning("could not write thumbnail %s", rel, exc_info=True)
            with contextlib.suppress(OSError):  # the folder itself may be what failed
                tmp.unlink(missing_ok=True)
            return None
        return rel
