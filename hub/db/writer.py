"""The one DB writer thread: every hub write goes through it, batched into few transactions.

``submit(fn, *args)`` queues ``fn(session, *args)`` and returns a Future. The thread (``porchlight-db-writer``)
blocks on the queue while idle. When an op arrives it starts a transaction, runs it, and keeps
pulling whatever is already queued into the same transaction (at most ``max_batch`` ops or
``max_batch_s`` seconds), then commits once: a burst of segment inserts costs one commit. Futures are
resolved only after the commit, so a resolved future means the row is durable in the index.

Failure handling: a transient conflict (locked database, serialization failure) re-runs the batch
after a short backoff. Any other failure rolls the batch back and re-runs its ops one per
transaction, so a bad op fails only its own future (``logger.exception`` plus the future's
exception) while the others commit. Ops must therefore be safe to re-run after a rollback (all
repo write functions are) and must return plain data, never ORM objects.

Callbacks added to the futures run on the writer thread: keep them short, never block on the writer.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.db.tx import RETRY_ATTEMPTS, backoff_s, is_transient, new_write_session, run_after_commit

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
THREAD_NAME = "porchlight-db-writer"


@dataclasses.dataclass
class _Op:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: Future[Any]

    def run(self, session: Session) -> Any:
        return self.fn(session, *self.args, **self.kwargs)


@dataclasses.dataclass
class _Marker:
    """Flush or stop: reached only after every op queued before it was committed or failed."""

    done: threading.Event
    stop: bool = False


@dataclasses.dataclass
class WriterStats:
    """Counters since the writer started (read with :meth:`DbWriter.stats`)."""

    ops_ok: int = 0
    ops_failed: int = 0
    commits: int = 0
    batches_split: int = 0  # batches re-run one op per transaction after a failure
    retries: int = 0  # transient conflicts retried


class DbWriter:
    """Owns the single writer thread for one engine."""

    def __init__(self, engine: Engine, *, max_batch: int = 200, max_batch_s: float = 0.25) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._max_batch_s = max_batch_s
        self._queue: queue.SimpleQueue[_Op | _Marker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._stats = WriterStats()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        _open_writers.add(self)

    def submit(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Queue ``fn(session, *args, **kwargs)`` for the next transaction; the Future resolves after its commit."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the DB writer is closed")
            self._queue.put(_Op(fn, args, kwargs, future))
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything submitted before this call is committed (or failed)."""
        self._check_not_writer_thread("flush")
        marker = _Marker(threading.Event())
        with self._lock:
            closing = self._closed
            if not closing:
                self._queue.put(marker)
        if closing:  # the stop marker is queued behind everything: wait for the thread to end
            self._thread.join(timeout)
            done = not self._thread.is_alive()
        else:
            done = marker.done.wait(timeout)
        if not done:
            raise TimeoutError(f"the DB writer did not flush within {timeout} s")

    def close(self, timeout: float | None = None) -> None:
        """Commit everything queued, then stop the thread; later submits raise RuntimeError."""
        self._check_not_writer_thread("close")
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_Marker(threading.Event(), stop=True))
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the DB writer did not finish within {timeout} s")
        _open_writers.discard(self)

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        return dataclasses.replace(self._stats)

    def _check_not_writer_thread(self, what: str) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"DbWriter.{what}() called from the writer thread would deadlock")

    # --- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        logger.debug("DB writer started")
        item: _Op | _Marker | None = None
        while True:
            if item is None:
                item = self._queue.get()  # idle: blocks, no polling
            if isinstance(item, _Marker):
                item.done.set()
                if item.stop:
                    break
                item = None
                continue
            try:
                item = self._run_batch(item)
            except BaseException:  # never let the thread die silently
                logger.exception("DB writer loop failed; continuing")
                item = None
        logger.debug("DB writer stopped: %s", self._stats)

    def _run_batch(self, first: _Op) -> _Op | _Marker | None:
        """Run ``first`` plus what is queued behind it in one transaction; return an item left over."""
        if not first.future.set_running_or_notify_cancel():
            return None
        batch = [first]
        leftover: _Op | _Marker | None = None
        for attempt in range(RETRY_ATTEMPTS):
            session = new_write_session(self._engine)
            try:
                with session.begin():
                    results = []
                    started = time.monotonic()
                    index = 0
                    while True:
                        results.append(batch[index].run(session))
                        session.flush()
                        index += 1
                        if index < len(batch):
                            continue  # re-running a fixed batch after a conflict
                        if attempt or leftover is not None or len(batch) >= self._max_batch:
                            break
                        if time.monotonic() - started >= self._max_batch_s:
                            break
                        leftover = self._next_op()
                        if leftover is None:
                            break
                        if isinstance(leftover, _Marker):
                            break
                        batch.append(leftover)
                        leftover = None
                self._stats.commits += 1
                run_after_commit(session)
            except DBAPIError as exc:
                if is_transient(exc) and attempt < RETRY_ATTEMPTS - 1:
                    self._stats.retries += 1
                    delay = backoff_s(attempt)
                    logger.warning(
                        "DB write conflict (%s); retrying %d op(s) in %.2f s", exc.orig, len(batch), delay
                    )
                    time.sleep(delay)
                    continue
                self._split(batch, exc)
                return leftover
            except BaseException as exc:  # an op's own bug must fail its future, not the thread
                self._split(batch, exc)
                return leftover
            finally:
                session.close()
            self._stats.ops_ok += len(batch)
            for op, result in zip(batch, results, strict=True):
                op.future.set_result(result)
            return leftover
        raise AssertionError("unreachable")

    def _next_op(self) -> _Op | _Marker | None:
        """The next queued item without waiting; cancelled ops are dropped."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return None
            if isinstance(item, _Marker) or item.future.set_running_or_notify_cancel():
                return item

    def _split(self, batch: list[_Op], cause: BaseException) -> None:
        """Re-run each op of a failed batch in its own transaction."""
        if len(batch) > 1:
            self._stats.batches_split += 1
            logger.warning(
                "DB write batch of %d ops failed (%s); re-running them one by one", len(batch), cause
            )
        for op in batch:
            self._run_single(op)

    def _run_single(self, op: _Op) -> None:
        for attempt in range(RETRY_ATTEMPTS):
            try:
                with new_write_session(self._engine) as session:
                    with session.begin():
                        result = op.run(session)
                    run_after_commit(session)
            except BaseException as exc:  # an op's own bug must fail its future, not the thread
                if isinstance(exc, DBAPIError) and is_transient(exc) and attempt < RETRY_ATTEMPTS - 1:
                    self._stats.retries += 1
                    time.sleep(backoff_s(attempt))
                    continue
                logger.exception("DB write %s failed", _op_name(op))
                self._stats.ops_failed += 1
                op.future.set_exception(exc)
                return
            self._stats.commits += 1
            self._stats.ops_ok += 1
            op.future.set_result(result)
            return


def _op_name(op: _Op) -> str:
    return getattr(op.fn, "__qualname__", None) or type(op.fn).__name__  # never its arguments


_open_writers: weakref.WeakSet[DbWriter] = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    """At interpreter exit, commit what open writers still hold (their threads are daemons)."""
    for writer in list(_open_writers):
        try:
            writer.close(timeout=10)
        except Exception:
            logger.exception("closing the DB writer at exit failed")
