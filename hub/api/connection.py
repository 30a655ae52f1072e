"""One client's connection to the Hub API, in the hub's process: its thread reads the client's calls
and answers them, one at a time (see :mod:`hub.api.server`, which accepts it, and :mod:`hub.api.wire`).

An export runs in a thread of its own while this one listens for the client's Ack or Cancel. A
subscription turns the connection into a stream of notices from the client's bounded queue
(:mod:`hub.api.subscription`): a client that reads slowly loses its oldest notices, one that reads
nothing for the send timeout is disconnected, and neither holds the hub up. Live-view leases belong
to the connection that took them and end with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

import msgspec

from hub.api import wire
from hub.api.errors import HubError, HubVersionError, NotFoundError, ProtocolError, UnavailableError
from hub.api.protocol import HubApi
from hub.api.subscription import NoticeQueue, Subscription
from hub.api.types import Notice

logger = logging.getLogger(__name__)
#: The most notices sent in one write (a full default queue; about 80 KB of typical notices).
SEND_BATCH = 256


class Host(Protocol):
    """What a connection needs of the server that accepted it."""

    api: HubApi
    started_ms: int | None
    read_timeout_s: float
    idle_timeout_s: float
    send_timeout_s: float
    ack_timeout_s: float

    def _forget(self, client: Connection) -> None: ...

    def _stop_hub(self) -> None: ...

    def _stopped(self) -> None: ...


class _Gone(Exception):
    """The client stopped taking what the hub sends: the connection is closed without a word."""


class Connection:
    """One connected client: its thread reads calls and answers them, one at a time."""

    _count = 0

    def __init__(self, server: Host, sock: socket.socket, pid: int | None) -> None:
        Connection._count += 1
        self.server = server
        self.sock = sock
        self.pid = pid
        self._out = sock.dup()  # sends keep their own timeout while the thread reads
        self._out.settimeout(server.send_timeout_s)
        self._send_lock = threading.Lock()
        self.leases: set[int] = set()  # live-view leases this connection took
        self._serving: NoticeQueue | None = None  # the subscription this connection sends
        self._sent_all = threading.Event()  # clear while a subscription is being sent
        self._sent_all.set()
        self.reader = wire.FrameReader(sock, server.read_timeout_s)
        self.thread = threading.Thread(
            target=self._run, name=f"porchlight-api-{Connection._count}", daemon=True
        )

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a subscription that the hub ended (it stopped) to send its last
        notices and its end, so that a connection shut down next loses none of them."""
        serving = self._serving
        if serving is not None and serving.ending:
            self._sent_all.wait(timeout)

    def shutdown(self) -> None:
        """End the connection from another thread (the reader sees it closed)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def send(self, *msgs: wire.Message) -> None:
        """Send messages, one frame each, in one write."""
        data = b"".join(wire.frame(wire.encode(m)) for m in msgs)
        with self._send_lock:
            self._out.sendall(data)

    def _fail(self, call_id: int, error: HubError) -> None:
        self.send(wire.Failure(id=call_id, error=wire.error_info(error)))

    def _run(self) -> None:
        try:
            self._serve()
        except EOFError:
            pass
        except _Gone as exc:
            logger.warning("Hub API: closed the connection of pid %s: %s", self.pid, exc)
        except (TimeoutError, ProtocolError) as exc:
            logger.warning("Hub API: closed the connection of pid %s: %s", self.pid, exc)
            with contextlib.suppress(OSError):
                self._fail(0, exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc)))
        except OSError as exc:
            logger.info("Hub API: connection of pid %s ended: %s", self.pid, exc)
        finally:
            for lease in self.leases:
                with contextlib.suppress(HubError):
                    self.server.api.unwatch(lease)
            self._out.close()
            self.sock.close()
            self.server._forget(self)

    def _next(self, timeout: float) -> wire.Hello | wire.Call | wire.Cancel | wire.Ack | None:
        body = self.reader.read(timeout)
        if body is None:
            return None
        try:
            return wire.client_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise ProtocolError(f"malformed message: {exc}") from None

    def _serve(self) -> None:
        hello = self._next(self.server.read_timeout_s)
        if not isinstance(hello, wire.Hello):
            raise ProtocolError("the first message must be a hello")
        if hello.protocol != wire.PROTOCOL:
            self._fail(
                0,
                HubVersionError(
                    f"the running hub (pid {os.getpid()}) speaks version {wire.PROTOCOL} of the Hub API "
                    f"and this client version {hello.protocol}: restart the hub "
                    "(porchlight stop, then porchlight serve) so that both are the same Porchlight"
                ),
            )
            return
        self.send(wire.Welcome(protocol=wire.PROTOCOL, pid=os.getpid(), started_ms=self.server.started_ms))
        while True:
            msg = self._next(self.server.idle_timeout_s)
            if msg is None and self.leases:
                continue  # a live view is open: its client is not idle
            if msg is None:
                self._fail(
                    0, UnavailableError(f"closed after {self.server.idle_timeout_s:g} s without a call")
                )
                return
            if isinstance(msg, wire.Call):
                self._call(msg)
            elif isinstance(msg, wire.Hello):
                raise ProtocolError("hello was said already")
            # An Ack or a Cancel for a call that has ended: nothing to do.

    def _call(self, call: wire.Call) -> None:
        method = wire.METHODS.get(call.method)
        if method is None:
            self._fail(
                call.id,
                HubVersionError(
                    f"the running hub has no call {call.method!r} (an older Porchlight?): restart the hub"
                ),
            )
            return
        try:
            args = msgspec.msgpack.decode(call.args, type=method.args)
        except msgspec.DecodeError as exc:
            self._fail(call.id, wire.decode_error(exc, method))
            return
        kw = {f: getattr(args, f) for f in args.__struct_fields__}
        logger.debug("Hub API: %s from pid %s", method.name, self.pid)
        if method.name == "stop":
            self._answer(call.id, method, self.server._stop_hub)
            self.server._stopped()
        elif method.streams_progress:
            self._streamed(call.id, method, kw)
        elif method.subscribes:
            self._subscribe(call.id, method, kw)
        elif method.name == "watch":
            self._answer(call.id, method, lambda: self._watch(kw))
        elif method.name == "unwatch":
            self._answer(call.id, method, lambda: self._unwatch(kw["lease"]))
        else:
            self._answer(call.id, method, lambda: getattr(self.server.api, method.name)(**kw))

    def _watch(self, kw: dict[str, Any]) -> Any:
        lease = self.server.api.watch(**kw)
        self.leases.add(lease.id)
        return lease

    def _unwatch(self, lease: int) -> None:
        if lease not in self.leases:
            raise NotFoundError(f"this connection holds no live-view lease {lease}")
        self.leases.discard(lease)
        self.server.api.unwatch(lease)

    def _answer(self, call_id: int, method: wire.Method, run: Callable[[], Any]) -> Any:
        try:
            result = run()
        except HubError as exc:
            self._fail(call_id, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a bug in the hub: logged, the client told, the hub goes on
            logger.exception("Hub API: %s failed", method.name)
            self._fail(
                call_id,
                UnavailableError(
                    f"the hub failed to answer {method.name} ({type(exc).__name__}); its log says more"
                ),
            )
            return None
        self._reply(call_id, method, result)
        return result

    def _reply(self, call_id: int, method: wire.Method, result: Any) -> None:
        if method.subscribes:  # the result stays here: its notices follow
            self.send(wire.Reply(id=call_id, value=wire.raw(None)))
            return
        if not method.is_list:
            self.send(wire.Reply(id=call_id, value=wire.raw(result)))
            return
        parts = list(wire.list_parts(result))
        for i, part in enumerate(parts):
            self.send(wire.Reply(id=call_id, value=part, more=i + 1 < len(parts)))

    def _streamed(self, call_id: int, method: wire.Method, kw: dict[str, Any]) -> None:
        """A call with progress (an export): it runs in a thread while this one listens. Each Progress
        waits for the client's Ack, so a Cancel sent from its progress callback stops the export right
        there; the client going away (or not answering) cancels it too. Nothing partial is left."""
        cancel = threading.Event()
        answered = threading.Event()

        def progress(p: msgspec.Struct) -> None:
            answered.clear()
            try:
                self.send(wire.Progress(id=call_id, value=wire.raw(p)))
            except OSError:
                cancel.set()  # the client is gone
                return
            if not answered.wait(self.server.ack_timeout_s):
                logger.warning(
                    "Hub API: pid %s did not take progress in; its %s is cancelled", self.pid, method.name
                )
                cancel.set()

        outcome: Future[Any] = Future()

        def work() -> None:
            try:
                outcome.set_result(
                    getattr(self.server.api, method.name)(**kw, progress=progress, cancel=cancel)
                )
            except BaseException as exc:  # noqa: BLE001 - answered by this connection's thread
                outcome.set_exception(exc)

        worker = threading.Thread(target=work, name=f"{self.thread.name}-{method.name}", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                msg = self._next(0.2)
                if isinstance(msg, (wire.Ack, wire.Cancel)) and msg.id == call_id:
                    if isinstance(msg, wire.Cancel):
                        cancel.set()
                    answered.set()
                elif isinstance(msg, wire.Call):
                    self._fail(msg.id, ProtocolError("one call at a time on a connection"))
                elif isinstance(msg, wire.Hello):
                    raise ProtocolError("hello was said already")
        except BaseException:
            cancel.set()
            answered.set()
            worker.join()
            raise
        worker.join()
        # Answered here, not by the worker: the client's next call must not arrive while this loop
        # still refuses a second one.
        self._answer(call_id, method, outcome.result)

    def _subscribe(self, call_id: int, method: wire.Method, kw: dict[str, Any]) -> None:
        """Answer the call, then send the subscription's notices until the client closes it (or
        cancels it: the connection then takes calls again) or the hub stops."""
        sub = self._answer(call_id, method, lambda: self.server.api.subscribe(**kw))
        if sub is None:
            return  # refused; the client was told
        self._serving = sub if isinstance(sub, NoticeQueue) else None
        self._sent_all.clear()
        try:
            self._send_notices(call_id, sub)
        finally:
            self._serving = None
            self._sent_all.set()

    def _send_notices(self, call_id: int, sub: Subscription) -> None:
        look = 0.0  # when to look for the client's Cancel (or its leaving) next, during a burst
        with sub:
            while True:
                try:
                    notices = _take(sub, 0.25)
                except HubError as exc:  # the hub stopped
                    self._fail(call_id, exc)
                    return
                if notices:
                    try:
                        self.send(*(wire.Published(id=call_id, value=wire.raw(n)) for n in notices))
                    except TimeoutError:
                        raise _Gone(
                            f"it took no notices in for {self.server.send_timeout_s:g} s "
                            f"({sub.dropped} dropped)"
                        ) from None
                if len(notices) == SEND_BATCH and time.monotonic() < look:
                    continue  # a burst: each look costs this thread the GIL once more
                look = time.monotonic() + 0.25
                readable, _, _ = select.select([self.sock], [], [], 0)
                if not readable:
                    continue
                msg = self._next(self.server.read_timeout_s)  # EOFError when the client closed
                if isinstance(msg, wire.Cancel) and msg.id == call_id:
                    return
                if isinstance(msg, wire.Call):
                    self._fail(msg.id, ProtocolError("this connection carries a subscription"))
                elif isinstance(msg, wire.Hello):
                    raise ProtocolError("hello was said already")


def _take(sub: Subscription, timeout: float) -> list[Notice]:
    """What the subscription holds, up to :data:`SEND_BATCH` notices: a burst goes out in few writes
    and few wake-ups of the connection's thread, where one notice per wake-up would fall behind."""
    if isinstance(sub, NoticeQueue):
        return sub.take(timeout, SEND_BATCH)
    notice = sub.get(timeout)
    return [] if notice is None else [notice]
