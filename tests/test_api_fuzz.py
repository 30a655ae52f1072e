"""The Hub API's wire under hypothesis: whatever bytes arrive, the worst is an error reply and a
closed connection, and the cameras keep recording.

- the frame reader and the decoders, in this process, on thousands of byte streams: frames come out
  whole and in order however the stream is cut; anything else is one of the wire's own errors;
- a real ``porchlight serve`` recording the demo camera, sent fuzzed conversations: garbage, cut-off
  and oversized frames, hellos of any version, calls of any name with any arguments (of the calls
  that can neither change the owner's setup nor reach the network), acks and cancels out of turn.
  Every answer is a message of the wire, every connection ends, and meanwhile segments keep being
  written, nothing is added and the hub's log has no traceback.
"""

from __future__ import annotations

import socket
import struct
import time
import typing
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from hub.api import endpoint, wire
from hub.api.errors import ProtocolError, ValidationError
from tests.support.apitools import ServedHub
from tests.support.hubtools import camera, configure, wait_for

# -- values MessagePack can carry, and messages built from them ------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
TAGS = ["hello", "call", "cancel", "ack", "reply", "welcome", "failure", "progress", "notice", "nope"]
# Calls that cannot change the owner's cameras, settings or kept footage, stop the hub, write files or reach
# another address (discovery multicasts; probing a device opens its URL): the rest of the API is fuzzed.
SAFE = [
    "cameras",
    "camera",
    "recordings",
    "events",
    "settings",
    "storage",
    "status",
    "subscribe",
    "watch",
    "unwatch",
    "probe",
    "protections",
    "snapshot",
    "end_event",  # no manual event is going on: each gets a NotFoundError
]
FIELDS = [
    "ref",
    "camera",
    "start_ms",
    "end_ms",
    "kinds",
    "reasons",
    "role",
    "lease",
    "event",
    "queue_size",
    "change",
    "x",
]
args = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=4)
tagged = st.fixed_dictionaries(
    {"type": st.sampled_from(TAGS)},
    optional={
        "protocol": st.integers(min_value=-2, max_value=5) | values,
        "id": st.integers(min_value=-1, max_value=2**32) | values,
        "method": st.sampled_from(SAFE) | st.text(max_size=12),
        "args": args | values,
        "value": values,
    },
)


def _hello(protocol: int = wire.PROTOCOL) -> bytes:
    return wire.frame(wire.encode(wire.Hello(protocol=protocol)))


def _call(method: str, call_args: dict, call_id: int) -> bytes:
    body = wire.encode({"type": "call", "id": call_id, "method": method, "args": call_args})
    return wire.frame(body)


calls = st.builds(_call, st.sampled_from(SAFE) | st.text(max_size=12), args, st.integers(0, 9))
frames = st.one_of(
    st.binary(max_size=64).map(lambda b: struct.pack(">I", len(b)) + b),  # garbage in a frame
    st.binary(min_size=1, max_size=12),  # garbage, not even framed
    tagged.map(lambda m: wire.frame(wire.encode(m))),  # a message-shaped map
    values.map(lambda v: wire.frame(wire.encode(v))),  # any value
    calls,
    st.builds(_hello, st.integers(min_value=-1, max_value=3)),
    st.just(struct.pack(">I", wire.MAX_FRAME + 1)),  # over the cap
    st.integers(min_value=5, max_value=200).map(lambda n: struct.pack(">I", n) + b"\x81"),  # cut off
)
# Well-framed calls (answered, the connection going on), then anything: most hostile frames end it.
conversations = st.tuples(
    st.booleans(),
    st.builds(lambda a, b: a + b, st.lists(calls, max_size=4), st.lists(frames, min_size=1, max_size=3)),
)


