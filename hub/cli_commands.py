"""CLI commands that change configuration: cameras, storage, the demo camera."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from hub import secrets
from hub.cli import CliError
from hub.db import repo_config, repo_media
from hub.db.engine import migrate, open_engine
from hub.model import CameraConfig, MotionSettings, Zone
from hub.paths import DataDir
from hub.redact import split_credentials
from hub.settings import parse_size
from hub.storage.marker import check_storage, initialize_storage
from hub.storage_manager import STORAGE_ID_KEY, resolve_root


def open_index(args: argparse.Namespace) -> tuple[Engine, DataDir]:
    """Open (and migrate) the index named by --data-dir/--db-url."""
    data = DataDir(Path(args.data_dir)).ensure()
    engine = open_engine(args.db_url or data.default_db_url)
    migrate(engine, backup_dir=data.backups)
    return engine, data


def camera_by_name(engine: Engine, name: str) -> CameraConfig:
    """A camera by name (case-insensitive) or id, else a CliError listing the cameras."""
    cam = repo_config.find_camera(engine, name) or repo_config.get_camera(engine, name)
    if cam is None:
        names = ", ".join(c.name for c in repo_config.list_cameras(engine)) or "none"
        raise CliError(f"no camera named {name!r} (cameras: {names})")
    return cam


def dispatch(args: argparse.Namespace) -> int:
    """Run the command named in ``args``."""
    from hub import cli_devices, cli_media

    table = {
        ("cameras", "add"): cameras_add,
        ("cameras", "list"): cameras_list,
        ("cameras", "remove"): cameras_remove,
        ("cameras", "set"): cameras_set,
        ("cameras", "probe"): cli_devices.cameras_probe,
        ("discover", None): cli_devices.discover,
        ("storage", "set"): storage_set,
        ("storage", "show"): cli_media.storage_show,
        ("demo-camera", "add"): demo_add,
        ("serve", None): cli_media.serve,
        ("status", None): cli_media.status,
        ("recordings", "list"): cli_media.recordings_list,
        ("events", "list"): cli_media.events_list,
        ("export", None): cli_media.export,
    }
    return table[(args.command, getattr(args, "action", None))](args)


def _read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    line = sys.stdin.readline()
    if not line:
        raise CliError("--password-stdin given but standard input is empty")
    return line.rstrip("\r\n")


def _credentials(args: argparse.Namespace, url: str | None) -> tuple[str | None, str | None, str | None]:
    """(credential-free URL, username, password) from the URL and/or --username/--password-stdin."""
    clean, url_user, url_pass = split_credentials(url) if url else (None, None, None)
    password = _read_password(args)
    if args.password_stdin and not args.username and not url_user:
        raise CliError("--password-stdin needs --username")
    if (url_user or url_pass) and (args.username or password is not None):
        raise CliError("give the credentials once: either in the URL or with --username/--password-stdin")
    return clean, args.username or url_user, password if password is not None else url_pass


def _check_url(url: str | None, what: str) -> None:
    if url is not None and "://" not in url:
        raise CliError(f"{what} must be a URL like rtsp://host:554/path, got {url!r}")


def _motion_from_args(base: MotionSettings, args: argparse.Namespace) -> MotionSettings:
    if getattr(args, "sensitivity", None) is not None:
        if not 1 <= args.sensitivity <= 100:
            raise CliError("--sensitivity must be between 1 and 100")
        base = dataclasses.replace(base, sensitivity=args.sensitivity)
    zones_file = getattr(args, "zones", None)
    if zones_file is not None:
        base = dataclasses.replace(base, zones=load_zones(zones_file))
    return base


def load_zones(path: Path) -> tuple[Zone, ...]:
    """Read a zones file: ``{"zones": [{"name", "polygon"}], "masks": [...]}`` (normalized 0..1)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read zones file {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"zones", "masks"}:
        raise CliError('a zones file is {"zones": [...], "masks": [...]}')
    out = []
    for kind, key in (("zone", "zones"), ("mask", "masks")):
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
            out.append(Zone(name, tuple((float(x), float(y)) for x, y in poly), kind))
    return tuple(out)


def _store_credentials(engine: Engine, camera_id: str, username: str | None, password: str | None) -> None:
    if username is None:
        return
    try:
        secrets.set_camera_credentials(repo_config.index_id(engine), camera_id, username, password or "")
    except secrets.SecretsUnavailable as exc:
        raise CliError(str(exc)) from None


def cameras_add(args: argparse.Namespace) -> int:
    """``cameras add NAME (--url URL | --onvif HOST[:PORT] | --usb DEVICE) ...``"""
    if args.onvif or args.usb:
        from hub import cli_devices

        return cli_devices.cameras_add_device(args)
    _check_url(args.url, "--url")
    _check_url(args.sub_url, "--sub-url")
    url, username, password = _credentials(args, args.url)
    sub_url, sub_user, sub_pass = split_credentials(args.sub_url) if args.sub_url else (None, None, None)
    if sub_user and (sub_user, sub_pass) != (username, password):
        raise CliError("the sub stream must use the same credentials as the main stream")
    require_keyring(username)
    engine, _ = open_index(args)
    cfg = CameraConfig(
        id="",
        name=args.name,
        driver="rtsp",
        url=url,
        sub_url=sub_url,
        has_credentials=username is not None,
        events=args.events or "local",
        doorbell=bool(args.doorbell),
        **camera_settings_from_args(args),
    )
    add_camera_with_credentials(engine, cfg, username, password)
    return 0


