"""Run hub calls off the GUI thread, with success/failure callbacks back on the GUI thread.

Every UI action that touches the disk, the index, the keyring or the network goes through
:func:`run_in_background`. Failures show a message box unless the caller handles them.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

logger = logging.getLogger(__name__)

_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _get_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="porchlight-ui-task")
    return _pool


class _Relay(QObject):
    done = Signal(object, object, object)  # callback, result, exception


_relay: _Relay | None = None


def _get_relay() -> _Relay:
    global _relay
    if _relay is None:  # created on the GUI thread by the first call
        _relay = _Relay()
        _relay.done.connect(_deliver)
    return _relay


def _deliver(
    callback: Callable[[Any, BaseException | None], None], result: Any, exc: BaseException | None
) -> None:
    callback(result, exc)


def run_in_background(
    fn: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    parent: QWidget | None = None,
) -> concurrent.futures.Future[Any]:
    """Run ``fn()`` on a worker thread; call ``on_success(result)`` or ``on_failure(exc)`` on the GUI thread."""
    relay = _get_relay()

    def finish(result: Any, exc: BaseException | None) -> None:
        if exc is None:
            if on_success is not None:
                on_success(result)
        elif on_failure is not None:
            on_failure(exc)
        else:
            QMessageBox.warning(parent, "Porchlight", str(exc))

    def job() -> Any:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - delivered to the GUI thread
            logger.debug("background task failed", exc_info=True)
            relay.done.emit(finish, None, exc)
            return None
        relay.done.emit(finish, result, None)
        return result

    return _get_pool().submit(job)


def shutdown() -> None:
    """Wait for running tasks (at application exit); a later call starts a new pool."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
