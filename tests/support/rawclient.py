"""A bare client of a hub's socket, for tests of what hostile, broken or foreign programs send."""

from __future__ import annotations

import socket
from pathlib import Path

from hub.api import endpoint, wire


class Raw:
    """A bare connection to a hub's socket that sends whatever bytes it is given."""

    def __init__(self, data: Path) -> None:
        path = endpoint.connect_path(data)
        assert path is not None, "no hub.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(str(path))
        self.reader = wire.FrameReader(self.sock, 20)

    def send(self, msg: object) -> Raw:
        wire.send(self.sock, msg)
        return self

    def hello(self) -> wire.Welcome:
        msg = self.send(wire.Hello(protocol=wire.PROTOCOL)).next()
        assert isinstance(msg, wire.Welcome), msg
        return msg

    def next(self, timeout: float = 20) -> wire.FromHub:
        body = self.reader.read(timeout)
        assert body is not None, "no answer"
        return wire.hub_decoder.decode(body)

    def call(
        self, method: str, call_id: int = 1, **args: object
    ) -> wire.Failure | wire.Reply | wire.Progress | wire.Published:
        msg = self.send(wire.Call(id=call_id, method=method, args=wire.raw(args))).next()
        assert not isinstance(msg, wire.Welcome)
        return msg

    def closed(self, timeout: float = 20) -> bool:
        """True once the hub has closed the connection (what it sent before is skipped)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()
