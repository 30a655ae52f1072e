#!/usr/bin/python3
"""Loopback RTSP test peer: re-serves RTP that ffmpeg pushers send to 127.0.0.1 (gst-rtsp-server).

Run it with Debian's ``/usr/bin/python3`` (python3-gi + gir1.2-gst-rtsp-server-1.0)::

    rtsp_server.py [--port N] [--user U --password P] MOUNT=video:UDPPORT[,audio:UDPPORT] ...

Each mount ``/MOUNT`` re-serves RTP/H.264 received on ``127.0.0.1:UDPPORT`` (payload ``pay0``) and,
optionally, RTP PCMU (G.711 µ-law, 8 kHz) received on the audio port (payload ``pay1``). A UDP port
of 0 picks a free one. The server holds every UDP port (and port+1, where ffmpeg sends its RTCP) for
its whole life, so no other peer can take them. On stdout it prints ``UDP <mount> <kind> <port>`` for
each port, then exactly ``READY <rtsp-port>`` once it listens. Clients may only use RTP over TCP
(interleaved): the server never opens a UDP socket for clients, so nothing binds beyond 127.0.0.1.
Like a real camera, a mount's stream keeps running once the first client has started it (see
``_hold``); clients join at the next keyframe.
SIGTERM/SIGINT stop it; with ``--watch-stdin`` it also stops when its stdin reaches end of file (the
parent died).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
ROLE = "user"
_CAPS = {
    "video": "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96",
    "audio": "application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0",
}
# No config-interval on h264parse/rtph264pay: the pushed stream carries SPS/PPS before every IDR, and
# re-inserting them puts a copy before *each* IDR slice, which makes FFmpeg cut multi-slice keyframes
# into several packets (half-decoded frames).
_CHAINS = {
    "video": "rtph264depay ! h264parse ! rtph264pay name=pay{n} pt=96",
    "audio": "rtppcmudepay ! rtppcmupay name=pay{n} pt=0",
}


@dataclasses.dataclass
class UdpInput:
    """One RTP input of a mount: the held RTP socket, and the held RTCP sink on port + 1."""

    kind: str
    rtp: socket.socket
    rtcp: socket.socket | None
    gsocket: Gio.Socket

    @property
    def port(self) -> int:
        """The bound UDP port."""
        return int(self.rtp.getsockname()[1])

    def drain(self) -> int:
        """Drop datagrams queued while no client watched (stale media); return how many."""
        dropped = 0
        while True:
            try:
                self.rtp.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return dropped
            dropped += 1


def _bind_udp(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((HOST, port))
    except (OSError, OverflowError):  # busy, or port + 1 > 65535
        sock.close()
        return None
    return sock


def open_input(kind: str, port: int) -> UdpInput:
    """Bind the RTP port (0: any free one whose port + 1 is free too) and its RTCP neighbour."""
    for _attempt in range(64):
        rtp = _bind_udp(port)
        if rtp is None:
            raise OSError(f"UDP port {HOST}:{port} is busy")
        rtcp = _bind_udp(rtp.getsockname()[1] + 1)
        if rtcp is not None or port != 0:
            if rtcp is None:
                logger.warning("UDP port %d (RTCP of %d) is busy; ffmpeg's RTCP goes nowhere", port + 1, port)
            rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            gsocket = Gio.Socket.new_from_fd(os.dup(rtp.fileno()))
            return UdpInput(kind=kind, rtp=rtp, rtcp=rtcp, gsocket=gsocket)
        rtp.close()
    raise OSError("no free pair of UDP ports on 127.0.0.1")


def parse_mount(arg: str) -> tuple[str, list[tuple[str, int]]]:
    """``cam=video:5004,audio:5006`` -> ``("cam", [("video", 5004), ("audio", 5006)])``."""
    name, sep, spec = arg.partition("=")
    if not sep or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"expected MOUNT=video:PORT[,audio:PORT], got {arg!r}")
    inputs: list[tuple[str, int]] = []
    for part in spec.split(","):
        kind, _, port = part.partition(":")
        if kind not in _CAPS or not port.isdigit() or kind in dict(inputs):
            raise argparse.ArgumentTypeError(f"bad input {part!r} in {arg!r}")
        inputs.append((kind, int(port)))
    if not inputs or inputs[0][0] != "video":
        raise argparse.ArgumentTypeError(f"{arg!r}: the first input must be video")
    return name, inputs


def launch_line(inputs: list[UdpInput]) -> str:
    """The factory's pipeline: one depay/pay chain per input, payloads pay0, pay1..."""
    chains = []
    for n, inp in enumerate(inputs):
        chains.append(
            f'udpsrc name=src{n} address={HOST} port={inp.port} close-socket=false caps="{_CAPS[inp.kind]}" '
            f"! rtpjitterbuffer latency=200 ! {_CHAINS[inp.kind].format(n=n)}"
        )
    return "( " + " ".join(chains) + " )"


