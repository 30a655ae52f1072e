"""The client side of ``bench/api_bench.py``: one process per client, as the app and the CLI are.

    api_client.py rtt porchlight DATA_DIR CALLS WARMUP     status() calls back to back
    api_client.py rtt bare SOCKET CALLS WARMUP SIZE        the floor: a frame out, a frame back
    api_client.py listen porchlight DATA_DIR QUEUE         a subscriber of every notice kind
    api_client.py listen bare SOCKET                       the floor: frames read and parsed

``rtt`` prints one JSON line: each call's time in ns. ``listen`` prints ``ready``, then one JSON
line per phase (the publisher ends a phase with a negative sequence number): the sequence numbers
that arrived, when (CLOCK_MONOTONIC ns, the clock the publisher reads), and how many the hub
reported dropped.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.api import types as api  # noqa: E402
from hub.api.client import SocketHub  # noqa: E402

HEADER = struct.Struct(">I")
SEQ = struct.Struct(">q")
#: The synthetic publisher's events say so in their ``source``.
SOURCE = "bench"
#: The sequence number that ends the run (any other negative number ends a phase).
END = -(1 << 40)


def emit(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


# -- request and reply -----------------------------------------------------------------------------------
def rtt_porchlight(data_dir: str, calls: int, warmup: int) -> None:
    with SocketHub.open(Path(data_dir)) as hub:
        for _ in range(warmup):
            hub.status()
        times = []
        for _ in range(calls):
            t = time.perf_counter_ns()
            hub.status()
            times.append(time.perf_counter_ns() - t)
    emit({"ns": times})


def rtt_bare(path: str, calls: int, warmup: int, size: int) -> None:
    request = HEADER.pack(size) + bytes(size)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        times = []
        for i in range(warmup + calls):
            t = time.perf_counter_ns()
            sock.sendall(request)
            _read_frame(sock)
            if i >= warmup:
                times.append(time.perf_counter_ns() - t)
    emit({"ns": times})


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _read_frame(sock: socket.socket) -> bytes:
    (n,) = HEADER.unpack(_read_exact(sock, HEADER.size))
    return _read_exact(sock, n)


# -- notices ---------------------------------------------------------------------------------------------
class Phase:
    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.at_ns: list[int] = []
        self.other = 0  # the hub's own notices (segments, states) seen meanwhile

    def end(self, phase: int, dropped: int) -> None:
        emit(
            {"phase": phase, "seqs": self.seqs, "at_ns": self.at_ns, "other": self.other, "dropped": dropped}
        )


def listen_porchlight(data_dir: str, queue_size: int) -> None:
    with SocketHub.open(Path(data_dir)) as hub:
        sub = hub.subscribe(None, queue_size=queue_size)
        emit("ready")
        phase = Phase()
        while True:
            notice = sub.get(60)
            now = time.monotonic_ns()
            if notice is None:
                raise SystemExit("no notice for 60 s")
            if not isinstance(notice, api.EventStarted) or notice.event.source != SOURCE:
                phase.other += 1
                continue
            seq = notice.event.id
            if seq >= 0:
                phase.seqs.append(seq)
                phase.at_ns.append(now)
                continue
            phase.end(-seq, sub.dropped)
            phase = Phase()
            if seq == END:
                sub.close()
                return


def listen_bare(path: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        emit("ready")
        phase = Phase()
        while True:
            body = _read_frame(sock)
            now = time.monotonic_ns()
            (seq,) = SEQ.unpack_from(body)
            if seq >= 0:
                phase.seqs.append(seq)
                phase.at_ns.append(now)
                continue
            phase.end(-seq, 0)
            phase = Phase()
            if seq == END:
                return


def main(argv: list[str]) -> None:
    match argv:
        case ["rtt", "porchlight", data_dir, calls, warmup]:
            rtt_porchlight(data_dir, int(calls), int(warmup))
        case ["rtt", "bare", path, calls, warmup, size]:
            rtt_bare(path, int(calls), int(warmup), int(size))
        case ["listen", "porchlight", data_dir, queue_size]:
            listen_porchlight(data_dir, int(queue_size))
        case ["listen", "bare", path]:
            listen_bare(path)
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
