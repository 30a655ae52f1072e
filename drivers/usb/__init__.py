"""USB cameras: enumerate capture devices per OS, capture with PyAV, encode H.264 here.

- :mod:`drivers.usb.model`: what a Linux camera offers (:class:`UsbDevice`, :class:`UsbFormat`).
- :mod:`drivers.usb.v4l2`: Linux capture nodes and their formats (V4L2 query ioctls).
- :mod:`drivers.usb.modes`: choosing the format, size and rate to capture.
- :mod:`drivers.usb.platforms`: Windows/macOS camera names from FFmpeg's device listing.
- :mod:`drivers.usb.settings`: :class:`CaptureSettings` and the checks before opening a camera.
- :mod:`drivers.usb.source`: :class:`UsbSource`, the capture + H.264 encode packet source.
- :mod:`drivers.usb.driver`: :class:`UsbDriver` (kind ``"usb"``).
"""

from __future__ import annotations

from drivers.usb.driver import UsbDriver
from drivers.usb.model import UsbDevice, UsbFormat
from drivers.usb.settings import CaptureSettings
from drivers.usb.source import UsbSource
from drivers.usb.v4l2 import enumerate_devices, list_devices

__all__ = [
    "CaptureSettings",
    "UsbDevice",
    "UsbDriver",
    "UsbFormat",
    "UsbSource",
    "enumerate_devices",
    "list_devices",
]
