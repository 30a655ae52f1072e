"""No torn frames: a writer process fills a slot as fast as it can while a reader process checks
every picture it gets, byte by byte (tests/support/torn.py). A self-test turns the reader's seqlock
off and shows that the same checker then does see torn pictures: the check can fail."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hub.api.frames import slot_path
from tests.support.hubtools import wait_for

SECONDS = 2.5


def race(tmp_path, buffers: int, *reader_flags: str) -> tuple[dict, dict]:
    path = slot_path(tmp_path, f"torn{buffers}{''.join(reader_flags)}".replace("-", ""), "detect")
    run = [sys.executable, "-m", "tests.support.torn"]
    writer = subprocess.Popen(
        [*run, "write", str(path), str(SECONDS + 1), str(buffers)], stdout=subprocess.PIPE
    )
    try:
        wait_for(path.exists, 20, "the writer's slot", interval=0.02)
        reader = subprocess.run(
            [*run, "read", str(path), str(SECONDS), *reader_flags], capture_output=True, text=True, timeout=60
        )
        out, _ = writer.communicate(timeout=60)
    finally:
        writer.kill()
        writer.wait()
        path.unlink(missing_ok=True)
    assert reader.returncode == 0 and writer.returncode == 0, reader.stderr
    return json.loads(out), json.loads(reader.stdout)


@pytest.mark.parametrize("buffers", [3, 1])
def test_a_reader_never_sees_a_torn_frame(tmp_path, buffers):
    wrote, got = race(tmp_path, buffers)
    assert wrote["written"] > 1000, wrote  # the writer really raced (thousands of pictures a second)
    assert got["torn"] == 0 and got["backwards"] == 0, got
    if buffers == 1:  # one buffer: the writer is nearly always in it, and the lock turns copies away
        assert got["retries"] > 1000 and got["read"] >= 1, got
    else:  # three: the reader copies one while the writer fills another
        assert got["read"] > 100, got


def test_the_checker_sees_tears_without_the_seqlock(tmp_path):
    _wrote, got = race(tmp_path, 1, "--no-check")
    assert got["torn"] > 0, got
