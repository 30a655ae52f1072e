"""The Hub API of a running hub, over its data dir's ``hub.sock``: what the CLI (and next the app) uses
when a hub runs, so that a change applies at once and the status is the live one.

It loads only msgspec and the API's values; the engine stays in the hub's process. A call sends one
message and waits for its answer; errors are the hub's family, rebuilt here with their field and
rule. A connection the hub closed while idle is opened again at the next call. The wire:
:mod:`hub.api.wire`.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import msgspec

from hub.api import endpoint, wire
from hub.api.client_community import CommunityCalls
from hub.api.client_notices import SocketSubscription
from hub.api.errors import CancelledError, HubError, HubVersionError, ProtocolError, UnavailableError
from hub.api.subscription import DEFAULT_QUEUE, Subscription
from hub.api.types import (
    MANUAL_EVENT_S,
    Camera,
    CameraChange,
    Credentials,
    DeviceQuery,
    Discovery,
    Event,
    EventKind,
    ExportProgress,
    ExportRequest,
    ExportResult,
    Lease,
    NewCamera,
    NoticeKind,
    Probe,
    Protection,
    ProtectReason,
    Recording,
    Role,
    Settings,
    SettingsChange,
    Snapshot,
    Status,
    StorageInfo,
)


class NoHub(Exception):
    """No hub listens on the data dir's socket (none runs, or it is still starting)."""


class _NoAnswer(UnavailableError):
    """The hub did not answer a call in time: its connection cannot be trusted further."""


