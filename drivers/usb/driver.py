"""The USB camera driver (kind ``"usb"``): discover, probe and open local capture devices.

A camera's ``StreamRequest.url`` is the device: a V4L2 node on Linux (best the stable
``/dev/v4l/by-id/...`` link that ``discover`` reports), ``video=<name>`` on Windows, the device
name on macOS. ``StreamRequest.options`` carry ``size`` ("1280x720"), ``fps`` and optionally
``format`` (the FFmpeg input), ``input_format``, ``preset``, ``crf``, ``gop_s`` and ``threads``.
"""

from __future__ import annotations

import logging
import sys

from drivers.base import (
    BaseDriver,
    DiscoveredDevice,
    ProbeResult,
    StreamInfo,
    StreamRequest,
    UnsupportedError,
)
from drivers.usb import platforms, v4l2
from drivers.usb.settings import CaptureSettings, prepare
from drivers.usb.source import UsbSource

logger = logging.getLogger(__name__)


class UsbDriver(BaseDriver):
    """Local capture devices, encoded to H.264 by Porchlight."""

    kind = "usb"
    title = "USB camera"
    described_by_device = True  # the size and rate asked must be ones the camera can do

    def discover(self, timeout_s: float, address: str | None = None) -> list[DiscoveredDevice]:
        """Capture devices attached now (V4L2 on Linux, FFmpeg's listing on Windows/macOS); none at a
        network address."""
        if address:
            return []
        if sys.platform.startswith("linux"):
            return v4l2.list_devices()
        else:  # a platform check: mypy skips this branch on Linux instead of calling it unreachable
            return platforms.list_devices()

    def probe(self, request: StreamRequest) -> ProbeResult:
        """What recording this camera with these options gives (the stream Porchlight encodes).

        A V4L2 device is only queried (not opened for capture), so probing never takes the camera
        away from a recording; other inputs are opened briefly.
        """
        settings, device = prepare(CaptureSettings.from_request(request))
        if device is not None:
            return ProbeResult(
                streams=(
                    StreamInfo(request.url, "h264", settings.width or 0, settings.height or 0, settings.fps),
                ),
                model=device.card,
                settings=dict(request.options),
            )
        src = UsbSource(request)
        try:
            cc = src.video.codec_context
            fps = settings.fps or src.input_rate
            info = StreamInfo(request.url, "h264", cc.width, cc.height, fps)
        finally:
            src.close()
        if not info.width:
            raise UnsupportedError(f"the USB camera {settings.device} sends no picture")
        return ProbeResult(streams=(info,), settings=dict(request.options))

    def open_stream(self, request: StreamRequest) -> UsbSource:
        """Open the camera and start encoding (raises UnreachableError/UnsupportedError)."""
        return UsbSource(request)
