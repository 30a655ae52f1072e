"""Live frames in shared memory: the slot a hub writes a watched camera's newest picture into, and
the reader a client uses. Pure standard library (a client loads nothing of the engine for it).

A slot is a file in ``/dev/shm`` (mode 0600: the owner's account only), opened with ``os.open`` and
mapped with ``mmap``; never ``multiprocessing.shared_memory``, whose resource tracker on Python 3.11
unlinks a segment when any process that attached to it exits. Its name carries the hub's prefix
(:func:`slot_prefix`: the account, a key of the data dir and, in tests, a run tag), so a hub removes
its own slots when it stops and what a killed hub left behind when it starts again (:func:`sweep`).

Layout (little-endian; every counter an aligned 8-byte word)::

    header   64 B   magic "PLFRAMES", version u32, buffers u32, capacity u64, latest u64, flags u64
    buffer i 64 B   lock u64, seq u64, ts_ms i64, width u32, height u32, flags u32, size u32
             capacity bytes of picture: I420 planes packed (Y w*h, then U and V, each ceil(w/2)*ceil(h/2))

The writer fills the buffer after the newest one (three by default) under that buffer's seqlock:
``lock`` is odd while it writes, and ``seq`` is 0 until the picture is whole. Then it publishes
``latest = seq << 8 | buffer``. A reader copies the newest buffer and keeps the copy only when the
lock was even and unchanged across it; otherwise it tries again (a writer lapping three buffers
during one copy), so it never sees a torn picture and never holds the writer up. The loads and
stores are ordered as written on x86-64 (TSO); on weaker memory models the lock check is the same,
without a hardware fence between the words (Python offers none).

A frame larger than the slot's capacity makes the writer put a bigger slot in the same place
(rename over the path) and mark the old one ``MOVED``; readers then open the path again. A writer
that closes marks its slot ``CLOSED`` and removes the file: the view has ended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import mmap
import os
import re
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

MAGIC = b"PLFRAMES"
VERSION = 1
HEADER = struct.Struct("<8sII QQQ 24x")  # magic, version, buffers, capacity, latest, flags
BUFFER = struct.Struct("<QQq IIII 24x")  # lock, seq, ts_ms, width, height, flags, size
assert HEADER.size == 64 and BUFFER.size == 64
LATEST_AT = 24  # offset of ``latest`` in the header
FLAGS_AT = 32  # offset of the header's flags
MOVED = 1  # a bigger slot took this one's path: open the path again
CLOSED = 2  # the writer is gone (the view ended, or the hub stopped)
FULL_RANGE = 1  # a buffer's flags: the picture's YUV uses the full 0-255 range (JPEG-style)
DEFAULT_BUFFERS = 3
MAX_READ_TRIES = 8
#: The environment variable that adds a run tag to slot names (tests; see :func:`slot_prefix`).
TAG_ENV = "PORCHLIGHT_SHM_TAG"


class FrameSlotError(Exception):
    """The file is not a frame slot of this version, or it could not be opened."""


@dataclasses.dataclass(frozen=True)
class SlotFrame:
    """One picture read from a slot: I420 planes packed in ``data``."""

    seq: int  # 1, 2, … in the order the hub wrote them (gaps: frames the reader did not ask for)
    ts_ms: int  # wall-clock time of the picture
    width: int
    height: int
    full_range: bool
    data: bytes

    @property
    def chroma_size(self) -> tuple[int, int]:
        """(width, height) of the U and V planes."""
        return chroma_size(self.width, self.height)


def chroma_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of an I420 picture's U and V planes."""
    return (width + 1) // 2, (height + 1) // 2


def i420_size(width: int, height: int) -> int:
    """Bytes of an I420 picture with planes packed."""
    cw, ch = chroma_size(width, height)
    return width * height + 2 * cw * ch


def _stride(capacity: int) -> int:
    return BUFFER.size + (capacity + 63) // 64 * 64


def _slot_bytes(buffers: int, capacity: int) -> int:
    return HEADER.size + buffers * _stride(capacity)


