"""``porchlight serve`` ends by itself: when its lifetime cap ($PORCHLIGHT_MAX_LIFETIME_S) is up, or
when its data dir is gone. A detached serve (the app's, a test's) outlives whoever started it; these
make sure it does not run, and record, forever."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from cli.serve import LIFETIME_ENV, FolderWatch, lifetime_cap, wait_for_stop
from tests.support.clitools import Serve, cli_json, ok, run_cli, wait_state, wait_until
from tests.support.hubtools import segments


def demo_data_dir(tmp_path: Path) -> Path:
    """A data dir with the demo camera recording continuously."""
    data = tmp_path / "data"
    ok(run_cli(data, "demo-camera", "add", "--mode", "continuous"))
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    return data


def remove_tree(path: Path) -> bool:
    """One try at removing ``path``; True when it is gone (the hub may write a file into the tree
    while it is being removed, which makes that try fail)."""
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


# -- the parts, in this process --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["soon", "0", "-3", "nan", "inf"])
def test_a_bad_lifetime_is_warned_about_and_ignored(
    text: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(LIFETIME_ENV, text)
    with caplog.at_level(logging.WARNING, logger="cli.serve"):
        assert lifetime_cap() is None
    assert f"{LIFETIME_ENV}={text!r} is not a positive number" in caplog.text


def test_a_lifetime_is_read_and_an_unset_one_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIFETIME_ENV, " 2.5 ")
    assert lifetime_cap() == 2.5
    monkeypatch.delenv(LIFETIME_ENV)
    assert lifetime_cap() is None


@pytest.mark.parametrize(
    ("duration", "cap", "capped"), [(0.2, 30.0, False), (30.0, 0.2, True), (None, 0.2, True)]
)
def test_the_smaller_of_duration_and_cap_wins(
    duration: float | None, cap: float, capped: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="cli.serve"), FolderWatch(tmp_path) as folder:
        wait_for_stop(threading.Event(), folder, duration, cap)
    assert time.monotonic() - started < 5
    assert ("lifetime cap of 0.2 s reached" in caplog.text) == capped


def test_a_folder_removed_and_made_again_counts_as_gone(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    with FolderWatch(folder) as watch:
        assert not watch.gone()
        shutil.rmtree(folder)
        assert watch.gone()
        (folder / "recordings").mkdir(parents=True)  # what the hub does for a new segment's folder
        assert watch.gone()


# -- real serves ------------------------------------------------------------------------------------


def test_serve_stops_cleanly_when_its_lifetime_is_up(tmp_path: Path) -> None:
    data = demo_data_dir(tmp_path)
    with Serve(data, log=tmp_path / "serve.log", env={**os.environ, LIFETIME_ENV: "6"}) as serve:
        rc = serve.wait(6 + 15)  # no status polling: on a busy machine, the cap could come first
        log = serve.output()
        assert rc == 0, log[-3000:]
        assert "demo: recording" in log
        assert "INFO cli.serve: lifetime cap of 6 s reached" in log
    segs = segments(data)
    assert segs, "no segment was finalized at the stop"
    assert segs[-1].frames > 0
    assert (data / "recordings" / segs[-1].path).is_file()


def test_serve_ignores_a_bad_lifetime(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Serve(data, log=tmp_path / "serve.log", env={**os.environ, LIFETIME_ENV: "soon"}) as serve:
        wait_until(lambda: cli_json(data, "status")["hub"]["running"], 40, "the hub to answer")
        assert f"WARNING cli.serve: {LIFETIME_ENV}='soon' is not a positive number" in serve.output()
        assert serve.stop() == 0, serve.output()[-3000:]


def test_serve_stops_cleanly_when_its_data_dir_is_removed(tmp_path: Path) -> None:
    data = demo_data_dir(tmp_path)
    with Serve(data, log=tmp_path / "serve.log") as serve:  # the log outlives the data dir
        wait_state(data, "Demo", "recording", 40)
        wait_until(lambda: remove_tree(data), 10, f"{data} removed")
        rc = serve.wait(15)
        log = serve.output()
        assert rc == 0, log[-3000:]
        assert f"WARNING cli.serve: the data dir {data} is gone: stopping" in log
        assert "demo: stopped" in log
        assert "Traceback" not in log, log[-3000:]