# -- in this process ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(bodies=st.lists(st.binary(max_size=300), max_size=8), cuts=st.lists(st.integers(1, 97), max_size=20))
def test_frames_come_out_whole_however_the_stream_is_cut(bodies, cuts):
    stream = b"".join(wire.frame(b) for b in bodies)
    a, b = socket.socketpair()
    try:
        reader = wire.FrameReader(b, read_timeout_s=5)
        pos, got = 0, []
        for cut in [*cuts, len(stream)]:
            a.sendall(stream[pos : pos + cut])
            pos += cut
            while (body := reader.read(0.001)) is not None:
                got.append(body)
            if pos >= len(stream):
                break
        assert got == bodies
    finally:
        a.close()
        b.close()


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
@example(struct.pack(">I", 0xFFFFFFFF))
@example(struct.pack(">I", 3) + b"\xc1\xc1\xc1")
def test_any_bytes_are_a_frame_a_wire_error_or_a_wait(junk):
    a, b = socket.socketpair()
    try:
        a.sendall(junk)
        a.close()
        reader = wire.FrameReader(b, read_timeout_s=5)
        try:
            while (body := reader.read(0.01)) is not None:
                try:
                    wire.client_decoder.decode(body)
                except msgspec.DecodeError:
                    pass
        except (ProtocolError, EOFError):
            pass
    finally:
        b.close()


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(wire.METHODS)), args)
def test_any_arguments_decode_or_name_what_is_wrong(name, call_args):
    method = wire.METHODS[name]
    try:
        decoded = msgspec.msgpack.decode(wire.encode(call_args), type=method.args)
    except msgspec.DecodeError as exc:
        err = wire.decode_error(exc, method)
        assert isinstance(err, ValidationError) and err.rule
        # It names an argument of the method, a field inside a request (as the request spells it:
        # "motion.sensitivity"), or a key that was sent; when the keys sent are names (a key like
        # "a.b[" cannot be told from a path).
        sent = _keys(call_args)
        if all(k.isidentifier() for k in sent):
            top = err.field.split(".")[0].split("[")[0]
            known = set(method.args.__struct_fields__) | _request_fields(method)
            assert top in known or top in sent, (err.field, str(err))
        return
    assert set(msgspec.structs.asdict(decoded)) == set(method.args.__struct_fields__)


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _request_fields(method: wire.Method) -> set[str]:
    hints = typing.get_type_hints(method.args)
    out: set[str] = set()
    for name in method.struct_args:
        for tp in (hints[name], *typing.get_args(hints[name])):
            if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
                out |= set(tp.__struct_fields__)
    return out


# -- against a real hub ---------------------------------------------------------------------------------------


def _converse(path: Path, hello_first: bool, sent: list[bytes]) -> list[bytes]:
    """Send a conversation, close our side, and read every frame the hub answers until it closes."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    try:
        sock.connect(str(path))
        try:
            sock.sendall((_hello() if hello_first else b"") + b"".join(sent))
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the hub closed already: what it said is still to be read
        reader = wire.FrameReader(sock, read_timeout_s=20)
        got = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                body = reader.read(1.0)
            except (EOFError, ConnectionResetError):
                return got
            if body is not None:
                got.append(body)
        raise AssertionError("the hub kept the connection open after the client was done")
    finally:
        sock.close()


def test_fuzzed_conversations_get_wire_answers_and_the_camera_keeps_recording(tmp_path):
    data = tmp_path / "data"
    configure(data, [camera("Demo", None, driver="demo", mode="continuous")], segment_seconds=2.0)
    api = ServedHub.start(data)
    try:
        wait_for(lambda: api.status().cameras[0].state == "recording", 30, "the demo recording")
        path = endpoint.connect_path(data)
        assert path is not None
        before = len(api.recordings())
        started = time.monotonic()

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(conversations)
        def fuzz(conversation: tuple[bool, list[bytes]]) -> None:
            hello_first, sent = conversation
            for body in _converse(path, hello_first, sent):
                msg = wire.hub_decoder.decode(body)  # never anything but a message of the wire
                assert isinstance(msg, (wire.Welcome, wire.Failure, wire.Reply, wire.Published)), msg
                event(
                    type(msg).__name__ if not isinstance(msg, wire.Failure) else f"Failure {msg.error.kind}"
                )

        fuzz()
        # The camera recorded all along: new segments for the time the fuzzing took.
        took = time.monotonic() - started
        wait_for(lambda: len(api.recordings()) >= before + max(2, int(took / 2) - 2), 20, "new segments")
        status = api.status()
        assert status.cameras[0].state == "recording" and [c.name for c in api.cameras()] == ["Demo"]
        assert status.cameras[0].watched == ()  # leases the fuzzed connections took ended with them
    finally:
        api.close()
    assert "Traceback" not in api.serve.output()
