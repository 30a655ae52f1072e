"""The Hub API's backends for tests: the shared suites (tests/test_api*.py) run once per backend.

- ``local``: the live hub in this process (hub.api.local.LocalHub), recording for real;
- ``index``: index-only (hub.api.index.IndexOnly), what a client uses when no hub runs;
- ``socket``: a real ``porchlight serve`` subprocess on the data dir, reached over its ``hub.sock``
  (hub.api.client.SocketHub); closing the API stops that serve.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import keyring
import keyring.backends.fail

from hub.api import HubApi
from hub.api.client import NoHub, SocketHub
from hub.api.errors import HubError
from hub.api.frames import FrameReader, SlotFrame
from hub.api.index import IndexOnly
from hub.api.local import LocalHub
from hub.hub import HubOptions
from tests.support.clitools import Serve

BACKENDS = ["local", "index", "socket"]
_logs = itertools.count(1)


class ServedHub(SocketHub):
    """A SocketHub to a ``porchlight serve`` this test started; ``close()`` also stops that serve
    (SIGTERM; it must exit 0)."""

    serve: Serve

    @classmethod
    def start(cls, data: Path, env: Mapping[str, str] | None = None, timeout_s: float = 30.0) -> ServedHub:
        """Start serve on ``data`` and connect once it listens."""
        serve = Serve(data, log=data.parent / f"serve-{os.getpid()}-{next(_logs)}.log", env=env)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    client = cls.open(data)
                    break
                except NoHub:
                    if serve.proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            f"serve did not listen on {data}; its log:\n{serve.output()}"
                        ) from None
                    time.sleep(0.05)
        except BaseException:
            serve.stop(timeout=30)
            raise
        client.serve = serve
        return client

    def close(self) -> None:
        super().close()
        if self.serve.proc.poll() is None:
            code = self.serve.stop(timeout=60)
            assert code == 0, f"serve exited {code}; its log:\n{self.serve.output()[-4000:]}"
        else:
            self.serve.kill()


def answering_hub_pid(data: Path) -> int | None:
    """The pid of the hub that answers on ``data``'s socket now; None when none does (none listens,
    or one that is starting or stopping drops the handshake): for polling."""
    try:
        with SocketHub.open(data) as api:
            return api.hub_pid
    except (NoHub, HubError):
        return None


def frames_for(reader: FrameReader, seconds: float) -> list[SlotFrame]:
    """Every new picture a live view's reader gets in ``seconds``, polling as a tile does (10 times a
    second)."""
    got: list[SlotFrame] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frame = reader.read(after=got[-1].seq if got else 0)
        if frame is not None:
            got.append(frame)
        time.sleep(0.1)
    return got


def open_api(kind: str, data: Path, env: Mapping[str, str] | None = None) -> HubApi:
    """The API of backend ``kind`` on the data dir ``data``; close it when done (a local hub stops, a
    served one too). ``env``: the environment of a ``socket`` backend's serve."""
    if kind == "local":
        return LocalHub.start(data, options=HubOptions(open_timeout_s=2.0))
    if kind == "index":
        return IndexOnly.open(data)
    if kind == "socket":
        return ServedHub.start(data, env)
    raise ValueError(f"no backend {kind!r}")


@contextlib.contextmanager
def without_keyring(kind: str, api: HubApi, data: Path) -> Iterator[HubApi]:
    """The API of backend ``kind`` where the hub finds no secure keyring. In this process the keyring
    is swapped for the time of the block; a served hub is restarted with the failing backend."""
    if kind == "socket":
        api.close()
        served = open_api(
            kind, data, env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        )
        try:
            yield served
        finally:
            served.close()
        return
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield api
    finally:
        keyring.set_keyring(previous)
