"""The hub's end of ``hub.sock``: answers the Hub API for clients of the owner's account.

``porchlight serve`` (and the app's hub) runs one :class:`ApiServer` beside its :class:`LocalHub`,
started once the hub holds its data dir's lock: only then is a socket left by a killed hub removed.
The socket is made 0600 and, on Linux, every client's account is checked (``SO_PEERCRED``) before
a byte of it is read. Each client gets a thread; a call runs in it (an export in a thread of its
own, so that a Cancel or the client going away stops it). Whatever a client sends, the worst it
gets is an error reply and a closed connection: the cameras keep recording.

The wire itself (frames, messages, versions): :mod:`hub.api.wire`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgspec

from hub.api import endpoint, wire
from hub.api.errors import HubError, HubVersionError, ProtocolError, UnavailableError
from hub.api.protocol import HubApi

logger = logging.getLogger(__name__)

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_uid(sock: socket.socket) -> tuple[int, int] | None:
    """(pid, uid) of the process at the other end of a Unix socket; None where the OS cannot say."""
    if not sys.platform.startswith("linux"):
        return None  # elsewhere the socket's mode (0600) in a 0700 data dir is the check
    pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return pid, uid


class ApiServer:
    """Serves one hub's API on its data dir's ``hub.sock`` until :meth:`close`."""

    def __init__(
        self,
        api: HubApi,
        data_dir: Path,
        *,
        started_ms: int | None = None,
        on_stop: Callable[[], None] | None = None,
        read_timeout_s: float = 10.0,
        idle_timeout_s: float = 600.0,
        send_timeout_s: float = 30.0,
        ack_timeout_s: float = 60.0,
        max_clients: int = 32,
    ) -> None:
        self.api = api
        self.data_dir = Path(data_dir)
        self.started_ms = started_ms
        self.read_timeout_s = read_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.send_timeout_s = send_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self.max_clients = max_clients
        self._on_stop = on_stop
        self._listener: socket.socket | None = None
        self._path: Path | None = None
        self._accepting = threading.Event()
        self._lock = threading.Lock()
        self._clients: set[_Client] = set()
        self._accept_thread: threading.Thread | None = None

    @property
    def path(self) -> Path | None:
        """Where it listens (None before start and after it stops accepting)."""
        return self._path

    def start(self) -> ApiServer:
        """Listen (the caller holds the data dir's hub lock); returns self. Where Python has no Unix
        sockets (Windows) nothing listens: clients work on the index."""
        if not endpoint.SUPPORTED:
            logger.info("no Unix sockets on this platform: the Hub API is not served")
            return self
        endpoint.remove_stale(self.data_dir)
        path = endpoint.listen_path(self.data_dir)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # made 0600 at bind: never a moment when another account may connect
        try:
            sock.bind(str(path))
        except OSError as exc:
            sock.close()
            raise UnavailableError(f"cannot listen on {path}: {exc.strerror or exc}") from None
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        link = endpoint.link_path(self.data_dir)
        if path != link:
            os.symlink(path, link)
        sock.listen(16)
        sock.settimeout(0.25)  # close() is noticed within this
        self._listener, self._path = sock, path
        self._accepting.set()
        self._accept_thread = threading.Thread(target=self._accept, name="porchlight-api-accept", daemon=True)
        self._accept_thread.start()
        logger.info("Hub API listening on %s", path)
        return self

    def stop_accepting(self) -> None:
        """Take no new clients and remove the socket (the clients connected still get answers)."""
        if not self._accepting.is_set():
            return
        self._accepting.clear()
        if self._accept_thread is not None and self._accept_thread is not threading.current_thread():
            self._accept_thread.join(5)
        if self._listener is not None:
            self._listener.close()
        with contextlib.suppress(OSError):
            endpoint.remove_stale(self.data_dir)
        self._path = None

    def close(self) -> None:
        """Stop accepting, end every client's connection (an export running is cancelled) and wait."""
        self.stop_accepting()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.shutdown()
        for c in clients:
            if c.thread is not threading.current_thread():
                c.thread.join(30)

    def _accept(self) -> None:
        assert self._listener is not None
        while self._accepting.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._accepting.is_set():
                    logger.exception("Hub API: accepting a client failed")
                break
            self._admit(conn)

    def _admit(self, conn: socket.socket) -> None:
        peer = peer_uid(conn)
        if peer is not None and peer[1] != os.getuid():
            logger.warning("Hub API: refused pid %d of another account (uid %d)", peer[0], peer[1])
            _refuse(conn, UnavailableError("this hub belongs to another account"))
            return
        with self._lock:
            if len(self._clients) >= self.max_clients:
                _refuse(conn, UnavailableError(f"the hub already serves {self.max_clients} clients"))
                return
            client = _Client(self, conn, peer[0] if peer else None)
            self._clients.add(client)
        client.thread.start()

    def _forget(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def _stop_hub(self) -> None:
        """The API's ``stop``: no new clients, then the hub stops (this call returns when it has)."""
        self.stop_accepting()
        self.api.stop()

    def _stopped(self) -> None:
        if self._on_stop is not None:
            self._on_stop()


def _refuse(conn: socket.socket, error: HubError) -> None:
    with contextlib.suppress(OSError):
        conn.settimeout(1.0)
        wire.send(conn, wire.Failure(error=wire.error_info(error)))
    conn.close()


class _Client:
    """One connected client: its thread reads calls and answers them, one at a time."""

    _count = 0

    def __init__(self, server: ApiServer, sock: socket.socket, pid: int | None) -> None:
        _Client._count += 1
        self.server = server
        self.sock = sock
        self.pid = pid
        self._out = sock.dup()  # sends keep their own timeout while the thread reads
        self._out.settimeout(server.send_timeout_s)
        self._send_lock = threading.Lock()
        self.reader = wire.FrameReader(sock, server.read_timeout_s)
        self.thread = threading.Thread(target=self._run, name=f"porchlight-api-{_Client._count}", daemon=True)

    def shutdown(self) -> None:
        """End the connection from another thread (the reader sees it closed)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def send(self, msg: wire.Message) -> None:
        with self._send_lock:
            wire.send(self._out, msg)

    def _fail(self, call_id: int, error: HubError) -> None:
        self.send(wire.Failure(id=call_id, error=wire.error_info(error)))

    def _run(self) -> None:
        try:
            self._serve()
        except EOFError:
            pass
        except (TimeoutError, ProtocolError) as exc:
            logger.warning("Hub API: closed the connection of pid %s: %s", self.pid, exc)
            with contextlib.suppress(OSError):
                self._fail(0, exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc)))
        except OSError as exc:
            logger.info("Hub API: connection of pid %s ended: %s", self.pid, exc)
        finally:
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
        else:
            self._answer(call.id, method, lambda: getattr(self.server.api, method.name)(**kw))

    def _answer(self, call_id: int, method: wire.Method, run: Callable[[], Any]) -> None:
        try:
            result = run()
        except HubError as exc:
            self._fail(call_id, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug in the hub: logged, the client told, the hub goes on
            logger.exception("Hub API: %s failed", method.name)
            self._fail(
                call_id,
                UnavailableError(
                    f"the hub failed to answer {method.name} ({type(exc).__name__}); its log says more"
                ),
            )
            return
        self._reply(call_id, method, result)

    def _reply(self, call_id: int, method: wire.Method, result: Any) -> None:
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
