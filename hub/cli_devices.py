"""CLI commands that talk to devices: discover, add an ONVIF or USB camera, probe a camera.

Discovery (a multicast WS-Discovery probe and a look at what answers) runs only here, when the
owner asks for it; nothing in the hub ever discovers in the background.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re

from drivers.base import Credentials, DiscoveredDevice, DriverError, StreamRequest
from hub import secrets
from hub.cli import CliError
from hub.cli_commands import (
    _credentials,
    add_camera_with_credentials,
    camera_by_name,
    camera_settings_from_args,
    open_index,
    require_keyring,
)
from hub.db import repo_config
from hub.model import CameraConfig

ONVIF_PORT = 80
MAX_TOPICS = 64


def split_host(text: str, default_port: int) -> tuple[str, int]:
    """``"cam.local:8080"`` -> ("cam.local", 8080); ``"[fe80::1]:80"`` and bare hosts work too."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^:\s]+)(?::(\d+))?", text.strip())
    if not m:
        raise CliError(f"not a host or HOST:PORT: {text!r}")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4) or default_port)
    if not 0 < port < 65536:
        raise CliError(f"not a port number: {port}")
    return host, port


def _device_json(d: DiscoveredDevice) -> dict:
    return {
        "kind": d.kind,
        "name": d.name,
        "manufacturer": d.manufacturer,
        "model": d.model,
        "xaddr": d.xaddr,
        "device": d.device,
        "needs_auth": d.needs_auth,
    }


def _with_auth_check(devices: list[DiscoveredDevice], timeout_s: float) -> list[DiscoveredDevice]:
    """Ask each ONVIF device (in parallel) whether it wants a password; fill model details."""
    from drivers.onvif.device import device_needs_auth

    def check(d: DiscoveredDevice) -> DiscoveredDevice:
        if d.kind != "onvif" or not d.xaddr:
            return d
        host, port = split_host(re.sub(r"^\w+://", "", d.xaddr).split("/", 1)[0], ONVIF_PORT)
        try:
            needs = device_needs_auth(host, port, timeout_s=timeout_s)
        except DriverError:
            needs = None
        return DiscoveredDevice(d.kind, d.name, d.manufacturer, d.model, d.xaddr, d.device, needs)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="porchlight-cli") as pool:
        return list(pool.map(check, devices))


def discover(args: argparse.Namespace) -> int:
    """``discover [--timeout S] [--json]`` and ``discover --host HOST[:PORT] [--json]``."""
    from drivers.onvif import discovery

    if args.host:
        host, port = split_host(args.host, 3702)
        found = discovery.probe_host(host, port, timeout_s=args.timeout)
    else:
        found = discovery.discover(timeout_s=args.timeout)
        from drivers.usb.driver import UsbDriver

        try:
            found += UsbDriver().discover(args.timeout)
        except DriverError as exc:
            print(f"porchlight: note: USB cameras could not be listed: {exc}", file=__import__("sys").stderr)
    found = _with_auth_check(found, timeout_s=min(5.0, args.timeout + 2))
    if args.json:
        print(json.dumps([_device_json(d) for d in found], indent=2))
        return 0
    if not found:
        print(
            "nothing found (for an ONVIF camera on another network, try: porchlight discover --host ADDRESS)"
        )
    for d in found:
        where = d.xaddr or d.device or ""
        auth = {True: "password needed", False: "no password", None: ""}[d.needs_auth]
        what = " ".join(x for x in (d.manufacturer, d.model) if x)
        print(f"{d.kind:6s} {d.name:24s} {what:28s} {where:45s} {auth}")
    return 0


def cameras_add_device(args: argparse.Namespace) -> int:
    """``cameras add NAME --onvif HOST[:PORT] ...`` or ``cameras add NAME --usb DEVICE ...``."""
    _, username, password = _credentials(args, None)
    creds = Credentials(username, password or "") if username else None
    require_keyring(username)
    cfg = _onvif_camera(args, creds) if args.onvif else _usb_camera(args)
    engine, _ = open_index(args)
    added = add_camera_with_credentials(engine, cfg, username, password)
    for line in _describe(added):
        print("  " + line)
    return 0


def _onvif_camera(args: argparse.Namespace, creds: Credentials | None) -> CameraConfig:
    from drivers.onvif.device import probe_device

    host, port = split_host(args.onvif, ONVIF_PORT)
    try:
        dev = probe_device(host, port, creds)
    except DriverError as exc:
        raise CliError(str(exc)) from None  # a wrong password adds nothing
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
        **camera_settings_from_args(args),
    )


def _usb_camera(args: argparse.Namespace) -> CameraConfig:
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
        **camera_settings_from_args(args),
    )


def _describe(cfg: CameraConfig) -> list[str]:
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


def cameras_probe(args: argparse.Namespace) -> int:
    """``cameras probe NAME [--json]``: what the device offers, asked now."""
    engine, _ = open_index(args)
    cam = camera_by_name(engine, args.name)
    creds = None
    if cam.has_credentials:
        try:
            creds = secrets.get_camera_credentials(repo_config.index_id(engine), cam.id)
        except secrets.SecretsUnavailable as exc:
            raise CliError(str(exc)) from None
    try:
        out = _probe(cam, creds)
    except DriverError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{cam.name} ({cam.driver})")
    for p in out.get("profiles", []) + out.get("streams", []):
        role = f" [{p['role']}]" if p.get("role") else ""
        fps = f" @ {p['fps']:g} fps" if p.get("fps") else ""
        print(f"  {p.get('token') or p.get('url')}: {p['codec']} {p['width']}x{p['height']}{fps}{role}")
    if out.get("event_topics"):
        print("  event topics: " + ", ".join(out["event_topics"]))
    for w in out.get("warnings", []):
        print(f"  note: {w}")
    return 0


def _probe(cam: CameraConfig, creds: Credentials | None) -> dict:
    from drivers import get_driver

    if cam.driver == "onvif":
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
