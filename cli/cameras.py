"""``porchlight cameras add|list|probe|remove|set``: a hub's cameras, through the Hub API."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from cli import camera_sources
from cli.common import (
    CliError,
    api_credentials,
    applied,
    command,
    credentials,
    hub_api,
    positive,
    print_json,
    yes_no,
)
from hub.api.types import (
    UNSET,
    Camera,
    CameraChange,
    MotionChange,
    MotionSettings,
    NewCamera,
    Zone,
    ZoneKind,
)
from hub.api.util import split_credentials


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cameras`` group to the top-level sub-parsers."""
    cams = sub.add_parser("cameras", help="add, list, change and remove cameras")
    csub = cams.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = command(
        csub.add_parser("add", help="add a camera: by stream URL, ONVIF address or USB device"), cameras_add
    )
    add.add_argument("name")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--url",
        help="main (record) stream, e.g. rtsp://host:554/stream1; "
        "credentials in it are moved to the OS keyring",
    )
    source.add_argument(
        "--onvif",
        metavar="HOST[:PORT]",
        help="an ONVIF camera or doorbell: its streams, roles and events are found for you",
    )
    source.add_argument(
        "--usb", metavar="DEVICE", help="a USB camera, e.g. /dev/video0 (see: porchlight discover)"
    )
    add.add_argument("--sub-url", help="small stream for motion detection and live view")
    add.add_argument("--size", metavar="WxH", help="USB: capture size, e.g. 1280x720")
    add.add_argument("--fps", type=float, metavar="N", help="USB: frames per second")
    _camera_options(add)
    add.add_argument("--username")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    lst = command(csub.add_parser("list", help="list cameras"), cameras_list)
    lst.add_argument("--json", action="store_true")
    prb = command(
        csub.add_parser("probe", help="what a camera offers (profiles, roles, event topics)"), cameras_probe
    )
    prb.add_argument("name")
    prb.add_argument("--json", action="store_true")
    rm = command(
        csub.add_parser("remove", help="remove a camera (its recordings stay until retention removes them)"),
        cameras_remove,
    )
    rm.add_argument("name")
    st = command(csub.add_parser("set", help="change a camera"), cameras_set)
    st.add_argument("name")
    st.add_argument("--url")
    st.add_argument("--sub-url", help="'' removes the sub stream")
    _camera_options(st)
    st.add_argument("--enabled", type=yes_no, metavar="yes|no")
    st.add_argument("--zones", type=Path, metavar="FILE", help="JSON file of motion zones and masks")
    st.add_argument("--username")
    st.add_argument("--password-stdin", action="store_true")


def _camera_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("continuous", "motion"))
    p.add_argument("--pre-roll", type=positive, metavar="S")
    p.add_argument("--post-roll", type=positive, metavar="S")
    p.add_argument("--audio", choices=("keep", "drop"))
    p.add_argument("--detect", type=yes_no, metavar="yes|no", help="local motion detection")
    p.add_argument("--sensitivity", type=int, metavar="1-100")
    p.add_argument("--max-age", type=positive, metavar="DAYS", help="override the global max age")
    p.add_argument(
        "--events",
        choices=("local", "camera", "both"),
        help="motion from our own detection, the camera's events (no decoding at all), or both",
    )
    p.add_argument(
        "--doorbell",
        nargs="?",
        const=True,
        type=yes_no,
        metavar="yes|no",
        help="a press makes a doorbell event (auto-detected for ONVIF doorbells)",
    )


def _check_url(url: str | None, what: str) -> None:
    if url is not None and "://" not in url:
        raise CliError(f"{what} must be a URL like rtsp://host:554/path, got {url!r}")


def load_zones(path: Path) -> tuple[Zone, ...]:
    """Read a zones file: ``{"zones": [{"name", "polygon"}], "masks": [...]}`` (normalized 0..1)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read zones file {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"zones", "masks"}:
        raise CliError('a zones file is {"zones": [...], "masks": [...]}')
    out: list[Zone] = []
    kinds: tuple[tuple[ZoneKind, str], ...] = (("zone", "zones"), ("mask", "masks"))
    for kind, key in kinds:
        for i, item in enumerate(data.get(key, [])):
            if not isinstance(item, dict) or set(item) - {"name", "polygon"} or "polygon" not in item:
                raise CliError(f'{key}[{i}] must be {{"name": ..., "polygon": [[x, y], ...]}}')
            poly = item["polygon"]
            ok = (
                isinstance(poly, list)
                and len(poly) >= 3
                and all(
                    isinstance(pt, list)
                    and len(pt) == 2
                    and all(isinstance(v, int | float) and 0 <= v <= 1 for v in pt)
                    for pt in poly
                )
            )
            if not ok:
                raise CliError(f"{key}[{i}]: a polygon needs 3 or more [x, y] points between 0 and 1")
            name = str(item.get("name") or f"{kind}-{i + 1}")
            out.append(Zone(name=name, polygon=tuple((float(x), float(y)) for x, y in poly), kind=kind))
    return tuple(out)


def _sensitivity(args: argparse.Namespace) -> int | None:
    if args.sensitivity is not None and not 1 <= args.sensitivity <= 100:
        raise CliError("--sensitivity must be between 1 and 100")
    return args.sensitivity  # type: ignore[no-any-return]


def _motion_change(args: argparse.Namespace) -> MotionChange | None:
    """--sensitivity and --zones as a change of the motion settings (None when neither is given)."""
    sensitivity = _sensitivity(args)
    zones = load_zones(args.zones) if args.zones is not None else None
    if sensitivity is None and zones is None:
        return None
    return MotionChange(
        sensitivity=UNSET if sensitivity is None else sensitivity,
        zones=UNSET if zones is None else zones,
    )


def _usb_options(args: argparse.Namespace) -> dict[str, str]:
    """--size and --fps as a USB camera's driver settings."""
    options: dict[str, str] = {}
    if args.size:
        if not re.fullmatch(r"\d{2,5}x\d{2,5}", args.size):
            raise CliError(f"--size must look like 1280x720, got {args.size!r}")
        options["size"] = args.size
    if args.fps:
        options["fps"] = f"{args.fps:g}"
    return options