def make_factory(
    inputs: list[UdpInput], permissions: GstRtspServer.RTSPPermissions | None
) -> GstRtspServer.RTSPMediaFactory:
    """A shared, TCP-only factory whose udpsrc elements read the sockets we hold."""
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(inputs))
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    if permissions is not None:
        factory.set_permissions(permissions)

    def on_configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        bin_ = media.get_element()
        for n, inp in enumerate(inputs):
            dropped = inp.drain()
            bin_.get_by_name(f"src{n}").set_property("socket", inp.gsocket)
            logger.info(
                "media configured: %s input on udp %d (%d stale datagrams dropped)",
                inp.kind,
                inp.port,
                dropped,
            )
        media.connect("prepared", lambda m: GLib.idle_add(_hold, m))

    factory.connect("media-configure", on_configure)
    return factory


def _hold(media: GstRtspServer.RTSPMedia) -> bool:
    """Prepare the media once more ourselves, so that it keeps running when the last client leaves.

    Like a real camera, the stream then never stops: a client that reconnects right after a
    TEARDOWN does not race the media's shutdown (gst-rtsp-server answers that with 503), and gets
    the stream at the next keyframe.
    """
    if media.prepare(None):
        logger.info("media prepared; held open for later clients")
    else:
        logger.warning("could not hold the media")
    return False


def make_auth(user: str, password: str) -> tuple[GstRtspServer.RTSPAuth, GstRtspServer.RTSPPermissions]:
    """Basic auth: only ``user:password`` may see and build the media; others get 401."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", ROLE)
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role(ROLE, "media.factory.access", True)
    permissions.add_permission_for_role(ROLE, "media.factory.construct", True)
    return auth, permissions


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="RTSP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--user", help="require HTTP Basic credentials")
    parser.add_argument("--password")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches end of file")
    parser.add_argument("mounts", nargs="+", type=parse_mount, metavar="MOUNT=video:PORT[,audio:PORT]")
    args = parser.parse_args(argv)
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    return args


def main(argv: list[str]) -> int:
    """Start the server, print READY, serve until a signal (or stdin EOF with --watch-stdin)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s rtsp_server %(levelname)s %(message)s")
    args = parse_args(argv)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    # With the default pool (max 0 threads) every client is served from the main loop: one DESCRIBE
    # waiting for a shared media's first keyframe blocks all other clients.
    server.get_thread_pool().set_max_threads(32)
    permissions = None
    if args.user is not None:
        auth, permissions = make_auth(args.user, args.password)
        server.set_auth(auth)
    held: list[UdpInput] = []
    for name, specs in args.mounts:
        inputs = [open_input(kind, port) for kind, port in specs]
        held.extend(inputs)
        server.get_mount_points().add_factory("/" + name, make_factory(inputs, permissions))
        for inp in inputs:
            print(f"UDP {name} {inp.kind} {inp.port}", flush=True)
    if server.attach(None) == 0:
        logger.error("cannot listen on %s:%s", HOST, args.port)
        return 1
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    if args.watch_stdin:
        GLib.io_add_watch(
            GLib.IOChannel.unix_new(sys.stdin.fileno()),
            GLib.PRIORITY_DEFAULT,
            GLib.IOCondition.IN | GLib.IOCondition.HUP,
            lambda *_a: _on_stdin(loop),
        )
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    logger.info("stopping")
    return 0


def _on_stdin(loop: GLib.MainLoop) -> bool:
    if not os.read(sys.stdin.fileno(), 4096):
        logger.info("stdin closed: the parent is gone")
        loop.quit()
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
