"""The namespace itself and the ipycam peer: sanity checks the ONVIF suite stands on."""

from __future__ import annotations

import socket

import av

from tests.support.netns import in_netns


def test_only_loopback_exists_here():
    assert in_netns()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: must be unroutable inside the namespace
            routed = True
        except OSError:
            routed = False
    assert not routed, "a non-loopback address is routable: the namespace leaks"


def test_ipycam_streams(ipycam):
    with av.open(
        f"rtsp://127.0.0.1:{ipycam.rtsp_port}/video_main", options={"rtsp_transport": "tcp"}, timeout=(20, 10)
    ) as c:
        v = c.streams.video[0]
        n = sum(1 for _p, _ in zip(c.demux(v), range(20), strict=False))
    assert n == 20 and v.codec_context.width == 640
