"""One asyncio loop thread for every ONVIF call of the process (``porchlight-onvif``).

onvif-zeep-async is asyncio-based; the hub, the CLI and the GUI are thread-based. Callers hand a
coroutine to :func:`run` (blocking, with a timeout) or :func:`submit` (a concurrent Future), never
on the GUI thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _ensure() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="porchlight-onvif", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule ``coro`` on the ONVIF loop; returns a concurrent.futures.Future."""
    return asyncio.run_coroutine_threadsafe(coro, _ensure())


def run(coro: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run ``coro`` on the ONVIF loop and wait for it; TimeoutError after ``timeout`` seconds
    (the coroutine is cancelled)."""
    future = submit(asyncio.wait_for(coro, timeout))
    try:
        return future.result(timeout + 1.0)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"no answer within {timeout:g} s") from None


def shutdown(timeout: float = 5.0) -> None:
    """Stop the loop thread (tests, process exit). A later call starts a new one."""
    global _loop, _thread
    with _lock:
        loop, thread = _loop, _thread
        _loop = _thread = None
    if loop is not None:
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running():
            loop.close()
