"""The DB writer thread: batching, bad-op isolation, retries, flush/close, another process writing."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hub.core.model import CameraConfig, Segment
from hub.db import repo
from hub.db.tx import after_commit, run_write
from hub.db.writer import THREAD_NAME, DbWriter

pytest_plugins = ["tests.support.postgres"]

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def camera(db_engine: Engine) -> str:
    return run_write(db_engine, repo.add_camera, CameraConfig(id="", name="Porch")).id


@pytest.fixture
def writer(db_engine: Engine) -> Iterator[DbWriter]:
    w = DbWriter(db_engine)
    yield w
    if not w.closed:
        w.close(30)


@pytest.fixture
def commits(db_engine: Engine) -> Iterator[list[int]]:
    """Counts COMMITs on the engine (all threads)."""
    count = [0]

    def on_commit(_conn: object) -> None:
        count[0] += 1

    event.listen(db_engine, "commit", on_commit)
    yield count
    event.remove(db_engine, "commit", on_commit)


def seg(camera: str, i: int) -> Segment:
    return Segment(None, camera, f"{camera}/{i:06d}.mp4", i * 10_000, i * 10_000 + 10_000, 1000 + i)


def insert(camera: str, i: int):  # type: ignore[no-untyped-def]
    return lambda s: repo.insert_segment(s, seg(camera, i))


def gate(writer: DbWriter) -> threading.Event:
    """Block the writer inside a transaction until the returned event is set."""
    release = threading.Event()
    started = threading.Event()

    def wait(_s: Session) -> None:
        started.set()
        release.wait(10)

    writer.submit(wait)
    assert started.wait(10)
    return release


def test_burst_costs_few_commits(
    db_engine: Engine, writer: DbWriter, camera: str, commits: list[int]
) -> None:
    n = 1000
    futures = [writer.submit(insert(camera, i)) for i in range(n)]
    writer.flush(30)
    assert all(f.done() for f in futures)
    ids = [f.result() for f in futures]
    assert len(set(ids)) == n
    assert len(repo.all_segments(db_engine)) == n
    assert commits[0] <= n // 20, commits[0]  # 200 ops per commit at most; a burst is batched
    assert writer.stats().commits == commits[0]
    assert threading.current_thread().name != THREAD_NAME


def test_ops_queued_during_a_transaction_share_the_next_commit(
    writer: DbWriter, camera: str, commits: list[int]
) -> None:
    release = gate(writer)
    futures = [writer.submit(insert(camera, i)) for i in range(150)]
    release.set()
    writer.flush(30)
    assert all(f.result() for f in futures)
    assert commits[0] <= 2


def test_a_bad_op_fails_alone(
    db_engine: Engine, writer: DbWriter, camera: str, caplog: pytest.LogCaptureFixture
) -> None:
    release = gate(writer)
    good1 = writer.submit(insert(camera, 1))
    bad_fk = writer.submit(repo.insert_segment, seg("no-such-camera", 2))
    good2 = writer.submit(insert(camera, 3))

    def buggy(_s: Session) -> None:
        raise KeyError("bug in an op")

    bug = writer.submit(buggy)
    good3 = writer.submit(insert(camera, 4))
    with caplog.at_level(logging.ERROR, logger="hub.db.writer"):
        release.set()
        writer.flush(30)
    assert isinstance(bad_fk.exception(), IntegrityError)
    assert isinstance(bug.exception(), KeyError)
    assert all(isinstance(f.result(), int) for f in (good1, good2, good3))
    assert sorted(s.start_ms for s in repo.all_segments(db_engine)) == [10_000, 30_000, 40_000]
    failures = [r for r in caplog.records if "failed" in r.getMessage() and r.exc_info]
    assert len(failures) == 2  # each failure logged with its traceback
    assert writer.stats().ops_failed == 2 and writer.stats().batches_split >= 1


def test_transient_conflicts_are_retried(db_engine: Engine, writer: DbWriter, camera: str) -> None:
    calls = []

    def flaky(s: Session) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
        return repo.insert_segment(s, seg(camera, 7))

    assert isinstance(writer.submit(flaky).result(30), int)
    assert len(calls) == 3 and writer.stats().retries == 2
    assert len(repo.all_segments(db_engine)) == 1


def test_after_commit_runs_once_committed_and_never_for_a_failed_op(
    db_engine: Engine, writer: DbWriter, camera: str
) -> None:
    seen: list[tuple[str, int]] = []

    def insert_and_note(s: Session, i: int, fail: bool = False) -> int:
        seg_id = repo.insert_segment(s, seg(camera, i))
        # what another connection sees when the callback runs: the row only if it was committed
        after_commit(s, lambda: seen.append((f"op {i}", len(repo.all_segments(db_engine)))))
        if fail:
            raise KeyError("bug after registering")
        return seg_id

    release = gate(writer)  # batched: the failing op splits the batch, the others re-run alone
    futures = [writer.submit(insert_and_note, 1), writer.submit(insert_and_note, 2, fail=True)]
    futures.append(writer.submit(insert_and_note, 3))
    release.set()
    writer.flush(30)
    assert isinstance(futures[1].exception(), KeyError)
    # The failed op's hook never ran; each other one ran after its own commit (the split re-runs
    # op 1 and op 3 one per transaction, in order), when another connection already saw its row.
    assert seen == [("op 1", 1), ("op 3", 2)]

    seen.clear()
    attempts = []

    def conflict_once(s: Session) -> int:
        attempts.append(1)
        seg_id = insert_and_note(s, 10 + len(attempts))
        if len(attempts) == 1:
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
        return seg_id

    run_write(db_engine, conflict_once)
    assert seen == [("op 12", 3)]  # the rolled-back attempt's hook was dropped with its session


def test_flush_waits_only_for_earlier_ops(writer: DbWriter, camera: str) -> None:
    release = gate(writer)
    before = writer.submit(insert(camera, 1))
    with pytest.raises(TimeoutError):
        writer.flush(0.1)
    assert not before.done()
    release.set()
    writer.flush(30)
    assert before.done() and before.exception() is None
    nested: Future[None] = writer.submit(lambda s: writer.flush())
    assert isinstance(nested.exception(30), RuntimeError)  # flush from the writer would deadlock


def test_close_drains_and_stops(db_engine: Engine, camera: str) -> None:
    writer = DbWriter(db_engine)
    assert any(t.name == THREAD_NAME for t in threading.enumerate())
    futures = [writer.submit(insert(camera, i)) for i in range(300)]
    writer.close(30)
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(repo.all_segments(db_engine)) == 300
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(insert(camera, 999))
    writer.close(1)  # idempotent
    writer.flush(1)  # nothing to wait for


def test_idle_writer_burns_no_cpu(writer: DbWriter, camera: str) -> None:
    writer.submit(insert(camera, 1)).result(30)
    thread = next(t for t in threading.enumerate() if t.name == THREAD_NAME)

    def cpu_s() -> float:
        for info in psutil.Process().threads():
            if info.id == thread.native_id:
                return info.user_time + info.system_time
        raise AssertionError("writer thread not found")

    before = cpu_s()
    time.sleep(1.0)
    assert cpu_s() - before < 0.02


CONFIG_WRITER = """
import select
import sys
from hub.db import repo
from hub.db.engine import open_engine
from hub.db.tx import run_write
from hub.core.model import CameraConfig
from hub.core.settings import Settings
engine = open_engine(sys.argv[1])
print("ready", flush=True)
writes = 0
i = 0
while True:
    c = run_write(engine, repo.add_camera, CameraConfig(id="", name=f"cli {i}"))
    run_write(engine, repo.update_camera, c.id, mode="motion", pre_roll_s=1.0 + i % 5)
    run_write(engine, repo.save_settings, Settings(segment_seconds=5 + i % 10))
    writes += 3
    i += 1
    if i >= 10 and select.select([sys.stdin], [], [], 0)[0]:  # the parent says stop
        break
print(writes, flush=True)
engine.dispose()
"""


def test_config_writes_from_another_process_meanwhile(
    db_engine: Engine, db_url: str, writer: DbWriter, camera: str
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CONFIG_WRITER, db_url],
        cwd=REPO_ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        n = 2000
        started = time.monotonic()
        futures = []
        for i in range(n):
            futures.append(writer.submit(insert(camera, i)))
            if i % 50 == 0:
                time.sleep(0.02)  # spread the inserts so that they interleave with the child's writes
        writer.flush(120)
        elapsed = time.monotonic() - started
        out, err = child.communicate("stop\n", timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    child_writes = int(out.strip())
    assert [f.exception() for f in futures if f.exception()] == []
    segments = repo.all_segments(db_engine)
    assert len(segments) == n and len({s.path for s in segments}) == n
    assert repo.config_rev(db_engine) == 1 + child_writes  # no config write lost either
    assert len(repo.list_cameras(db_engine)) == 1 + child_writes // 3
    logging.getLogger(__name__).info("%d inserts in %.2f s beside %d config writes", n, elapsed, child_writes)
