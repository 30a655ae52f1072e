"""A subscription over ``hub.sock``: the client's end (see :mod:`hub.api.subscription`).

:meth:`hub.api.client.SocketHub.subscribe` opens a connection of its own for it: after the call, the
hub sends only notices on it (:class:`~hub.api.wire.Published` frames), and a Failure when it ends
the subscription (it stops). Closing the connection is how the client unsubscribes. Loads only
msgspec and the API's values.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import NoReturn

import msgspec

from hub.api import wire
from hub.api.errors import HubError, ProtocolError, UnavailableError
from hub.api.subscription import Subscription
from hub.api.types import Missed, Notice

_notice_decoder = msgspec.msgpack.Decoder(Notice)


class SocketSubscription(Subscription):
    """A subscription over ``hub.sock``: a connection of its own that carries only notices (see
    :meth:`hub.api.client.SocketHub.subscribe`)."""

    def __init__(self, sock: socket.socket, reader: wire.FrameReader, call_id: int) -> None:
        self._sock = sock
        self._reader = reader
        self._id = call_id
        self._lock = threading.Lock()  # one get at a time
        self._closed = False
        self._ended: HubError | None = None
        self._dropped = 0

    def get(self, timeout: float | None = None) -> Notice | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._closed:
                    return None
                if self._ended is not None:
                    raise self._ended
                left = 1.0 if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return None
                notice = self._receive(min(left, 1.0))
                if notice is not None:
                    return notice

    def _receive(self, timeout: float) -> Notice | None:
        try:
            body = self._reader.read(timeout)
        except ProtocolError as exc:  # a frame over the cap: the stream cannot be trusted
            return self._end(exc)
        except (EOFError, OSError) as exc:
            if self._closed:
                return None
            return self._end(UnavailableError(f"the connection to the hub was lost ({exc})"))
        if body is None:
            return None
        try:
            msg = wire.hub_decoder.decode(body)
        except msgspec.DecodeError as exc:
            return self._end(ProtocolError(f"the hub sent a message this porchlight cannot read: {exc}"))
        if isinstance(msg, wire.Failure):
            return self._end(wire.rebuild(msg.error))
        if not isinstance(msg, wire.Published) or msg.id != self._id:
            return self._end(ProtocolError("the hub sent something else than a notice"))
        try:
            notice = _notice_decoder.decode(msg.value)
        except msgspec.DecodeError:
            return None  # a kind a newer hub has and this client does not know: skipped
        if isinstance(notice, Missed):
            self._dropped += notice.count
        return notice

    def _end(self, error: HubError) -> NoReturn:
        self._ended = error
        self._sock.close()
        raise error

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # a get waiting in another thread returns
        with self._lock:
            self._sock.close()