def cameras_add(args: argparse.Namespace) -> int:
    """``cameras add NAME (--url URL | --onvif HOST[:PORT] | --usb DEVICE) ...``"""
    _check_url(args.url, "--url")
    _check_url(args.sub_url, "--sub-url")
    url, username, password = credentials(args, args.url)
    sub_url, sub_user, sub_pass = split_credentials(args.sub_url) if args.sub_url else (None, None, None)
    if sub_user and (sub_user, sub_pass) != (username, password):
        raise CliError("the sub stream must use the same credentials as the main stream")
    sensitivity = _sensitivity(args)
    new = NewCamera(
        name=args.name,
        driver="onvif" if args.onvif else "usb" if args.usb else "rtsp",
        url=args.usb or url,
        sub_url=sub_url,
        device={"host": args.onvif} if args.onvif else _usb_options(args) if args.usb else {},
        mode=args.mode or "continuous",
        pre_roll_s=args.pre_roll if args.pre_roll is not None else 5.0,
        post_roll_s=args.post_roll if args.post_roll is not None else 10.0,
        audio=args.audio or "keep",
        detect=True if args.detect is None else args.detect,
        max_age_days=args.max_age,
        motion=MotionSettings() if sensitivity is None else MotionSettings(sensitivity=sensitivity),
        events=args.events,
        doorbell=args.doorbell,
    )
    with hub_api(args) as api:
        added = api.add_camera(new, api_credentials(username, password))
        applied(api)
    print(f"added camera {added.name!r} (id {added.id})")
    for line in camera_sources.describe(added):
        print("  " + line)
    return 0


def camera_json(c: Camera) -> dict[str, Any]:
    """The ``cameras list --json`` shape of one camera."""
    return {
        "id": c.id,
        "name": c.name,
        "driver": c.driver,
        "url": c.url,
        "sub_url": c.sub_url,
        "mode": c.mode,
        "pre_roll": c.pre_roll_s,
        "post_roll": c.post_roll_s,
        "enabled": c.enabled,
        "audio": c.audio,
        "detect": c.detect,
        "max_age_days": c.max_age_days,
        "has_credentials": c.has_credentials,
        "sensitivity": c.motion.sensitivity,
        "zones": [
            {"name": z.name, "kind": z.kind, "polygon": [list(p) for p in z.polygon]} for z in c.motion.zones
        ],
        "events": c.events,
        "doorbell": c.doorbell,
        "device": c.device,
    }


def cameras_list(args: argparse.Namespace) -> int:
    """``cameras list [--json]``"""
    with hub_api(args) as api:
        cams = api.cameras()
    if args.json:
        return print_json([camera_json(c) for c in cams])
    if not cams:
        print("no cameras (add one with: porchlight cameras add NAME --url rtsp://...)")
    for c in cams:
        flags = ", ".join(
            x
            for x in (
                c.mode,
                "disabled" if not c.enabled else "",
                "audio off" if c.audio == "drop" else "",
                "sub stream" if c.sub_url else "",
            )
            if x
        )
        print(f"{c.name:20s} {c.driver:5s} {c.url or '-':45s} {flags}")
    return 0


def cameras_probe(args: argparse.Namespace) -> int:
    """``cameras probe NAME [--json]``: what the device offers, asked now."""
    with hub_api(args) as api:
        cam = api.camera(args.name)
        out = camera_sources.probe_json(api.probe(cam.id))
    if args.json:
        return print_json(out)
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


def cameras_remove(args: argparse.Namespace) -> int:
    """``cameras remove NAME``"""
    with hub_api(args) as api:
        cam = api.remove_camera(args.name)
        applied(api)
    print(f"removed camera {cam.name!r}; its recordings stay until retention removes them")
    return 0


def cameras_set(args: argparse.Namespace) -> int:
    """``cameras set NAME [--mode ...] [--enabled yes|no] [--zones FILE] [--audio keep|drop] ...``"""
    changes: dict[str, Any] = {}
    username = password = None
    if args.url is not None:
        _check_url(args.url, "--url")
        changes["url"], username, password = credentials(args, args.url)
    elif args.username or args.password_stdin:
        _, username, password = credentials(args, None)
    if args.sub_url is not None:
        if args.sub_url:
            _check_url(args.sub_url, "--sub-url")
        changes["sub_url"] = split_credentials(args.sub_url)[0] if args.sub_url else None
    for arg, field in (
        ("mode", "mode"),
        ("pre_roll", "pre_roll_s"),
        ("post_roll", "post_roll_s"),
        ("audio", "audio"),
        ("detect", "detect"),
        ("enabled", "enabled"),
        ("max_age", "max_age_days"),
        ("events", "events"),
        ("doorbell", "doorbell"),
    ):
        value = getattr(args, arg)
        if value is not None:
            changes[field] = value
    motion = _motion_change(args)
    if motion is not None:
        changes["motion"] = motion
    if not changes and username is None:
        raise CliError("nothing to change (see porchlight cameras set --help)")
    with hub_api(args) as api:
        cam = api.update_camera(args.name, CameraChange(**changes), api_credentials(username, password))
        applied(api)
    print(f"updated camera {cam.name!r}")
    return 0
