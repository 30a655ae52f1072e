"""The Hub API on the wire: how a client and a hub talk over ``hub.sock``.

Both ends import this module; it loads only msgspec and the API's values, never the engine.

**Frames.** Every message is one frame: a 4-byte big-endian length, then that many bytes of
MessagePack. A frame longer than :data:`MAX_FRAME` (1 MiB) is refused before it is read; a frame left
half-sent longer than the read timeout closes the connection. Nothing is ever unpickled.

**Handshake.** The client's first frame is :class:`Hello` with its :data:`PROTOCOL`; the hub answers
:class:`Welcome` (its pid and start time) or, for another protocol, a :class:`Failure` of kind
``"version"`` and closes. :class:`Hello`, :class:`Welcome` and :class:`Failure` keep their shape in
every version, so two versions always understand each other well enough to say "restart the hub".
New optional fields keep :data:`PROTOCOL`; a change an older peer would misread bumps it.

**Calls.** A :class:`Call` names a :class:`~hub.api.protocol.HubApi` method and carries its arguments
as one MessagePack map, decoded strictly by a struct made from the method's signature
(:data:`METHODS`). The hub answers :class:`Reply` (the result) or :class:`Failure` (an error of the
hub's family, rebuilt on the client's side with its field and rule). A list too long for one frame
comes in several :class:`Reply` frames, each marked ``more`` but the last. An export sends
:class:`Progress` frames before its reply and goes on once the client answers each with :class:`Ack`,
or stops at a :class:`Cancel` (or when the client goes away): a client that cancels in its progress
callback stops the export at that point, as in the hub's own process. One call at a time per
connection.

**Subscriptions.** A ``subscribe`` call is answered with a :class:`Reply` (``None``), then the
connection carries only :class:`Published` notices for it, until the client closes it or the hub
ends it with a :class:`Failure` (it stops). A client subscribes on a connection of its own.

**Leases.** A lease from ``watch`` belongs to the connection that asked for it: it ends with that
connection, and a connection holding one is never closed for being idle.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import re
import socket
import struct
import time
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import msgspec

from hub.api import errors
from hub.api.protocol import HubApi
from hub.api.subscription import Subscription

#: The wire's version. Bump it for a change an older peer would misread (a renamed or removed field,
#: a new required one, a new meaning); a new optional field keeps it.
PROTOCOL = 2  # 2: the camera state keyring_locked
#: The largest frame either end accepts (its length prefix excluded).
MAX_FRAME = 1 << 20
#: Room kept for the envelope around a reply's value.
_ENVELOPE = 4096
_HEADER = struct.Struct(">I")

#: Arguments that only make sense in one process: the wire replaces them by Progress/Cancel frames.
LOCAL_ONLY = frozenset({"progress", "cancel"})


# --- messages ---------------------------------------------------------------------------------------


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every frame's content; unknown fields are ignored (a newer peer may add some)."""


class Hello(Message, frozen=True, kw_only=True, tag="hello"):
    """The client's first frame. Never changes shape."""

    protocol: int
    client: str = ""


class Welcome(Message, frozen=True, kw_only=True, tag="welcome"):
    """The hub's answer to a Hello of its protocol. Never changes shape."""

    protocol: int
    pid: int
    started_ms: int | None = None


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An error of the hub's family, as it crosses: its kind, message and (for a refused value) the
    field and the rule it broke."""

    kind: str
    message: str
    field: str | None = None
    rule: str | None = None
    state: str | None = None


class Failure(Message, frozen=True, kw_only=True, tag="failure"):
    """A call failed, or the connection is refused (``id`` 0). Never changes shape."""

    id: int = 0
    error: ErrorInfo


class Call(Message, frozen=True, kw_only=True, tag="call"):
    """Run ``method`` with ``args`` (a map decoded by the method's argument struct)."""

    id: int
    method: str
    args: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"\x80"))


class Cancel(Message, frozen=True, kw_only=True, tag="cancel"):
    """Stop the call ``id`` (an export) if it still runs."""

    id: int


class Ack(Message, frozen=True, kw_only=True, tag="ack"):
    """The client has taken Progress of call ``id`` in: the call goes on (a Cancel instead stops it)."""

    id: int


class Reply(Message, frozen=True, kw_only=True, tag="reply"):
    """The result of call ``id``; ``more``: a part of a long list, another part follows."""

    id: int
    value: msgspec.Raw
    more: bool = False


class Progress(Message, frozen=True, kw_only=True, tag="progress"):
    """How far call ``id`` (an export) has come."""

    id: int
    value: msgspec.Raw


