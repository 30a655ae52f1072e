"""Camera drivers (no Qt, no hub imports): each implements drivers.base.Driver."""

from __future__ import annotations

from drivers.base import Driver


def get_driver(kind: str) -> Driver:
    """The driver for a camera kind ("rtsp", "demo")."""
    if kind == "rtsp":
        from drivers.rtsp import RtspDriver

        return RtspDriver()
    if kind == "demo":
        from drivers.demo import DemoDriver

        return DemoDriver()
    raise ValueError(f"unknown camera driver: {kind!r}")
