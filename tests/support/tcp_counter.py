"""A counting TCP relay on 127.0.0.1: how often does a client connect to a camera?

``CountingRelay(target_port)`` listens on an ephemeral port of 127.0.0.1 and forwards every accepted
connection to ``127.0.0.1:target_port``, byte for byte in both directions. ``connections`` counts the
accepted connections, so a test can tell one connection attempt per minute from a retry storm.
Threads are named ``tcp-relay-*`` and all end in ``close()``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


class CountingRelay:
    """Forward 127.0.0.1:``port`` -> 127.0.0.1:``target_port`` and count the connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, name="tcp-relay-accept", daemon=True)
        self._acceptor.start()

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._times)

    def connections_since(self, t0: float) -> int:
        """Connections accepted at or after ``time.monotonic()`` value ``t0``."""
        with self._lock:
            return sum(1 for t in self._times if t >= t0)

    def url(self, mount: str = "main") -> str:
        """``rtsp://127.0.0.1:<relay port>/<mount>``."""
        return f"rtsp://{HOST}:{self.port}/{mount}"

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._times.append(time.monotonic())
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=5)
            except OSError:
                client.close()  # the camera is down: the client sees the connection drop
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=self._pump, args=(a, b), name="tcp-relay-pump", daemon=True)
                self._threads.append(t)
                t.start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        """Stop listening, drop every relayed connection, join the threads."""
        self._closed.set()
        self._listener.close()
        self._acceptor.join(5)
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> CountingRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
