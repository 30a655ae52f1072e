"""The storage marker: proof that a folder is this hub's recordings folder, and that it is there.

The storage root holds ``.porchlight-storage`` (JSON: ``storage_id``, a uuid also kept in the index,
and ``created``, RFC 3339). When it is missing (typically an external disk that is not mounted, leaving
an empty mount point) nothing may be recorded into the folder and nothing purged from the index; when
it names another id the folder belongs to another Porchlight index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Literal

from hub.core.errors import StorageError
from hub.core.times import format_ms, now_ms

logger = logging.getLogger(__name__)

MARKER_NAME = ".porchlight-storage"
StorageState = Literal["ok", "missing", "foreign", "unwritable", "full"]
_NOTE = "This folder holds Porchlight recordings. Do not delete or edit this file."


@dataclasses.dataclass(frozen=True)
class StorageMarker:
    """What the marker file says."""

    storage_id: str
    created: str  # RFC 3339


@dataclasses.dataclass(frozen=True)
class StorageCheck:
    """The outcome of ``check_storage``: a state and a message the owner understands."""

    state: StorageState
    message: str

    @property
    def ok(self) -> bool:
        """True when recordings may be written."""
        return self.state == "ok"


def _marker_path(root: str | os.PathLike[str]) -> Path:
    return Path(root) / MARKER_NAME


def read_marker(root: str | os.PathLike[str]) -> StorageMarker | None:
    """The marker of ``root``, or None when there is none. Raises ValueError when it is damaged."""
    try:
        text = _marker_path(root).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        data = json.loads(text)
        storage_id = data["storage_id"]
        uuid.UUID(storage_id)
        created = data.get("created")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"damaged storage marker in {root}: {exc}") from None
    return StorageMarker(storage_id, created if isinstance(created, str) else "")


def _same_id(a: str, b: str) -> bool:
    """Compare storage ids as UUIDs (``uuid4().hex`` and the dashed form are the same id)."""
    try:
        return uuid.UUID(str(a)) == uuid.UUID(str(b))
    except ValueError:
        return str(a) == str(b)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def initialize_storage(root: str | os.PathLike[str], storage_id: str) -> StorageMarker:
    """Create ``root`` if needed and write its marker atomically; idempotent for the same id.

    Raises StorageError when the folder already belongs to another index (``storage_id`` differs).
    """
    uuid.UUID(storage_id)  # ValueError when it is not a uuid; stored as given, compared as a uuid
    root_path = Path(root)
    root_path.mkdir(parents=True, exist_ok=True)
    try:
        existing = read_marker(root_path)
    except ValueError:
        existing = None  # damaged: replace it with a good one
        logger.warning("replacing a damaged storage marker in %s", root_path)
    if existing is not None:
        if not _same_id(existing.storage_id, storage_id):
            raise StorageError(
                f"The folder {root_path} already holds recordings of another Porchlight "
                f"setup (storage id {existing.storage_id})."
            )
        return existing
    marker = StorageMarker(storage_id, format_ms(now_ms()) or "")
    text = json.dumps({"storage_id": marker.storage_id, "created": marker.created, "note": _NOTE}, indent=2)
    fd, tmp = tempfile.mkstemp(prefix=MARKER_NAME + ".", suffix=".tmp", dir=root_path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, _marker_path(root_path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(root_path)
    logger.info("initialized storage %s in %s", storage_id, root_path)
    return marker


def _write_probe(root: Path) -> None:
    """Create and remove a small file in ``root``; raises OSError when that is impossible."""
    fd, tmp = tempfile.mkstemp(prefix=".porchlight-write-test.", dir=root)
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.unlink(tmp)


def check_storage(
    root: str | os.PathLike[str], expected_id: str, *, probe_write: bool = True
) -> StorageCheck:
    """Tell whether recordings may be written to ``root`` (state "ok") and, if not, why.

    ``probe_write=False`` skips the test write (a full, read-only or forbidden disk then shows
    up on the next check that does it, or on the next real write).
    """
    root_path = Path(root)
    if not root_path.is_dir():
        return StorageCheck(
            "missing",
            f"The recordings folder {root_path} is not there. If it is on an "
            "external or network disk, connect it; recording resumes when it is back.",
        )
    try:
        marker = read_marker(root_path)
    except ValueError:
        return StorageCheck(
            "foreign",
            f"The recordings folder {root_path} has a damaged Porchlight marker "
            f"file ({MARKER_NAME}); choose the folder again in the storage settings.",
        )
    except OSError as exc:
        return StorageCheck(
            "unwritable", f"The recordings folder {root_path} cannot be read ({exc.strerror or exc})."
        )
    if marker is None:
        return StorageCheck(
            "missing",
            f"The recordings folder {root_path} is empty or not the one "
            "Porchlight set up: if it is on an external disk, the disk is probably not "
            "connected. Nothing is recorded there until it is back.",
        )
    if not _same_id(marker.storage_id, expected_id):
        return StorageCheck(
            "foreign",
            f"The recordings folder {root_path} belongs to another Porchlight "
            "setup. Choose your own recordings folder, or adopt this one in the "
            "storage settings.",
        )
    try:
        if probe_write:
            _write_probe(root_path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            # Our folder, only full: retention may purge here (unlike a missing or foreign one).
            return StorageCheck(
                "full",
                f"The disk holding {root_path} is full: the oldest unprotected "
                "recordings are being deleted so that recording can go on.",
            )
        if exc.errno == errno.EROFS:
            why = "the disk is read-only"
        else:
            why = "Porchlight has no permission to write there"
        return StorageCheck("unwritable", f"Recordings cannot be saved in {root_path}: {why}.")
    return StorageCheck("ok", f"Recording to {root_path}.")


def disk_state(root: str | os.PathLike[str]) -> tuple[int, int]:
    """Free and total bytes of the disk holding ``root`` (free as available to this user)."""
    usage = shutil.disk_usage(root)
    return usage.free, usage.total