class Published(Message, frozen=True, kw_only=True, tag="notice"):
    """A notice for the subscription that call ``id`` opened (a :data:`~hub.api.types.Notice`)."""

    id: int
    value: msgspec.Raw


FromClient = Hello | Call | Cancel | Ack
FromHub = Welcome | Failure | Reply | Progress | Published

_encoder = msgspec.msgpack.Encoder()
client_decoder = msgspec.msgpack.Decoder(FromClient)
hub_decoder = msgspec.msgpack.Decoder(FromHub)


def encode(value: Any) -> bytes:
    """MessagePack bytes of a message or value."""
    return _encoder.encode(value)


def raw(value: Any) -> msgspec.Raw:
    """A value encoded once, to be embedded in a message."""
    return msgspec.Raw(_encoder.encode(value))


# --- frames -------------------------------------------------------------------------------------------


class FrameTooLarge(errors.ProtocolError):
    """A frame's length prefix is over the cap: the stream cannot be trusted further."""


def frame(body: bytes) -> bytes:
    """``body`` with its length prefix."""
    if len(body) > MAX_FRAME:
        raise FrameTooLarge(f"a message of {len(body)} bytes is over the {MAX_FRAME}-byte cap")
    return _HEADER.pack(len(body)) + body


def send(sock: socket.socket, msg: Message) -> None:
    """Send one message as one frame."""
    sock.sendall(frame(encode(msg)))


class FrameReader:
    """Frames from a stream socket, with a cap on their size and on the time a frame may take.

    ``read(timeout)`` returns the next frame's body, or None when no whole frame came within
    ``timeout``; what was read of a frame so far is kept for the next call. EOFError when the peer
    closed; TimeoutError when a frame stayed incomplete for ``read_timeout_s``."""

    def __init__(self, sock: socket.socket, read_timeout_s: float, max_frame: int = MAX_FRAME) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._max = max_frame
        self._read_timeout = read_timeout_s
        self._partial_since: float | None = None

    def read(self, timeout: float) -> bytes | None:
        # Always a finite wait: a socket with a timeout is non-blocking underneath, and the hub sends
        # on a dup of it (a blocking reader would switch both to blocking mode).
        deadline = time.monotonic() + timeout
        while True:
            body = self._take()
            if body is not None:
                return body
            now = time.monotonic()
            wait = deadline - now
            if self._partial_since is not None:
                left = self._partial_since + self._read_timeout - now
                if left <= 0:
                    raise TimeoutError(f"a message stayed incomplete for {self._read_timeout:g} s")
                wait = min(wait, left)
            if wait <= 0:
                return None
            self._sock.settimeout(wait)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue  # the loop decides: a partial frame too old, or the caller's timeout
            if not chunk:
                raise EOFError("the message was cut off" if self._buf else "the peer closed the connection")
            self._buf += chunk
            if self._partial_since is None:
                self._partial_since = time.monotonic()

    def _take(self) -> bytes | None:
        if len(self._buf) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._buf)
        if size > self._max:
            raise FrameTooLarge(f"a message of {size} bytes is over the {self._max}-byte cap")
        end = _HEADER.size + size
        if len(self._buf) < end:
            return None
        body = bytes(self._buf[_HEADER.size : end])
        del self._buf[:end]
        self._partial_since = time.monotonic() if self._buf else None
        return body


