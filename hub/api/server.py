"""The hub's end of ``hub.sock``: answers the Hub API for clients of the owner's account.

``porchlight serve`` (and the app's hub) runs one :class:`ApiServer` beside its :class:`LocalHub`,
started once the hub holds its data dir's lock: only then is a socket left by a killed hub removed.
The socket is made 0600 and, on Linux, every client's account is checked (``SO_PEERCRED``) before
a byte of it is read. Each client gets a thread; a call runs in it (an export in a thread of its
own, so that a Cancel or the client going away stops it); what a connection does:
:mod:`hub.api.connection`. Whatever a client sends, the worst it gets is an error reply and a closed
connection: the cameras keep recording.

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
import time
from collections.abc import Callable
from pathlib import Path

from hub.api import endpoint, wire
from hub.api.connection import Connection
from hub.api.errors import HubError, UnavailableError
from hub.api.protocol import HubApi

logger = logging.getLogger(__name__)

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
#: How long close() lets subscriptions the stopped hub ended send their last notices and their end.
DRAIN_S = 5.0


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
        self._clients: set[Connection] = set()
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
        """Stop accepting, end every client's connection (an export running is cancelled) and wait.
        A subscription the hub has ended (it stopped) first sends its last notices and its end."""
        self.stop_accepting()
        with self._lock:
            clients = list(self._clients)
        deadline = time.monotonic() + DRAIN_S
        for c in clients:
            c.drain(max(0.0, deadline - time.monotonic()))
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
            client = Connection(self, conn, peer[0] if peer else None)
            self._clients.add(client)
        client.thread.start()

    def _forget(self, client: Connection) -> None:
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
