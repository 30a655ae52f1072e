"""Recordings on disk: layout, storage marker, the hub lock, probing and reconciling segment files.

``probe`` and ``scan`` import PyAV; import them from their modules (``hub.storage.probe``) so that the
light helpers here stay cheap to import.
"""

from hub.storage.layout import (
    SEGMENT_META_TAG,
    decode_segment_meta,
    encode_segment_meta,
    iter_segment_files,
    parse_segment_relpath,
    segment_relpath,
)
from hub.storage.lock import HubLock, HubLockedError
from hub.storage.marker import (
    StorageCheck,
    check_storage,
    disk_state,
    initialize_storage,
)

__all__ = [
    "SEGMENT_META_TAG",
    "HubLock",
    "HubLockedError",
    "StorageCheck",
    "check_storage",
    "decode_segment_meta",
    "disk_state",
    "encode_segment_meta",
    "initialize_storage",
    "iter_segment_files",
    "parse_segment_relpath",
    "segment_relpath",
]
