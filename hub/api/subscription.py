"""A subscription to a running hub's notices, and the bounded queue that keeps a slow subscriber from
ever holding the hub up.

:meth:`hub.api.protocol.HubApi.subscribe` returns a :class:`Subscription`:

    with api.subscribe(["event_started"]) as sub:
        for notice in sub:          # blocks; ends when sub.close() is called from another thread
            ...

or ``sub.get(timeout)`` to poll. Both backends that have a hub give the same thing: in the hub's
process a :class:`NoticeQueue`, over ``hub.sock`` a
:class:`~hub.api.client_notices.SocketSubscription` (its own connection, fed by a NoticeQueue in the
hub's process).

**Backpressure.** The hub puts each notice into every subscriber's queue and never waits: a queue
that is full drops its oldest notice and counts it. The subscriber then gets a
:class:`~hub.api.types.Missed` with the count before the notices that follow, and :attr:`dropped`
adds it up. Over the socket the same happens in the hub's process; a subscriber that reads nothing
for the hub's send timeout (30 s) is disconnected.

Loads only msgspec and the API's values.
"""

from __future__ import annotations

import abc
import collections
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

from hub.api.errors import HubError
from hub.api.types import Missed, Notice

#: A subscriber's queue: 256 notices, about a minute of a busy 16-camera hub.
DEFAULT_QUEUE = 256
#: The largest queue a subscriber may ask for.
MAX_QUEUE = 65536


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Subscription(abc.ABC):
    """Notices of a running hub, in the order it published them (see the module's docstring)."""

    @abc.abstractmethod
    def get(self, timeout: float | None = None) -> Notice | None:
        """The next notice; None when none came within ``timeout`` (None: wait) or when this
        subscription was closed. UnavailableError once the hub has ended it (it stopped, or the
        connection to it was lost), after every notice it sent before."""

    @property
    @abc.abstractmethod
    def dropped(self) -> int:
        """How many notices were dropped because this subscriber fell behind (in all)."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """True once :meth:`close` was called."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop receiving notices (a ``get`` waiting in another thread returns None)."""

    def __iter__(self) -> Iterator[Notice]:
        """Every notice until :meth:`close` (UnavailableError when the hub ends it)."""
        while True:
            notice = self.get()
            if notice is None:
                return
            yield notice

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class NoticeQueue(Subscription):
    """A subscriber's bounded queue in the hub's process: :meth:`put` never blocks; when full, the
    oldest notice is dropped and counted. ``kinds``: the notice kinds wanted (None: all)."""

    def __init__(
        self,
        kinds: frozenset[str] | None = None,
        size: int = DEFAULT_QUEUE,
        on_close: Callable[[NoticeQueue], None] | None = None,
    ) -> None:
        self.kinds = kinds
        self.size = size
        self._items: collections.deque[Notice] = collections.deque()
        self._cond = threading.Condition()
        self._missed = 0  # dropped since the last Missed was taken
        self._dropped = 0
        self._ended: HubError | None = None
        self._closed = False
        self._on_close = on_close

    def wants(self, kind: str) -> bool:
        """Whether this subscriber asked for notices of ``kind``."""
        return self.kinds is None or kind in self.kinds

    def put(self, notice: Notice) -> None:
        """Queue a notice; never blocks (the oldest is dropped when the queue is full)."""
        with self._cond:
            if self._closed or self._ended is not None:
                return
            if len(self._items) >= self.size:
                self._items.popleft()
                self._missed += 1
                self._dropped += 1
            self._items.append(notice)
            self._cond.notify()

    def end(self, error: HubError) -> None:
        """The hub ends this subscription: ``get`` raises ``error`` once the queue is empty."""
        with self._cond:
            if self._ended is None:
                self._ended = error
            self._cond.notify_all()

    @property
    def ending(self) -> bool:
        """The hub ended it: what is queued is the last, then ``get`` raises."""
        return self._ended is not None

    def get(self, timeout: float | None = None) -> Notice | None:
        batch = self.take(timeout, 1)
        return batch[0] if batch else None

    def take(self, timeout: float | None = None, most: int = 64) -> list[Notice]:
        """Up to ``most`` notices at once, in order (a :class:`Missed` first when some were dropped);
        ``[]`` when none came within ``timeout`` or the queue was closed. Raises as :meth:`get` does
        once the hub has ended it and it is empty. A sender that takes a batch per wake-up keeps up
        with a burst that one notice per wake-up would not."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return []
                if self._missed or self._items:
                    batch: list[Notice] = []
                    if self._missed:
                        batch.append(Missed(at_ms=_now_ms(), count=self._missed))
                        self._missed = 0
                    while self._items and len(batch) < most:
                        batch.append(self._items.popleft())
                    return batch
                if self._ended is not None:
                    raise self._ended
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return []
                self._cond.wait(left)

    @property
    def pending(self) -> int:
        """Notices waiting to be taken."""
        with self._cond:
            return len(self._items)

    @property
    def dropped(self) -> int:
        with self._cond:
            return self._dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._items.clear()
            self._cond.notify_all()
        if self._on_close is not None:
            self._on_close(self)
