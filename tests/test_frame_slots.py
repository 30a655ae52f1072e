"""The shared-memory frame slot (hub.api.frames): what a reader gets, and what it refuses."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from hub.api import frames
from hub.api.frames import FrameReader, FrameSlotError, SlotWriter, i420_size, slot_path, sweep


def picture(width: int, height: int, value: int) -> bytes:
    return bytes([value % 256]) * i420_size(width, height)


@pytest.fixture
def path(tmp_path: Path):
    p = slot_path(tmp_path / "data", "front-door", "detect")
    yield p
    p.unlink(missing_ok=True)


def test_newest_picture_with_its_sequence_and_time(path):
    writer = SlotWriter(path, i420_size(64, 36))
    with FrameReader(path) as reader:
        assert reader.read() is None  # nothing written yet
        writer.write(1000, 64, 36, picture(64, 36, 7))
        writer.write(1040, 64, 36, picture(64, 36, 8), full_range=True)
        frame = reader.read()
        assert (frame.seq, frame.ts_ms, frame.width, frame.height, frame.full_range) == (
            2,
            1040,
            64,
            36,
            True,
        )
        assert frame.data == picture(64, 36, 8)  # the newest; the one before is skipped, not queued
        assert reader.read(after=frame.seq) is None  # nothing newer
        writer.write(1080, 64, 36, picture(64, 36, 9))
        assert reader.read(after=frame.seq).seq == 3
    writer.close()


def test_owner_only_in_shared_memory_and_named_for_the_hub(tmp_path, path):
    writer = SlotWriter(path, 64)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert path.parent == frames.slot_dir() == Path("/dev/shm")
        assert path.name.startswith(frames.slot_prefix(tmp_path / "data"))
        assert path.name.endswith(".front-door.detect")
        other = slot_path(tmp_path / "other", "front-door", "detect")
        assert other != path  # another data dir: another hub, other names
        assert slot_path(tmp_path, "../../etc/x", "detect").parent == frames.slot_dir()
    finally:
        writer.close()


def test_odd_sizes_and_a_bigger_picture_move_the_slot(path):
    writer = SlotWriter(path, i420_size(32, 18))
    reader = FrameReader(path)
    writer.write(1, 33, 17, picture(33, 17, 1))
    small = reader.read()
    assert len(small.data) == 33 * 17 + 2 * 17 * 9 and small.chroma_size == (17, 9)
    inode = os.stat(path).st_ino
    writer.write(2, 640, 360, picture(640, 360, 2))  # bigger than the slot: a new one in its place
    assert os.stat(path).st_ino != inode and writer.capacity >= i420_size(640, 360)
    big = reader.read(after=small.seq)
    assert (big.width, big.height, big.data[:3]) == (640, 360, b"\x02\x02\x02")
    writer.close()
    reader.close()


def test_a_closed_slot_ends_the_view(path):
    writer = SlotWriter(path, 64)
    reader = FrameReader(path)
    writer.write(1, 4, 4, picture(4, 4, 1))
    writer.close()
    assert not path.exists()
    assert reader.read() is None and reader.closed
    with pytest.raises(FrameSlotError, match="does not exist"):
        FrameReader(path)


def test_a_failed_write_publishes_nothing(path):
    writer = SlotWriter(path, 64)
    reader = FrameReader(path)
    writer.write(1, 4, 4, picture(4, 4, 1))
    with pytest.raises(RuntimeError), writer.frame(2, 4, 4) as buf:
        buf[:4] = b"xxxx"
        raise RuntimeError("decoder gone")
    assert reader.read().data == picture(4, 4, 1)  # still the last whole picture
    writer.write(3, 4, 4, picture(4, 4, 3))
    assert reader.read(after=1).seq == 2
    writer.close()
    reader.close()


def test_hostile_files_are_refused(tmp_path, path):
    not_slot = tmp_path / "x"
    not_slot.write_bytes(b"PLFRAMES")
    with pytest.raises(FrameSlotError, match="not a frame slot"):
        FrameReader(not_slot)
    not_slot.write_bytes(b"GARBAGE!" + bytes(200))
    with pytest.raises(FrameSlotError, match="not a frame slot of version"):
        FrameReader(not_slot)
    link = tmp_path / "link"
    link.symlink_to(not_slot)
    with pytest.raises(FrameSlotError, match="cannot open"):
        FrameReader(link)  # a slot is never a link

    writer = SlotWriter(path, 64)
    writer.write(1, 4, 4, picture(4, 4, 1))
    header = bytearray(path.read_bytes())
    short = tmp_path / "short"
    struct.pack_into("<Q", header, 16, 10**9)  # a capacity the file does not have
    short.write_bytes(header)
    with pytest.raises(FrameSlotError, match="shorter than its header"):
        FrameReader(short)
    lying = tmp_path / "lying"
    header = bytearray(path.read_bytes())
    struct.pack_into("<Q", header, frames.LATEST_AT, 1 << 8 | 200)  # a buffer that is not there
    lying.write_bytes(header)
    with pytest.raises(FrameSlotError, match="out of range"), FrameReader(lying) as reader:
        reader.read()
    header = bytearray(path.read_bytes())
    at = frames.HEADER.size + 64 * 0  # buffer 0 holds picture 1
    struct.pack_into("<I", header, at + 36, 9999)  # a size its picture does not have
    lying.write_bytes(header)
    with pytest.raises(FrameSlotError, match="does not match"), FrameReader(lying) as reader:
        reader.read()
    writer.close()


def test_sweep_removes_this_hubs_slots_only(tmp_path):
    mine = [slot_path(tmp_path / "a", cam, "detect") for cam in ("c1", "c2")]
    theirs = slot_path(tmp_path / "b", "c1", "detect")
    for p in [*mine, theirs]:
        p.write_bytes(b"left by a killed hub")
    try:
        assert sorted(sweep(tmp_path / "a")) == sorted(mine)
        assert not any(p.exists() for p in mine) and theirs.exists()
    finally:
        theirs.unlink()


def test_a_run_tag_goes_into_the_names(tmp_path, monkeypatch):
    monkeypatch.setenv(frames.TAG_ENV, "ci/run 42")
    assert frames.slot_prefix(tmp_path).startswith(f"porchlight-cirun42-{os.getuid()}-")
    monkeypatch.delenv(frames.TAG_ENV)
    assert frames.slot_prefix(tmp_path).startswith(f"porchlight-{os.getuid()}-")
