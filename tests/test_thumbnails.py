"""Event thumbnails on disk: written whole under thumbs/<camera>/, a failure costs only the picture."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.storage.thumbnails import Thumbnails

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 1000 + b"\xff\xd9"


def test_saves_under_the_camera_and_returns_the_relative_path(tmp_path: Path) -> None:
    thumbs = Thumbnails(tmp_path)
    rel = thumbs.save("porch", 1_700_000_000_123, JPEG)
    assert rel == "thumbs/porch/1700000000123.jpg"
    assert (tmp_path / rel).read_bytes() == JPEG
    better = JPEG[:-2] + b"better\xff\xd9"
    assert thumbs.save("porch", 1_700_000_000_123, better) == rel  # the event's end replaces it
    assert (tmp_path / rel).read_bytes() == better
    assert [p.name for p in (tmp_path / "thumbs" / "porch").iterdir()] == ["1700000000123.jpg"]


def test_no_picture_means_no_file(tmp_path: Path) -> None:
    assert Thumbnails(tmp_path).save("porch", 1, None) is None
    assert Thumbnails(tmp_path).save("porch", 1, b"") is None
    assert not (tmp_path / "thumbs").exists()


def test_a_write_failure_returns_none_and_leaves_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "thumbs").mkdir()
    (tmp_path / "thumbs" / "porch").write_text("a file where the camera's folder should be")
    with caplog.at_level(logging.WARNING, logger="hub.storage.thumbnails"):
        assert Thumbnails(tmp_path).save("porch", 5, JPEG) is None
    assert "could not write thumbnail thumbs/porch/5.jpg" in caplog.text
    assert sorted(p.name for p in (tmp_path / "thumbs").iterdir()) == ["porch"]