class SocketHub(CommunityCalls):
    """The Hub API of the hub that runs on a data dir, over its socket."""

    def __init__(self, data_dir: Path, *, timeout_s: float = 5.0, reply_timeout_s: float = 120.0) -> None:
        self.data_dir = Path(data_dir)
        self._timeout = timeout_s
        self._reply_timeout = reply_timeout_s
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: wire.FrameReader | None = None
        self._next_id = 0
        #: The hub's process id and start time (from its welcome).
        self.hub_pid = 0
        self.hub_started_ms: int | None = None

    @classmethod
    def open(cls, data_dir: Path, **kw: float) -> SocketHub:
        """Connect to the hub of ``data_dir``; NoHub when none listens, HubVersionError when it
        speaks another version of the API."""
        client = cls(data_dir, **kw)
        client._connect()
        return client

    # -- the connection ------------------------------------------------------------------------------
    def _connect(self) -> None:
        sock, reader, welcome = self._open()
        self._sock, self._reader = sock, reader
        self.hub_pid, self.hub_started_ms = welcome.pid, welcome.started_ms

    def _open(self) -> tuple[socket.socket, wire.FrameReader, wire.Welcome]:
        """A new connection to the hub, welcomed."""
        path = endpoint.connect_path(self.data_dir) if endpoint.SUPPORTED else None
        if path is None:
            raise NoHub(f"no hub listens on {endpoint.link_path(self.data_dir)}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self._timeout)
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise NoHub(f"no hub listens on {path}") from exc
        except OSError as exc:
            sock.close()
            raise UnavailableError(f"cannot reach the hub on {path}: {exc.strerror or exc}") from None
        reader = wire.FrameReader(sock, self._timeout)
        try:
            return sock, reader, self._hello(sock, reader, path)
        except BaseException:
            sock.close()
            raise

    def _hello(self, sock: socket.socket, reader: wire.FrameReader, path: Path) -> wire.Welcome:
        """Say hello; the hub's welcome, or why there is none."""
        try:
            wire.send(sock, wire.Hello(protocol=wire.PROTOCOL, client="porchlight"))
            body = reader.read(self._timeout)
        except (EOFError, OSError) as exc:
            raise UnavailableError(f"the hub on {path} closed the connection ({exc})") from None
        if body is None:
            raise UnavailableError(f"the hub on {path} did not say hello within {self._timeout:g} s")
        msg = _decode(body)
        if isinstance(msg, wire.Failure):
            raise wire.rebuild(msg.error)
        if not isinstance(msg, wire.Welcome):
            raise ProtocolError("the hub did not answer hello with a welcome")
        if msg.protocol != wire.PROTOCOL:
            raise HubVersionError(
                f"the running hub (pid {msg.pid}) speaks version {msg.protocol} of the Hub API and this "
                f"porchlight version {wire.PROTOCOL}: restart the hub (porchlight stop, then porchlight serve)"
            )
        return msg

    def _drop(self) -> None:
        sock, self._sock, self._reader = self._sock, None, None
        if sock is not None:
            sock.close()

    def _ready(self) -> tuple[socket.socket, wire.FrameReader]:
        """The connection, opened again when the hub closed it while it was idle."""
        if self._sock is not None:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if readable:  # between calls the hub only ever says goodbye (or closes)
                self._drop()
        if self._sock is None:
            try:
                self._connect()
            except NoHub:
                raise UnavailableError(f"the hub of {self.data_dir} is not running any more") from None
        assert self._sock is not None and self._reader is not None
        return self._sock, self._reader

    def _call(
        self,
        name: str,
        /,
        progress: Callable[[Any], None] | None = None,
        cancel: threading.Event | None = None,
        **kw: Any,
    ) -> Any:
        method = wire.METHODS[name]
        args = method.args(**kw)
        with self._lock:
            sock, reader = self._ready()
            self._next_id += 1
            call_id = self._next_id
            try:
                wire.send(sock, wire.Call(id=call_id, method=name, args=wire.raw(args)))
                return self._answer(sock, reader, call_id, method, progress, cancel)
            except (EOFError, OSError) as exc:
                self._drop()
                raise UnavailableError(
                    f"the hub closed the connection during {name} (did it stop?): {exc}"
                ) from None
            except (ProtocolError, _NoAnswer):
                self._drop()
                raise
            except HubError:
                raise  # the hub's answer: the connection goes on
            except BaseException:  # Ctrl-C: the hub sees the connection close and cancels an export
                self._drop()
                raise

    def _answer(
        self,
        sock: socket.socket,
        reader: wire.FrameReader,
        call_id: int,
        method: wire.Method,
        progress: Callable[[Any], None] | None,
        cancel: threading.Event | None,
    ) -> Any:
        items: list[Any] = []
        cancelled = False
        last = time.monotonic()
        while True:
            body = reader.read(0.1 if cancel is not None else self._reply_timeout)
            if body is None:
                if cancel is not None and cancel.is_set() and not cancelled:
                    wire.send(sock, wire.Cancel(id=call_id))
                    cancelled = True
                if time.monotonic() - last > self._reply_timeout:
                    raise _NoAnswer(f"the hub did not answer {method.name} within {self._reply_timeout:g} s")
                continue
            last = time.monotonic()
            msg = _decode(body)
            if isinstance(msg, wire.Failure):
                if msg.id not in (0, call_id):
                    raise ProtocolError(f"an answer to call {msg.id}, not {call_id}")
                raise wire.rebuild(msg.error)
            if isinstance(msg, (wire.Welcome, wire.Published)) or msg.id != call_id:
                raise ProtocolError("the hub answered out of turn")
            if isinstance(msg, wire.Progress):
                if progress is not None:
                    progress(msgspec.msgpack.decode(msg.value, type=ExportProgress))
                stop = cancel is not None and cancel.is_set() and not cancelled
                cancelled = cancelled or stop
                wire.send(sock, wire.Cancel(id=call_id) if stop else wire.Ack(id=call_id))
                continue
            if method.subscribes:
                return None  # subscribed: notices follow on this connection
            value = msgspec.msgpack.decode(msg.value, type=method.result)
            if not method.is_list:
                return value
            items.extend(value)
            if not msg.more:
                return items

    # -- cameras ----------------------------------------------------------------------------------
    def cameras(self) -> list[Camera]:
        """Every camera (removed ones excluded), ordered by name."""
        return self._call("cameras")  # type: ignore[no-any-return]

    def camera(self, ref: str) -> Camera:
        """The camera with this id or name."""
        return self._call("camera", ref=ref)  # type: ignore[no-any-return]

    def add_camera(self, new: NewCamera, credentials: Credentials | None = None) -> Camera:
        """Store a new camera; the hub starts recording it."""
        return self._call("add_camera", new=new, credentials=credentials)  # type: ignore[no-any-return]

    def update_camera(self, ref: str, change: CameraChange, credentials: Credentials | None = None) -> Camera:
        """Change a camera's fields (and its credentials when given)."""
        return self._call("update_camera", ref=ref, change=change, credentials=credentials)  # type: ignore[no-any-return]

    def remove_camera(self, ref: str) -> Camera:
        """Remove a camera and forget its credentials."""
        return self._call("remove_camera", ref=ref)  # type: ignore[no-any-return]

    # -- recordings and events ------------------------------------------------------------------------
    def recordings(
        self, camera: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[Recording]:
        """The recorded files that overlap the window, oldest first."""
        return self._call("recordings", camera=camera, start_ms=start_ms, end_ms=end_ms)  # type: ignore[no-any-return]

    def events(
        self,
        camera: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        kinds: Sequence[EventKind] | None = None,
    ) -> list[Event]:
        """The events that overlap the window, oldest first."""
        return self._call(  # type: ignore[no-any-return]
            "events",
            camera=camera,
            start_ms=start_ms,
            end_ms=end_ms,
            kinds=None if kinds is None else list(kinds),
        )

    def export(
        self,
        request: ExportRequest,
        progress: Callable[[ExportProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ExportResult:
        """Write one camera's recordings in a window as one MP4 clip (the hub writes it)."""
        if cancel is not None and cancel.is_set():
            raise CancelledError("the export was cancelled before it started")
        return self._call("export", progress, cancel, request=request)  # type: ignore[no-any-return]

    # -- keeping footage ----------------------------------------------------------------------------
    def protect(
        self, camera: str, start_ms: int, end_ms: int, reason: ProtectReason = "star", note: str = ""
    ) -> Protection:
        """Keep a camera's footage in a window from retention, for a reason."""
        return self._call(  # type: ignore[no-any-return]
            "protect", camera=camera, start_ms=start_ms, end_ms=end_ms, reason=reason, note=note
        )

    def protections(
        self,
        camera: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        reasons: Sequence[ProtectReason] | None = None,
    ) -> list[Protection]:
        """The protections overlapping the window, ordered by start."""
        return self._call(  # type: ignore[no-any-return]
            "protections",
            camera=camera,
            start_ms=start_ms,
            end_ms=end_ms,
            reasons=None if reasons is None else list(reasons),
        )

    def release(self, protection: int) -> Protection:
        """End one protection (what another covers stays kept)."""
        return self._call("release", protection=protection)  # type: ignore[no-any-return]

    # -- manual events and pictures ------------------------------------------------------------------
    def start_event(self, camera: str, duration_s: float = MANUAL_EVENT_S) -> Event:
        """Start (or extend) a manual event on a camera."""
        return self._call("start_event", camera=camera, duration_s=duration_s)  # type: ignore[no-any-return]

    def end_event(self, event: int) -> Event:
        """End an open manual event now."""
        return self._call("end_event", event=event)  # type: ignore[no-any-return]

    def snapshot(self, camera: str) -> Snapshot:
        """The camera's newest picture as a JPEG."""
        return self._call("snapshot", camera=camera)  # type: ignore[no-any-return]

    # -- devices ----------------------------------------------------------------------------------------
    def discover(self, timeout_s: float = 3.0, host: str | None = None) -> Discovery:
        """Devices the hub's drivers find."""
        return self._call("discover", timeout_s=timeout_s, host=host)  # type: ignore[no-any-return]

    def probe(self, ref: str) -> Probe:
        """What a configured camera's device offers now."""
        return self._call("probe", ref=ref)  # type: ignore[no-any-return]

    def probe_device(self, query: DeviceQuery, credentials: Credentials | None = None) -> Probe:
        """What a device offers before it is added."""
        return self._call("probe_device", query=query, credentials=credentials)  # type: ignore[no-any-return]

    # -- hub settings and storage -----------------------------------------------------------------
    def settings(self) -> Settings:
        """The hub-wide settings."""
        return self._call("settings")  # type: ignore[no-any-return]

    def update_settings(self, change: SettingsChange) -> Settings:
        """Change hub settings."""
        return self._call("update_settings", change=change)  # type: ignore[no-any-return]

    def storage(self) -> StorageInfo:
        """The recordings folder: where, its state, and how full it is."""
        return self._call("storage")  # type: ignore[no-any-return]

    # -- status and the hub -----------------------------------------------------------------------------
    def status(self) -> Status:
        """The hub's live status."""
        return self._call("status")  # type: ignore[no-any-return]

    # -- notices and live views ------------------------------------------------------------------------
    def subscribe(
        self, kinds: Sequence[NoticeKind] | None = None, queue_size: int = DEFAULT_QUEUE
    ) -> Subscription:
        """The hub's notices from now on, on a connection of their own (closed by ``close()``)."""
        method = wire.METHODS["subscribe"]
        args = method.args(kinds=None if kinds is None else list(kinds), queue_size=queue_size)
        try:
            sock, reader, _ = self._open()
        except NoHub:
            raise UnavailableError(f"the hub of {self.data_dir} is not running any more") from None
        try:
            wire.send(sock, wire.Call(id=1, method="subscribe", args=wire.raw(args)))
            self._answer(sock, reader, 1, method, None, None)
        except (EOFError, OSError) as exc:
            sock.close()
            raise UnavailableError(f"the hub closed the connection during subscribe: {exc}") from None
        except BaseException:
            sock.close()
            raise
        return SocketSubscription(sock, reader, 1)

    def watch(self, camera: str, role: Role = "detect") -> Lease:
        """Open a live-view lease; it lasts while this client's connection does."""
        return self._call("watch", camera=camera, role=role)  # type: ignore[no-any-return]

    def unwatch(self, lease: int) -> None:
        """End a live-view lease this client took."""
        self._call("unwatch", lease=lease)

    def stop(self) -> None:
        """Stop the hub; returns once it has stopped."""
        self._call("stop")

    def close(self) -> None:
        """Close this client's connection (the hub goes on)."""
        with self._lock:
            self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _decode(body: bytes) -> wire.Welcome | wire.Failure | wire.Reply | wire.Progress | wire.Published:
    try:
        return wire.hub_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"the hub sent a message this porchlight cannot read: {exc}") from None
