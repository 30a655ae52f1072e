"""Test peers: out-of-process servers (the RTSP relay, run by Debian's python3) and in-process
ones run as threads (the WS-Discovery responder, the ONVIF events peer)."""