# -- names ------------------------------------------------------------------------------------
def slot_dir() -> Path:
    """Where slots live: ``/dev/shm`` (memory, never the disk), else the system's temporary folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def slot_prefix(data_dir: Path) -> str:
    """The prefix of every slot of the hub on ``data_dir``: ``porchlight-[<tag>-]<uid>-<key>.``,
    where the key is derived from the data dir's resolved path."""
    key = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    tag = re.sub(r"[^A-Za-z0-9]", "", os.environ.get(TAG_ENV, ""))[:24]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return f"porchlight-{tag + '-' if tag else ''}{uid}-{key}."


def slot_path(data_dir: Path, camera_id: str, role: str) -> Path:
    """The slot of one camera's stream role on the hub of ``data_dir``."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", camera_id)[:64]
    return slot_dir() / f"{slot_prefix(data_dir)}{safe}.{role}"


def sweep(data_dir: Path) -> list[Path]:
    """Remove every slot of the hub on ``data_dir`` (left by a hub that was killed); the paths removed.
    Call it only while holding the data dir's hub lock."""
    removed = []
    for path in slot_dir().glob(slot_prefix(data_dir) + "*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


# -- writing -----------------------------------------------------------------------------------
class SlotWriter:
    """Writes pictures into one slot (one thread at a time; :meth:`close` from any thread)."""

    def __init__(self, path: Path, capacity: int, buffers: int = DEFAULT_BUFFERS) -> None:
        if not 1 <= buffers <= 255 or capacity < 0:
            raise ValueError("a slot needs 1 … 255 buffers and a capacity of 0 or more")
        self.path = Path(path)
        self.buffers = buffers
        self.capacity = capacity
        self.seq = 0
        self._latest = buffers - 1
        self._mm: mmap.mmap | None = self._create(capacity)

    def _create(self, capacity: int) -> mmap.mmap:
        """A new slot file at our path (replacing any), mapped; the old mapping is the caller's."""
        size = _slot_bytes(self.buffers, capacity)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.ftruncate(fd, size)  # tmpfs: pages are taken only when written
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        HEADER.pack_into(mm, 0, MAGIC, VERSION, self.buffers, capacity, 0, 0)
        try:
            os.replace(tmp, self.path)
        except OSError:
            _unmap(mm)
            tmp.unlink(missing_ok=True)
            raise
        return mm

    @contextlib.contextmanager
    def frame(self, ts_ms: int, width: int, height: int, *, full_range: bool = False) -> Iterator[memoryview]:
        """Write one picture: the block gets the buffer to fill (``i420_size(width, height)`` bytes);
        it is published when the block ends without an exception."""
        size = i420_size(width, height)
        if size > self.capacity:
            self._grow(size)
        mm = self._mm
        if mm is None:
            raise FrameSlotError("the slot is closed")
        index = (self._latest + 1) % self.buffers
        at = HEADER.size + index * _stride(self.capacity)
        (lock,) = struct.unpack_from("<Q", mm, at)
        struct.pack_into("<QQ", mm, at, lock + 1, 0)  # odd: being written; seq 0: no picture
        ok = False
        view = memoryview(mm)[at + BUFFER.size : at + BUFFER.size + size]
        try:
            yield view
            ok = True
        finally:
            with contextlib.suppress(BufferError):  # still exported (an exception's frame): GC's
                view.release()
            seq = self.seq + 1 if ok else 0
            flags = FULL_RANGE if full_range else 0
            BUFFER.pack_into(mm, at, lock + 1, seq, ts_ms, width, height, flags, size)
            struct.pack_into("<Q", mm, at, lock + 2)  # even again: whole
        self.seq = seq
        self._latest = index
        struct.pack_into("<Q", mm, LATEST_AT, seq << 8 | index)

    def write(self, ts_ms: int, width: int, height: int, data: bytes, *, full_range: bool = False) -> int:
        """Write a packed I420 picture; its sequence number."""
        with self.frame(ts_ms, width, height, full_range=full_range) as buf:
            buf[:] = data
        return self.seq

    def _grow(self, size: int) -> None:
        old = self._mm
        self.capacity = max(size, self.capacity * 5 // 4)
        self._mm = self._create(self.capacity)
        self._latest = self.buffers - 1
        if old is not None:
            struct.pack_into("<Q", old, FLAGS_AT, MOVED)
            _unmap(old)

    def close(self, *, unlink: bool = True) -> None:
        """Mark the slot closed (readers stop) and remove its file."""
        mm, self._mm = self._mm, None
        if mm is None:
            return
        struct.pack_into("<Q", mm, FLAGS_AT, CLOSED)
        _unmap(mm)
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _unmap(mm: mmap.mmap) -> None:
    with contextlib.suppress(BufferError):  # a view of it still alive: unmapped when collected
        mm.close()


# -- reading -----------------------------------------------------------------------------------
class FrameReader:
    """Reads the newest picture of a slot (one thread at a time). ``check=False`` skips the
    seqlock; it exists only so that the torn-frame test can show the lock is what prevents tears."""

    def __init__(self, path: str | os.PathLike[str], *, check: bool = True) -> None:
        self.path = Path(path)
        self.check = check
        self.closed = False
        self.torn = 0  # copies thrown away because the writer was in that buffer
        self._mm: mmap.mmap | None = None
        self._open()

    def _open(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            reason = "it does not exist" if exc.errno == errno.ENOENT else exc.strerror
            raise FrameSlotError(f"cannot open the frame slot {self.path}: {reason}") from None
        try:
            size = os.fstat(fd).st_size
            if size < HEADER.size:
                raise FrameSlotError(f"{self.path} is not a frame slot")
            mm = mmap.mmap(fd, size, prot=mmap.PROT_READ) if sys.platform != "win32" else mmap.mmap(fd, size)
        finally:
            os.close(fd)
        magic, version, buffers, capacity, _latest, _flags = HEADER.unpack_from(mm, 0)
        if magic != MAGIC or version != VERSION or not 1 <= buffers <= 255:
            mm.close()
            raise FrameSlotError(f"{self.path} is not a frame slot of version {VERSION}")
        if size < _slot_bytes(buffers, capacity):
            mm.close()
            raise FrameSlotError(f"{self.path} is shorter than its header says")
        self._mm, self._buffers, self._capacity = mm, buffers, capacity

    def read(self, after: int = 0) -> SlotFrame | None:
        """The newest picture when its seq is above ``after``; None when there is none newer, the
        writer stays in the way, or the slot closed (then :attr:`closed` is True)."""
        for _ in range(MAX_READ_TRIES):
            mm = self._mm
            if self.closed or mm is None:
                return None
            (flags,) = struct.unpack_from("<Q", mm, FLAGS_AT)
            if flags & MOVED:
                self._reopen()
                continue
            if flags & CLOSED:
                self.close()
                return None
            (latest,) = struct.unpack_from("<Q", mm, LATEST_AT)
            if latest >> 8 <= after:
                return None
            index = latest & 0xFF
            if index >= self._buffers:
                raise FrameSlotError(f"{self.path}: buffer {index} is out of range")
            at = HEADER.size + index * _stride(self._capacity)
            lock, seq, ts_ms, width, height, bflags, size = BUFFER.unpack_from(mm, at)
            data = mm[at + BUFFER.size : at + BUFFER.size + min(size, self._capacity)]
            if self.check:
                (lock_after,) = struct.unpack_from("<Q", mm, at)
                if lock & 1 or lock_after != lock or seq == 0:
                    self.torn += 1  # the writer was in this buffer: what we copied may be mixed
                    continue
            if size > self._capacity or (seq and size != i420_size(width, height)):
                raise FrameSlotError(f"{self.path}: a buffer's size does not match its picture")
            if seq <= after:
                return None
            return SlotFrame(seq, ts_ms, width, height, bool(bflags & FULL_RANGE), data)
        return None

    def _reopen(self) -> None:
        old, self._mm = self._mm, None
        if old is not None:
            old.close()
        try:
            self._open()
        except FrameSlotError:
            self.closed = True  # the bigger slot is gone already: the view ended

    def close(self) -> None:
        """Let the mapping go (the hub's slot stays; it ends with the lease)."""
        self.closed = True
        mm, self._mm = self._mm, None
        if mm is not None:
            mm.close()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