def list_parts(items: Sequence[Any], limit: int = MAX_FRAME - _ENVELOPE) -> Iterator[msgspec.Raw]:
    """``items`` encoded as consecutive lists of at most ``limit`` bytes each (one part when it fits)."""
    whole = encode(items)
    if len(whole) <= limit or len(items) <= 1:
        yield msgspec.Raw(whole)
        return
    # Split where the encoded sizes say; halve a part that still does not fit.
    per_item = len(whole) / len(items)
    step = max(1, int(limit / per_item * 0.9))
    start = 0
    while start < len(items):
        size = min(step, len(items) - start)
        while True:
            part = encode(items[start : start + size])
            if len(part) <= limit or size == 1:
                break
            size = max(1, size // 2)
        yield msgspec.Raw(part)
        start += size


# --- methods ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Method:
    """One HubApi method as it crosses: its argument struct and its result type."""

    name: str
    args: type[msgspec.Struct]
    result: Any
    is_list: bool
    struct_args: frozenset[str]  # arguments that are request structs (their fields name errors)
    streams_progress: bool
    subscribes: bool  # answered once, then notices follow on the connection


def _loosen(tp: Any) -> Any:
    """A top-level argument's type with its Literal choices widened to ``str``: the hub checks the
    choice itself and says which ones there are (msgspec would only say "invalid enum value")."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return str
    if origin is None:
        return tp
    args = tuple(_loosen(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, args)
    return origin[args] if len(args) > 1 else origin[args[0]]


def _method(name: str) -> Method:
    fn = getattr(HubApi, name)
    hints = typing.get_type_hints(fn)
    fields: list[tuple[Any, ...]] = []
    structs = set()
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.name in LOCAL_ONLY:
            continue
        tp = _loosen(hints[p.name])
        if any(isinstance(a, type) and issubclass(a, msgspec.Struct) for a in (tp, *typing.get_args(tp))):
            structs.add(p.name)
        fields.append((p.name, tp) if p.default is p.empty else (p.name, tp, p.default))
    args = msgspec.defstruct(
        f"{name}_args", fields, kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True
    )
    result = hints["return"]
    return Method(
        name=name,
        args=args,
        result=result,
        is_list=typing.get_origin(result) is list,
        struct_args=frozenset(structs),
        streams_progress="progress" in hints,
        subscribes=result is Subscription,
    )


#: Every method a client may call, by name: the HubApi Protocol's public methods but ``close``
#: (which ends only the client's own connection).
METHODS: dict[str, Method] = {
    name: _method(name)
    for name, fn in vars(HubApi).items()
    if inspect.isfunction(fn) and not name.startswith("_") and name != "close"
}


# --- errors ---------------------------------------------------------------------------------------

_KINDS: dict[type[errors.HubError], str] = {
    errors.AuthError: "auth",
    errors.DeviceError: "device",
    errors.CancelledError: "cancelled",
    errors.ConflictError: "conflict",
    errors.NotFoundError: "not_found",
    errors.StorageError: "storage",
    errors.HubStoppedError: "stopped",
    errors.UnavailableError: "unavailable",
    errors.ValidationError: "validation",
    errors.HubVersionError: "version",
    errors.ProtocolError: "protocol",
    errors.HubError: "hub",
}
_CLASSES = {kind: cls for cls, kind in _KINDS.items()}


def error_info(exc: errors.HubError) -> ErrorInfo:
    """A hub error as it crosses (its most specific kind the wire knows)."""
    kind = next(_KINDS[c] for c in type(exc).__mro__ if c in _KINDS)
    field, rule = (exc.field, exc.rule) if isinstance(exc, errors.ValidationError) else (None, None)
    return ErrorInfo(kind=kind, message=str(exc), field=field, rule=rule, state=getattr(exc, "state", None))


def rebuild(info: ErrorInfo) -> errors.HubError:
    """The error a Failure carries, as an exception of the hub's family (HubError for a kind this
    client does not know)."""
    cls = _CLASSES.get(info.kind, errors.HubError)
    if cls is errors.ValidationError:
        rules = typing.get_args(errors.Rule)
        rule = info.rule if info.rule in rules else "format"
        return errors.ValidationError(info.message, field=info.field or "", rule=rule)  # type: ignore[arg-type]
    if cls is errors.StorageError and info.state:
        return errors.StorageUnavailable(info.message, info.state)
    return cls(info.message)


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD_NAME = re.compile(r"`([^`]+)`")


def decode_error(exc: msgspec.DecodeError, method: Method) -> errors.ValidationError:
    """A call's arguments that do not decode, as the ValidationError a hub in this process would raise:
    the field named as the request value spells it (``motion.sensitivity``), the rule it broke."""
    m = _AT.match(str(exc))
    what, path = (m.group("what"), m.group("path") or "") if m else (str(exc), "")
    path = path.lstrip(".")
    if what.startswith(("Object missing required field", "Object contains unknown field")):
        name = _FIELD_NAME.search(what)
        path = f"{path}.{name.group(1)}" if name and path else (name.group(1) if name else path)
    top, _, rest = path.partition(".")
    top = re.sub(r"\[\d+\]$", "", top)
    field = rest if top in method.struct_args and rest else top
    if "missing required field" in what:
        rule: errors.Rule = "required"
    elif "unknown field" in what:
        rule = "unknown"
    elif "Invalid enum value" in what:
        rule = "one_of"
    elif ">=" in what or "> " in what:
        rule = "min"
    elif "<=" in what or "< " in what:
        rule = "max"
    elif what.startswith("Expected"):
        rule = "type"
    else:
        rule = "format"
    return errors.ValidationError(f"{field or method.name}: {what}", field=field, rule=rule)