def camera_settings_from_args(args: argparse.Namespace) -> dict:
    """The settings ``cameras add`` shares across drivers (mode, rolls, audio, detection, age, motion)."""
    return dict(
        mode=args.mode or "continuous",
        pre_roll_s=args.pre_roll if args.pre_roll is not None else 5.0,
        post_roll_s=args.post_roll if args.post_roll is not None else 10.0,
        audio=args.audio or "keep",
        detect=True if args.detect is None else args.detect,
        max_age_days=args.max_age,
        motion=_motion_from_args(MotionSettings(), args),
    )


def require_keyring(username: str | None) -> None:
    """With a username to store, fail before touching anything when no secure keyring exists."""
    if username is not None:
        try:
            secrets.backend()
        except secrets.SecretsUnavailable as exc:
            raise CliError(str(exc)) from None


def add_camera_with_credentials(
    engine: Engine, cfg: CameraConfig, username: str | None, password: str | None
) -> CameraConfig:
    """Add ``cfg`` and store its credentials; a failure to store them adds nothing."""
    try:
        added = repo_config.add_camera(engine, cfg)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        _store_credentials(engine, added.id, username, password)
    except CliError:
        repo_config.remove_camera(engine, added.id)
        raise
    print(f"added camera {added.name!r} (id {added.id})")
    return added


def camera_json(c: CameraConfig) -> dict:
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
    engine, _ = open_index(args)
    cams = repo_config.list_cameras(engine)
    if args.json:
        print(json.dumps([camera_json(c) for c in cams], indent=2))
        return 0
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


def cameras_remove(args: argparse.Namespace) -> int:
    """``cameras remove NAME``"""
    engine, _ = open_index(args)
    cam = camera_by_name(engine, args.name)
    repo_config.remove_camera(engine, cam.id)
    if cam.has_credentials:
        try:
            secrets.delete_camera_credentials(repo_config.index_id(engine), cam.id)
        except secrets.SecretsUnavailable:
            pass
    print(f"removed camera {cam.name!r}; its recordings stay until retention removes them")
    return 0


def cameras_set(args: argparse.Namespace) -> int:
    """``cameras set NAME [--mode ...] [--enabled yes|no] [--zones FILE] [--audio keep|drop] ...``"""
    engine, _ = open_index(args)
    cam = camera_by_name(engine, args.name)
    changes: dict = {}
    username = password = None
    if args.url is not None:
        _check_url(args.url, "--url")
        changes["url"], username, password = _credentials(args, args.url)
    elif args.username or args.password_stdin:
        _, username, password = _credentials(args, None)
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
    motion = _motion_from_args(cam.motion, args)
    if motion != cam.motion:
        changes["motion"] = motion
    if username is not None:
        _store_credentials(engine, cam.id, username, password)
        changes["has_credentials"] = True
    if not changes:
        raise CliError("nothing to change (see porchlight cameras set --help)")
    try:
        repo_config.update_camera(engine, cam.id, **changes)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"updated camera {cam.name!r}")
    return 0


def storage_set(args: argparse.Namespace) -> int:
    """``storage set [--path DIR] [--quota SIZE] [--max-age DAYS] [--min-free SIZE]``"""
    engine, data = open_index(args)
    settings = repo_config.load_settings(engine)
    changes: dict = {}
    try:
        if args.quota is not None:
            changes["quota_bytes"] = None if args.quota.lower() == "none" else parse_size(args.quota)
        if args.max_age is not None:
            changes["max_age_days"] = None if args.max_age.lower() == "none" else _days(args.max_age)
        if args.min_free is not None:
            changes["min_free_bytes"] = parse_size(args.min_free)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.path is not None:
        new_root = args.path.expanduser().resolve()
        _move_storage(engine, resolve_root(settings, data), new_root)
        changes["storage_path"] = str(new_root)
    if not changes:
        raise CliError("nothing to change (see porchlight storage set --help)")
    try:
        new = dataclasses.replace(settings, **changes).validate()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    repo_config.save_settings(engine, new)
    print("storage settings saved")
    return 0


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise ValueError(f"--max-age must be a number of days (or 'none'), got {text!r}") from None
    return days  # bounds: Settings.validate() names the setting in its message


def _move_storage(engine: Engine, old_root: Path, new_root: Path) -> None:
    """Point the index at a new storage folder, refusing to orphan existing recordings."""
    storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
    if storage_id is None or old_root == new_root:
        return  # first run (the hub marks the folder when it starts), or no change
    check = check_storage(new_root, storage_id)
    if check.state == "ok":
        return  # the owner moved the folder (or the disk) there already
    if check.state == "foreign":
        raise CliError(f"{new_root} belongs to another Porchlight index; choose another folder")
    if repo_media.storage_bytes(engine) > 0:
        raise CliError(
            f"the index holds recordings in {old_root}: move that folder to {new_root} "
            "first (it carries a marker file), then run this again"
        )
    if new_root.exists() and any(new_root.iterdir()):
        raise CliError(f"{new_root} is not empty; choose an empty or new folder")
    initialize_storage(new_root, storage_id)


def demo_add(args: argparse.Namespace) -> int:
    """``demo-camera add``"""
    engine, _ = open_index(args)
    cfg = CameraConfig(id="", name=args.name, driver="demo", url=None, mode=args.mode)
    try:
        added = repo_config.add_camera(engine, cfg)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"added demo camera {added.name!r} (id {added.id})")
    return 0
