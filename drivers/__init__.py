"""Camera drivers (no Qt, no hub imports): each implements drivers.base.Driver."""

from __future__ import annotations

from drivers.base import Driver


def get_driver(kind: str) -> Driver:
    """The driver for a camera kind ("rtsp", "demo", "onvif", "usb")."""
    if kind == "rtsp":
        from drivers.rtsp import RtspDriver

        return RtspDriver()
    if kind == "usb":
        from drivers.usb import UsbDriver

        return UsbDriver()
    if kind == "demo":
        from drivers.demo import DemoDriver

        return DemoDriver()
    if kind == "onvif":
        from drivers.onvif.driver import OnvifDriver

        return OnvifDriver()
    raise ValueError(f"unknown camera driver: {kind!r}")
