"""Cameras that describe themselves: a camera config from an ONVIF device or a USB camera, a summary of
what was found, and ``cameras probe``'s description of what a camera offers now.

A helper of ``cli.cameras``, not a command group of its own.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from cli.common import ONVIF_PORT, CliError, split_host
from drivers.base import Credentials, DriverError, StreamRequest
from hub.core.model import CameraConfig

MAX_TOPICS = 64


def onvif_camera(
    args: argparse.Namespace, username: str | None, password: str | None, settings: dict[str, Any]
) -> CameraConfig:
    """Ask the ONVIF device at ``--onvif`` for its streams, roles and events; a wrong password adds nothing."""
    from drivers.onvif.device import probe_device

    creds = Credentials(username, password or "") if username else None
    host, port = split_host(args.onvif, ONVIF_PORT)
    try:
        dev = probe_device(host, port, creds)
    except DriverError as exc:
        raise CliError(str(exc)) from None
    profiles = {p.token: p for p in dev.profiles}
    record = profiles.get(dev.record_profile or "")
    detect = profiles.get(dev.detect_profile or "")
    if record is None:
        raise CliError(f"{host} offers no stream Porchlight can record")
    events = args.events or ("both" if dev.events_supported else "local")
    if events != "local" and not dev.events_supported:
        raise CliError(f"{host} has no ONVIF events service: use --events local")
    device = {
        "host": f"{host}:{port}",
        "xaddr": dev.xaddr,
        "manufacturer": dev.manufacturer,
        "model": dev.model,
        "serial": dev.serial,
        "firmware": dev.firmware,
        "record_profile": record.token,
        "detect_profile": detect.token if detect else None,
        "clock_offset_s": dev.clock_offset_s,
        "snapshot_uri": record.snapshot_uri,
        "events_supported": dev.events_supported,
        "event_topics": list(dev.event_topics[:MAX_TOPICS]),
        "warnings": list(dev.warnings),
    }
    doorbell = dev.doorbell if args.doorbell is None else bool(args.doorbell)
    return CameraConfig(
        id="",
        name=args.name,
        driver="onvif",
        url=record.stream_uri,
        sub_url=detect.stream_uri if detect else args.sub_url,
        events=events,
        doorbell=doorbell,
        device={k: v for k, v in device.items() if v is not None},
        has_credentials=creds is not None,
        **settings,
    )


def usb_camera(args: argparse.Namespace, settings: dict[str, Any]) -> CameraConfig:
    """A USB camera at ``--usb``, checked to deliver the asked ``--size``/``--fps``."""
    from drivers.usb.driver import UsbDriver

    options: dict[str, str] = {}
    if args.size:
        if not re.fullmatch(r"\d{2,5}x\d{2,5}", args.size):
            raise CliError(f"--size must look like 1280x720, got {args.size!r}")
        options["size"] = args.size
    if args.fps:
        options["fps"] = f"{args.fps:g}"
    try:
        UsbDriver().probe(StreamRequest(url=args.usb, options=options))  # a size it cannot do says so
    except DriverError as exc:
        raise CliError(str(exc)) from None
    if args.events not in (None, "local"):
        raise CliError("a USB camera has no events of its own: use --events local")
    return CameraConfig(
        id="",
        name=args.name,
        driver="usb",
        url=args.usb,
        device=options,
        doorbell=bool(args.doorbell),
        **settings,
    )


def describe(cfg: CameraConfig) -> list[str]:
    """Lines telling the owner what was found for a camera just added from a device."""
    d = cfg.device
    lines = []
    if cfg.driver == "onvif":
        what = " ".join(str(x) for x in (d.get("manufacturer"), d.get("model")) if x)
        lines.append(f"{what or 'ONVIF device'} at {d.get('host')}")
        lines.append(f"records {cfg.url} (profile {d.get('record_profile')})")
        if cfg.sub_url:
            lines.append(f"detects on {cfg.sub_url} (profile {d.get('detect_profile')})")
        lines.append(
            f"motion from: {cfg.events}" + ("; doorbell presses become events" if cfg.doorbell else "")
        )
        lines += [f"note: {w}" for w in d.get("warnings", [])]
    elif cfg.driver == "usb":
        lines.append(f"USB camera {cfg.url} {d.get('size', '')} {d.get('fps', '')} fps".rstrip())
    return lines


def probe(cam: CameraConfig, creds: Credentials | None) -> dict[str, Any]:
    """``cameras probe --json``: ONVIF profiles with roles and topics, or the streams of other drivers."""
    try:
        return _onvif_probe(cam, creds) if cam.driver == "onvif" else _stream_probe(cam, creds)
    except DriverError as exc:
        raise CliError(str(exc)) from None


def _onvif_probe(cam: CameraConfig, creds: Credentials | None) -> dict[str, Any]:
    from drivers.onvif.device import probe_device

    host, port = split_host(str(cam.device.get("host", "")), ONVIF_PORT)
    dev = probe_device(host, port, creds)
    roles = {cam.device.get("record_profile"): "record", cam.device.get("detect_profile"): "detect"}
    return {
        "manufacturer": dev.manufacturer,
        "model": dev.model,
        "firmware": dev.firmware,
        "clock_offset_s": dev.clock_offset_s,
        "events_supported": dev.events_supported,
        "doorbell": dev.doorbell,
        "event_topics": list(dev.event_topics),
        "warnings": list(dev.warnings),
        "profiles": [
            {
                "token": p.token,
                "name": p.name,
                "codec": p.encoding,
                "width": p.width,
                "height": p.height,
                "fps": p.fps,
                "bitrate_kbps": p.bitrate_kbps,
                "url": p.stream_uri,
                "snapshot": p.snapshot_uri,
                "role": roles.get(p.token),
            }
            for p in dev.profiles
        ],
    }


def _stream_probe(cam: CameraConfig, creds: Credentials | None) -> dict[str, Any]:
    from drivers.registry import get_driver

    driver = get_driver(cam.driver)
    options = {str(k): str(v) for k, v in cam.device.items()}
    streams = []
    for url, role in ((cam.url, "record"), (cam.sub_url, "detect")):
        if url is None and cam.driver != "demo":
            continue
        result = driver.probe(StreamRequest(url=url, credentials=creds, options=options))
        streams += [
            {
                "url": s.url,
                "codec": s.codec,
                "width": s.width,
                "height": s.height,
                "fps": s.fps,
                "audio": s.audio_codec,
                "role": role,
            }
            for s in result.streams
        ]
        if cam.driver == "demo":
            break
    return {"streams": streams}
