"""Devices before they are cameras: find them, and describe one, through the drivers.

The hub's side of the drivers' ``discover`` and ``probe``, for the Hub API's discovery and probes and
for cameras added from a device (hub.config.cameras). Nothing here runs unless the owner asks: the hub never
discovers in the background. A driver's error leaves as the hub's own: :class:`AuthError` when the
device refused the credentials, :class:`DeviceError` for every other way it failed, with the driver's
message (one line, no secret in it) unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers import registry
from drivers.base import AuthError as DriverAuthError
from drivers.base import (
    Credentials,
    DiscoveredDevice,
    DriverError,
    ProbeResult,
    Role,
    StreamInfo,
    StreamRequest,
)
from hub.core.errors import AuthError, DeviceError
from hub.core.model import CameraConfig
from hub.pipeline.options import driver_options

__all__ = [
    "Credentials",
    "DiscoveredDevice",
    "ProbeResult",
    "StreamInfo",
    "describe",
    "describe_camera",
    "describe_roles",
    "device_error",
    "discover",
    "kind_of",
]


def device_error(exc: DriverError) -> DeviceError:
    """The hub error for a driver's: AuthError when the device refused the credentials."""
    return (AuthError if isinstance(exc, DriverAuthError) else DeviceError)(str(exc))


def kind_of(kind: str) -> tuple[str, bool]:
    """(title, described_by_device) of driver ``kind`` (see drivers.base.Driver); raises DeviceError
    when this build has no such driver."""
    try:
        driver = registry.get_driver(kind)
    except DriverError as exc:
        raise device_error(exc) from None
    return driver.title, driver.described_by_device


def describe(
    kind: str,
    options: Mapping[str, str],
    credentials: Credentials | None = None,
    *,
    url: str | None = None,
) -> ProbeResult:
    """What the device of driver ``kind`` with these driver settings (and stream ``url``, for drivers
    that open one) offers now; raises AuthError/DeviceError."""
    try:
        driver = registry.get_driver(kind)
        return driver.probe(StreamRequest(url=url, credentials=credentials, options=options))
    except DriverError as exc:
        raise device_error(exc) from None


def describe_camera(cfg: CameraConfig, credentials: Credentials | None, role: Role = "record") -> ProbeResult:
    """What a configured camera's device offers now: its driver settings, and the URL of ``role``
    (the main stream, or the sub stream for ``"detect"``); raises AuthError/DeviceError."""
    url = cfg.sub_url if role == "detect" else cfg.url
    return describe(cfg.driver, driver_options(cfg), credentials, url=url)


def describe_roles(
    cfg: CameraConfig, credentials: Credentials | None
) -> tuple[ProbeResult, ProbeResult | None]:
    """What a camera's device offers now, for the owner to read: the description of its main stream
    (with the device's profiles, when its driver names them), and of its sub stream when it has one
    and the device names no profiles (else None); raises AuthError/DeviceError."""
    record = describe_camera(cfg, credentials)
    if record.profiles or cfg.sub_url is None:
        return record, None
    return record, describe_camera(cfg, credentials, "detect")


def discover(timeout_s: float, address: str | None = None) -> tuple[list[DiscoveredDevice], list[str]]:
    """Devices every driver finds (on the network and this machine, or at ``address`` only), and a
    line for each driver that could not look."""
    return registry.discover(timeout_s, address)
