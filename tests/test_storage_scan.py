"""Reconcile the index with the disk, index stray files, repair torn ones, quarantine the rest."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.model import Segment
from hub.storage.layout import encode_segment_meta, iter_segment_files, segment_relpath
from hub.storage.probe import decode_check, probe_segment_file
from hub.storage.scan import QUARANTINE_DIR, index_segment_file, quarantine, reconcile
from tests.test_storage_probe import top_level_boxes, write_segment

T0 = 1_700_000_000_000


def row(sid: int | None, path: str) -> Segment:
    return Segment(sid, path.split("/")[0], path, T0, T0 + 10_000, 100)


def test_reconcile():
    rows = [row(3, "a/x.mp4"), row(1, "a/y.mp4"), row(2, "b/z.mp4"), row(None, "b/unsaved.mp4")]
    plan = reconcile(rows, {"a/y.mp4", "b/new.mp4", "a/new.mp4"})
    assert plan.files_without_rows == ["a/new.mp4", "b/new.mp4"]
    assert plan.rows_without_files == [2, 3]
    assert not plan.clean
    assert reconcile(rows[:1], {"a/x.mp4"}).clean
    assert reconcile([], set()).clean


paths = st.sets(st.sampled_from([f"c/{i}.mp4" for i in range(30)]))


@given(paths, paths)
def test_reconcile_properties(in_db, on_disk):
    rows = [row(i + 1, p) for i, p in enumerate(sorted(in_db))]
    plan = reconcile(rows, on_disk)
    assert set(plan.files_without_rows) == on_disk - in_db
    assert {r.path for r in rows if r.id in set(plan.rows_without_files)} == in_db - on_disk
    assert plan.files_without_rows == sorted(plan.files_without_rows)
    assert plan.rows_without_files == sorted(plan.rows_without_files)


def test_quarantine_moves_the_file_with_its_reason(tmp_path):
    relpath = segment_relpath("door", T0)
    src = tmp_path.joinpath(*relpath.split("/"))
    src.parent.mkdir(parents=True)
    src.write_bytes(b"junk")
    moved = quarantine(tmp_path, relpath, "not a video file")
    assert moved == f"{QUARANTINE_DIR}/{relpath}" and not src.exists()
    assert (tmp_path / moved).read_bytes() == b"junk"
    note = (tmp_path / (moved + ".reason.txt")).read_text()
    assert "not a video file" in note and relpath in note
    assert list(iter_segment_files(tmp_path)) == []  # quarantined files are not recordings

    src.write_bytes(b"junk again")  # the same name once more: the first one is kept
    again = quarantine(tmp_path, relpath, "still junk")
    assert again == f"{QUARANTINE_DIR}/door/2023-11-14/22/13.20.000~1.mp4"
    assert (tmp_path / moved).read_bytes() == b"junk"
    assert "still junk" in (tmp_path / (again + ".reason.txt")).read_text()


@pytest.mark.parametrize(
    "relpath",
    [
        "",
        "/etc/passwd",
        "../outside.mp4",
        "a/../../b.mp4",
        "a//b.mp4",
        ".quarantine/a.mp4",
        "a\\b.mp4",
        "./a.mp4",
    ],
)
def test_quarantine_refuses_paths_outside_the_recordings(tmp_path, relpath):
    with pytest.raises(ValueError):
        quarantine(tmp_path, relpath, "x")


def _place(root: Path, camera: str, start_ms: int, **kw) -> str:
    relpath = segment_relpath(camera, start_ms)
    write_segment(root.joinpath(*relpath.split("/")), meta=encode_segment_meta(camera, start_ms, 0), **kw)
    return relpath


def test_index_segment_file(tmp_path):
    relpath = _place(tmp_path, "door", T0, seconds=4, fps=25, gop=25)
    segment, info = index_segment_file(tmp_path, relpath)
    assert info.playable and segment == Segment(
        None, "door", relpath, T0, T0 + 4000, (tmp_path / relpath).stat().st_size, frames=100
    )

    bad_name = tmp_path / "door" / "whatever.mp4"
    bad_name.write_bytes(b"")
    segment, info = index_segment_file(tmp_path, "door/whatever.mp4")
    assert segment is None and "layout" in info.error


def _ffmpeg_opens(path: Path) -> bool:
    try:
        av.open(str(path)).close()
    except av.error.FFmpegError:
        return False
    return True


def test_index_repairs_a_torn_file_so_every_player_opens_it(tmp_path):
    relpath = _place(tmp_path, "door", T0, seconds=6, fps=25, gop=50)
    full = tmp_path / relpath
    # Find a cut inside a fragment header at which FFmpeg refuses the whole file.
    data = full.read_bytes()
    moof = [b for b in top_level_boxes(full) if b[2] == "moof"][4]
    for length in range(moof[0] + 9, moof[0] + moof[1]):
        full.write_bytes(data[:length])
        if not _ffmpeg_opens(full):
            break
    else:
        pytest.skip("this FFmpeg opens every torn variant")
    info = probe_segment_file(full)
    assert info.playable and info.torn and info.frames == 100  # the probe read the 4 complete fragments

    # Without repair the file is indexed as it is; with repair it is trimmed to complete fragments.
    segment, _ = index_segment_file(tmp_path, relpath)
    assert segment is not None and segment.bytes == length
    segment, info = index_segment_file(tmp_path, relpath, repair=True)
    assert segment is not None and not info.torn and info.error is None
    assert segment.bytes == info.intact_bytes == full.stat().st_size < length
    assert (segment.frames, segment.end_ms) == (100, T0 + 4000)
    assert _ffmpeg_opens(full)  # now any player opens it
    assert decode_check(full) == 100


def test_restart_after_a_crash(tmp_path):
    """Index rebuild: rows for closed segments, a torn open segment, junk, a vanished file."""
    closed = [_place(tmp_path, "door", T0 + i * 4000, seconds=4, fps=25, gop=25) for i in range(3)]
    torn = _place(tmp_path, "door", T0 + 12_000, seconds=4, fps=25, gop=25)
    torn_path = tmp_path / torn
    mdats = [b for b in top_level_boxes(torn_path) if b[2] == "mdat"]
    os.truncate(torn_path, mdats[2][0] + mdats[2][1] // 2)  # killed in its third second
    junk = segment_relpath("yard", T0)
    (tmp_path / junk).parent.mkdir(parents=True)
    (tmp_path / junk).write_bytes(os.urandom(3000))
    db = [Segment(i + 1, "door", p, T0 + i * 4000, T0 + (i + 1) * 4000, 1) for i, p in enumerate(closed[:2])]
    db.append(Segment(9, "door", segment_relpath("door", T0 - 4000), T0 - 4000, T0, 1))  # file gone

    plan = reconcile(db, set(iter_segment_files(tmp_path)))
    assert plan.rows_without_files == [9]
    assert plan.files_without_rows == sorted([closed[2], torn, junk])
    indexed, quarantined = [], []
    for relpath in plan.files_without_rows:
        segment, info = index_segment_file(tmp_path, relpath, repair=True)
        if segment is None:
            quarantined.append(quarantine(tmp_path, relpath, info.error or "unplayable"))
        else:
            indexed.append(segment)
    assert [s.path for s in indexed] == [closed[2], torn]
    assert indexed[0].end_ms == T0 + 12_000 and indexed[0].frames == 100
    assert 50 <= indexed[1].frames < 75 and indexed[1].end_ms == T0 + 12_000 + indexed[1].frames * 40
    assert quarantined == [f"{QUARANTINE_DIR}/{junk}"]
    assert sorted(iter_segment_files(tmp_path)) == sorted(closed + [torn])
