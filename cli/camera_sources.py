"""Cameras that describe themselves: a camera config from an ONVIF device or a USB camera, a summary of
what was found, and ``cameras probe``'s description of what a camera offers now.

A helper of ``cli.cameras``, not a command group of its own.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from cli.common import CliError
from hub import devices
from hub.core.model import CameraConfig, EventSource
from hub.core.secrets import Credentials
from hub.devices import ProbeResult


def onvif_camera(
    args: argparse.Namespace, username: str | None, password: str | None, settings: dict[str, Any]
) -> CameraConfig:
    """Ask the ONVIF device at ``--onvif`` for its streams, roles and events; a wrong password adds nothing."""
    creds = Credentials(username, password or "") if username else None
    desc = devices.describe("onvif", {"host": args.onvif}, creds)
    record, detect = desc.profile("record"), desc.profile("detect")
    where = desc.address or args.onvif
    if record is None or not record.stream_uri:
        raise CliError(f"{where} offers no stream Porchlight can record")
    events: EventSource = args.events or ("both" if desc.events else "local")
    if events != "local" and not desc.events:
        raise CliError(f"{where} has no ONVIF events service: use --events local")
    doorbell = desc.doorbell if args.doorbell is None else bool(args.doorbell)
    return CameraConfig(
        id="",
        name=args.name,
        driver="onvif",
        url=record.stream_uri,
        sub_url=detect.stream_uri if detect else args.sub_url,
        events=events,
        doorbell=doorbell,
        device=dict(desc.settings),
        has_credentials=creds is not None,
        **settings,
    )


def usb_camera(args: argparse.Namespace, settings: dict[str, Any]) -> CameraConfig:
    """A USB camera at ``--usb``, checked to deliver the asked ``--size``/``--fps``."""
    options: dict[str, str] = {}
    if args.size:
        if not re.fullmatch(r"\d{2,5}x\d{2,5}", args.size):
            raise CliError(f"--size must look like 1280x720, got {args.size!r}")
        options["size"] = args.size
    if args.fps:
        options["fps"] = f"{args.fps:g}"
    devices.describe("usb", options, url=args.usb)  # a size it cannot do says so
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
    """``cameras probe --json``: a device's profiles with their roles, events and clock, when its driver
    knows profiles (ONVIF); else the streams of the camera's URL and sub-stream URL."""
    desc = devices.describe_camera(cam, creds)
    if desc.profiles:
        return _profiles_json(desc)
    streams = _streams_json(desc, "record")
    if cam.sub_url is not None:
        streams += _streams_json(devices.describe_camera(cam, creds, "detect"), "detect")
    return {"streams": streams}


def _profiles_json(desc: ProbeResult) -> dict[str, Any]:
    return {
        "manufacturer": desc.manufacturer,
        "model": desc.model,
        "firmware": desc.firmware,
        "clock_offset_s": desc.clock_offset_s,
        "events_supported": desc.events,
        "doorbell": desc.doorbell,
        "event_topics": list(desc.event_topics),
        "warnings": list(desc.warnings),
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
                "role": desc.role_of(p.token),
            }
            for p in desc.profiles
        ],
    }


def _streams_json(desc: ProbeResult, role: str) -> list[dict[str, Any]]:
    return [
        {
            "url": s.url,
            "codec": s.codec,
            "width": s.width,
            "height": s.height,
            "fps": s.fps,
            "audio": s.audio_codec,
            "role": role,
        }
        for s in desc.streams
    ]
