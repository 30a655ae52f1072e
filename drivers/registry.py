"""Every driver this build has, by kind: the one place that names them.

The list is static, so what a build supports is read here and nowhere else; each driver's module is
imported only when a camera of its kind is used (the ONVIF stack costs about half a second to
import). One instance per kind serves every camera: drivers keep no per-camera state.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib
import threading

from drivers.base import DiscoveredDevice, Driver, DriverError, UnsupportedError


@dataclasses.dataclass(frozen=True)
class DriverEntry:
    """Where a driver lives."""

    kind: str  # the camera's ``driver`` setting
    module: str
    cls: str


DRIVERS: tuple[DriverEntry, ...] = (
    DriverEntry("rtsp", "drivers.rtsp", "RtspDriver"),
    DriverEntry("onvif", "drivers.onvif.driver", "OnvifDriver"),
    DriverEntry("usb", "drivers.usb.driver", "UsbDriver"),
    DriverEntry("demo", "drivers.demo", "DemoDriver"),
)
KINDS: tuple[str, ...] = tuple(e.kind for e in DRIVERS)

_lock = threading.Lock()
_loaded: dict[str, Driver] = {}
_holders = 0  # hubs and index clients of this process that use drivers now


def get_driver(kind: str) -> Driver:
    """The driver for cameras of ``kind``; UnsupportedError when this build has none or cannot
    load it."""
    with _lock:
        driver = _loaded.get(kind)
        if driver is None:
            entry = next((e for e in DRIVERS if e.kind == kind), None)
            if entry is None:
                raise UnsupportedError(
                    f"this version of Porchlight has no {kind!r} camera driver (it knows {', '.join(KINDS)})"
                )
            try:
                module = importlib.import_module(entry.module)
            except ImportError as exc:  # a build without the driver's library
                raise UnsupportedError(f"the {kind!r} camera driver cannot be loaded: {exc}") from exc
            driver = _loaded[kind] = getattr(module, entry.cls)()
        return driver


def hold() -> None:
    """Say that a user of the drivers (a hub, an index client) starts; pair with :func:`release`."""
    global _holders
    with _lock:
        _holders += 1


def release() -> None:
    """A user of the drivers is done; when it was the last, the drivers' shared threads stop."""
    global _holders
    with _lock:
        _holders = max(0, _holders - 1)
        last = _holders == 0
    if last:
        close_all()


def close_all() -> None:
    """Release what the drivers used so far share across cameras (see Driver.close)."""
    with _lock:
        drivers = list(_loaded.values())
    for driver in drivers:
        driver.close()


def discover(timeout_s: float, address: str | None = None) -> tuple[list[DiscoveredDevice], list[str]]:
    """Ask every driver, in parallel, for its devices (see Driver.discover): only ever when the owner
    asks. Returns the devices in driver order and one line per driver that failed (the others'
    devices are still returned)."""

    def ask(kind: str) -> list[DiscoveredDevice] | str:
        try:
            driver = get_driver(kind)
            return driver.discover(timeout_s, address)
        except DriverError as exc:
            return f"{kind} devices could not be listed: {exc}"

    with concurrent.futures.ThreadPoolExecutor(len(KINDS), thread_name_prefix="porchlight-discover") as pool:
        answers = list(pool.map(ask, KINDS))
    found = [d for a in answers if not isinstance(a, str) for d in a]
    return found, [a for a in answers if isinstance(a, str)]
