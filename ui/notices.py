"""The one seam between a hub's notices and Qt.

A worker thread reads the Hub API subscription (:meth:`hub.api.protocol.HubApi.subscribe`) and
re-emits each notice as a Qt signal. The bridge object lives in the GUI thread, so Qt queues every
emission to it: slots connected to these signals always run on the GUI thread.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from hub.api.errors import HubError, HubStoppedError
from hub.api.subscription import Subscription

logger = logging.getLogger(__name__)


class NoticeBridge(QObject):
    """Emits :attr:`received` for every notice of ``sub`` (a :data:`hub.api.types.Notice`), and
    :attr:`ended` once the hub ends the subscription: why, and whether the hub stopped on purpose
    (:class:`~hub.api.errors.HubStoppedError`) rather than going away (killed, crashed, lost).

    Nothing is read before :meth:`start`: connect the signals first, or the notices already queued
    (a camera that began recording while the window was loading) would be emitted to nobody."""

    received = Signal(object)
    ended = Signal(str, bool)  # why (to show as it is), stopped on purpose

    def __init__(self, sub: Subscription, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sub = sub
        self._thread = threading.Thread(target=self._read, name="porchlight-ui-notices", daemon=True)

    def start(self) -> None:
        """Start reading (once the signals are connected)."""
        self._thread.start()

    def _read(self) -> None:  # the worker thread
        try:
            for notice in self._sub:
                self.received.emit(notice)
        except HubError as exc:
            logger.info("the hub ended its notices: %s", exc)
            self.ended.emit(str(exc), isinstance(exc, HubStoppedError))
        except Exception as exc:  # noqa: BLE001 - reported to the window, which shows it
            logger.warning("reading the hub's notices failed", exc_info=True)
            self.ended.emit(f"lost the hub's notices: {exc}", False)

    def close(self) -> None:
        """Stop receiving notices (returns once the worker has ended)."""
        self._sub.close()
        if self._thread.ident is not None:
            self._thread.join(10)
