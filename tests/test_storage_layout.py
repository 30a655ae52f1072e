"""Storage layout: segment paths, the folder walk and the segment metadata tag."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.storage.layout import (
    decode_segment_meta,
    encode_segment_meta,
    iter_segment_files,
    parse_segment_relpath,
    prune_empty_dirs,
    segment_relpath,
)

MAX_MS = 253_402_300_799_999
camera_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


def test_segment_relpath_is_utc_with_milliseconds():
    assert segment_relpath("door", 1_700_000_000_123) == "door/2023-11-14/22/13.20.123.mp4"
    assert segment_relpath("cam_2", 0) == "cam_2/1970-01-01/00/00.00.000.mp4"
    assert segment_relpath("x", MAX_MS) == "x/9999-12-31/23/59.59.999.mp4"


@pytest.mark.parametrize(
    ("camera_id", "start_ms"),
    [
        ("", 0),
        (".hidden", 0),
        ("a/b", 0),
        ("a\\b", 0),
        ("..", 0),
        ("é", 0),
        ("a" * 65, 0),
        ("door\n", 0),
        ("door", -1),
        ("door", MAX_MS + 1),
        ("door", 1.5),
        ("door", True),
    ],
)
def test_segment_relpath_refuses_bad_input(camera_id, start_ms):
    with pytest.raises(ValueError):
        segment_relpath(camera_id, start_ms)


@given(camera_ids, st.integers(0, MAX_MS))
def test_relpath_round_trip(camera_id, start_ms):
    relpath = segment_relpath(camera_id, start_ms)
    assert parse_segment_relpath(relpath) == (camera_id, start_ms)


@given(st.text(max_size=60))
def test_parse_never_raises_and_accepts_only_canonical_paths(text):
    parsed = parse_segment_relpath(text)
    if parsed is not None:
        assert segment_relpath(*parsed) == text


@pytest.mark.parametrize(
    "relpath",
    [
        "door/2023-11-14/22/13.20.123.MP4",
        "door/2023-11-14/22/13.20.12.mp4",
        "door/2023-11-14/22/13.20.1234.mp4",
        "door/2023-02-30/22/13.20.123.mp4",
        "door/2023-11-14/24/13.20.123.mp4",
        "door/2023-11-14/22/60.20.123.mp4",
        "door/2023-11-14/22/13.60.123.mp4",
        "door/20231114/22/13.20.123.mp4",
        "/door/2023-11-14/22/13.20.123.mp4",
        "door\\2023-11-14\\22\\13.20.123.mp4",
        ".quarantine/2023-11-14/22/13.20.123.mp4",
        "door/2023-11-14/22/13.20.123.mp4.reason.txt",
        "door/2023-11-14/22/x/13.20.123.mp4",
        "door/2023-11-14/2/13.20.123.mp4",
        "door/1969-12-31/23/59.59.999.mp4",
        "door/2023-11-14/22/13.20.123.mp4 ",
        "door/2023-11-14/22/13.20.123.mp4\n",
        "door/２０２３-11-14/22/13.20.123.mp4",
        "",
    ],
)
def test_parse_is_strict(relpath):
    assert parse_segment_relpath(relpath) is None


def _touch(root, relpath, content=b"x"):
    path = root.joinpath(*relpath.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_iter_segment_files_walks_the_layout_in_time_order(tmp_path):
    wanted = [
        segment_relpath(cam, t)
        for cam in ("back", "door")
        for t in (1_700_000_000_000, 1_700_000_010_000, 1_700_003_600_000, 1_700_090_000_000)
    ]
    for relpath in reversed(wanted):
        _touch(tmp_path, relpath)
    # Things that are not segments: dot-folders, stray files, wrong names, symlinks, a file as camera.
    _touch(tmp_path, ".quarantine/" + wanted[0])
    _touch(tmp_path, ".porchlight-storage")
    _touch(tmp_path, "door/2023-11-14/22/notes.txt")
    _touch(tmp_path, "door/2023-11-14/22/.13.20.123.mp4.tmp")
    _touch(tmp_path, "door/not-a-date/22/13.20.123.mp4")
    _touch(tmp_path, "door/2023-11-14/.hidden/13.20.123.mp4")
    _touch(tmp_path, "stray.mp4")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    _touch(outside, wanted[0])
    os.symlink(outside / "back", tmp_path / "linked")  # a symlinked camera folder
    os.symlink(outside / wanted[0], tmp_path / "back" / "2023-11-14" / "22" / "59.59.999.mp4")
    assert list(iter_segment_files(tmp_path)) == wanted


def test_iter_segment_files_empty_and_missing_root(tmp_path):
    assert list(iter_segment_files(tmp_path)) == []
    with pytest.raises(FileNotFoundError):
        list(iter_segment_files(tmp_path / "unmounted"))


def test_prune_empty_dirs_stops_at_a_non_empty_folder(tmp_path):
    keep = segment_relpath("door", 1_700_000_000_000)
    gone = segment_relpath("door", 1_700_090_000_000)  # another day
    _touch(tmp_path, keep)
    _touch(tmp_path, gone).unlink()
    assert prune_empty_dirs(tmp_path, gone) == 2  # hour and day; the camera folder still has a day
    assert list(iter_segment_files(tmp_path)) == [keep]
    (tmp_path / keep).unlink()
    assert prune_empty_dirs(tmp_path, keep) == 3
    assert sorted(os.listdir(tmp_path)) == []


def test_segment_meta_round_trip():
    text = encode_segment_meta("door", 1_700_000_000_123, -512, Fraction(1, 90000))
    assert json.loads(text) == {
        "porchlight": 1,
        "camera": "door",
        "start_ms": 1_700_000_000_123,
        "stream_offset": -512,
        "time_base": "1/90000",
    }
    assert decode_segment_meta(text) == json.loads(text)
    assert decode_segment_meta(encode_segment_meta("door", 1, 0))["time_base"] == "1/90000"


@given(
    camera_ids,
    st.integers(0, MAX_MS),
    st.integers(-(2**62), 2**62),
    st.integers(1, 10**9 - 1),
    st.integers(1, 10**9 - 1),
)
def test_segment_meta_round_trip_property(camera_id, start_ms, offset, num, den):
    time_base = Fraction(num, den)
    meta = decode_segment_meta(encode_segment_meta(camera_id, start_ms, offset, time_base))
    assert meta is not None
    assert (meta["camera"], meta["start_ms"], meta["stream_offset"]) == (camera_id, start_ms, offset)
    assert Fraction(meta["time_base"]) == time_base


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not json",
        "[]",
        "1",
        '{"porchlight": 2, "camera": "a", "start_ms": 1, "stream_offset": 0, "time_base": "1/90000"}',
        '{"porchlight": true, "camera": "a", "start_ms": 1, "stream_offset": 0, "time_base": "1/90000"}',
        '{"porchlight": 1, "camera": "a/b", "start_ms": 1, "stream_offset": 0, "time_base": "1/90000"}',
        '{"porchlight": 1, "camera": "a", "start_ms": 1.5, "stream_offset": 0, "time_base": "1/90000"}',
        '{"porchlight": 1, "camera": "a", "start_ms": 1, "time_base": "1/90000"}',
        '{"porchlight": 1, "camera": "a", "start_ms": 1, "stream_offset": 0, "time_base": "1/0"}',
        '{"porchlight": 1, "camera": "a", "start_ms": 1, "stream_offset": 0, "time_base": 90000}',
    ],
)
def test_decode_segment_meta_refuses_anything_else(text):
    assert decode_segment_meta(text) is None


def test_decode_segment_meta_keeps_unknown_keys_for_later_versions():
    text = encode_segment_meta("a", 1, 2)[:-1] + ',"extra":"x"}'
    assert decode_segment_meta(text)["extra"] == "x"


@given(st.text(max_size=200))
def test_decode_segment_meta_never_raises(text):
    decode_segment_meta(text)


def test_encode_segment_meta_refuses_bad_values():
    for args in (
        ("a/b", 1, 0),
        ("a", 1.0, 0),
        ("a", 1, None),
        ("a", 1, 0, "x/90000"),
        ("a", 1, 0, "1/0"),
        ("a", 1, 0, "-1/90000"),
        ("a", 1, 0, "0"),
        ("a", 1, 0, None),
        ("a", 1, 0, "None"),
    ):
        with pytest.raises(ValueError):
            encode_segment_meta(*args)


def test_encode_segment_meta_normalizes_time_bases():
    # The recorder passes str(stream.time_base), which is "1" for a whole-second time base.
    for given_tb, expected in (("1", "1/1"), ("2/180000", "1/90000"), (Fraction(1, 1000), "1/1000")):
        text = encode_segment_meta(camera="a", start_ms=1, stream_offset=0, time_base=given_tb)
        assert decode_segment_meta(text)["time_base"] == expected
