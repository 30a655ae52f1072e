"""Cameras added, changed and removed: checked, stored in the index, their credentials in the keyring.

What every way in shares (the Hub API's backends, and through them the app and the CLI). A camera
from a device (ONVIF, USB) is described by its driver first, so that a wrong password or a size the
camera cannot do adds nothing. Credentials never reach the index: only ``has_credentials`` does.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from sqlalchemy.engine import Engine

from hub import devices
from hub.core import secrets
from hub.core.errors import DeviceError, HubError, NotFoundError, ValidationError
from hub.core.model import CameraConfig, EventSource
from hub.core.secrets import Credentials
from hub.core.validation import validate_camera, with_field_changes
from hub.db import repo_config
from hub.db.tx import run_write

logger = logging.getLogger(__name__)


def find(engine: Engine, ref: str) -> CameraConfig:
    """The camera with this name (case-insensitive) or id, else NotFoundError listing the cameras."""
    cams = repo_config.list_cameras(engine)
    wanted = ref.strip()
    for cam in cams:
        if cam.name.casefold() == wanted.casefold():
            return cam
    for cam in cams:
        if cam.id == wanted:
            return cam
    names = ", ".join(c.name for c in cams) or "none"
    raise NotFoundError(f"no camera named {ref!r} (cameras: {names})")


def find_recorded(engine: Engine, ref: str) -> CameraConfig:
    """The camera whose recordings are asked for: by name or id as :func:`find`, or a removed camera
    by its id (its recordings stay until retention removes them)."""
    try:
        return find(engine, ref)
    except NotFoundError:
        removed = repo_config.get_camera(engine, ref.strip())
        if removed is None:
            raise
        return removed


def stored_credentials(engine: Engine, cam: CameraConfig) -> Credentials | None:
    """The camera's credentials from the keyring (None when it has none); UnavailableError when the
    keyring cannot be read."""
    if not cam.has_credentials:
        return None
    return secrets.get_camera_credentials(repo_config.index_id(engine), cam.id)


def from_device(
    cfg: CameraConfig,
    credentials: Credentials | None,
    *,
    events: EventSource | None,
    doorbell: bool | None,
) -> CameraConfig:
    """``cfg`` completed from what its device offers, for the drivers whose cameras are described by
    their device (ONVIF: streams, roles, events, doorbell; USB: the size and rate asked, checked);
    ``url``/``sub_url`` given in ``cfg`` win over the device's. ``events``/``doorbell`` left None
    follow the device. Raises AuthError, DeviceError (it does not answer, or offers nothing to
    record) or ValidationError. Other cameras are not asked: a stream URL need not answer to be
    added."""
    validate_camera(cfg)  # the driver kind, and every field the owner gave, before a device is asked
    title, described = devices.kind_of(cfg.driver)
    if not described:
        return dataclasses.replace(cfg, events=events or "local", doorbell=bool(doorbell))
    if not cfg.url and not cfg.device:
        raise ValidationError(
            f"{title}: which device? Give its address or device path", field="device", rule="required"
        )
    desc = devices.describe(cfg.driver, _strings(cfg.device), credentials, url=cfg.url)
    record, detect = desc.profile("record"), desc.profile("detect")
    url = cfg.url or (record.stream_uri if record else None)
    where = desc.address or cfg.url or title
    if not url:
        raise DeviceError(f"{where} offers no stream Porchlight can record")
    if events is None:
        events = "both" if desc.events else "local"
    if events != "local" and not desc.events:
        raise ValidationError(
            f"{where} reports no events of its own: motion can only come from local detection (events: local)",
            field="events",
            rule="one_of",
        )
    return dataclasses.replace(
        cfg,
        url=url,
        sub_url=cfg.sub_url or (detect.stream_uri if detect else None),
        events=events,
        doorbell=desc.doorbell if doorbell is None else doorbell,
        device=dict(desc.settings),
    )


def _strings(options: Mapping[str, object]) -> dict[str, str]:
    return {str(k): str(v) for k, v in options.items()}


def add(engine: Engine, cfg: CameraConfig, credentials: Credentials | None) -> CameraConfig:
    """Store a new camera and its credentials; returns it as stored. Without a secure keyring nothing
    is stored (UnavailableError); a failure to store the credentials removes the camera again."""
    if credentials is not None:
        secrets.backend()  # SecretsUnavailable before anything is stored
    cfg = dataclasses.replace(cfg, has_credentials=credentials is not None)
    added = run_write(engine, repo_config.add_camera, cfg)
    if credentials is not None:
        try:
            _store(engine, added.id, credentials)
        except HubError:
            run_write(engine, repo_config.remove_camera, added.id)
            raise
    return added


def change(
    engine: Engine, cam: CameraConfig, changes: Mapping[str, object], credentials: Credentials | None
) -> CameraConfig:
    """Change fields (named as CameraConfig's) of ``cam`` and replace its credentials when given;
    returns the camera as stored. The change is checked before the credentials are stored, and they
    are stored before the change: a refused value or a refusing keyring changes nothing."""
    fields = dict(changes)
    if isinstance(name := fields.get("name"), str):
        fields["name"] = name.strip()
    if credentials is not None:
        fields["has_credentials"] = True
    new = with_field_changes(cam, fields)
    validate_camera(new)
    if new.name.casefold() != cam.name.casefold():
        repo_config.check_name_free(engine, new.name, except_id=cam.id)
    if credentials is not None:
        _store(engine, cam.id, credentials)
    return run_write(engine, repo_config.update_camera, cam.id, **fields)


def remove(engine: Engine, cam: CameraConfig) -> None:
    """Remove a camera (its recordings stay until retention removes them) and forget its credentials."""
    run_write(engine, repo_config.remove_camera, cam.id)
    if cam.has_credentials:
        try:
            secrets.delete_camera_credentials(repo_config.index_id(engine), cam.id)
        except secrets.SecretsUnavailable:
            logger.warning("camera %r removed; its credentials could not be deleted from the keyring", cam.id)


def _store(engine: Engine, camera_id: str, credentials: Credentials) -> None:
    secrets.set_camera_credentials(
        repo_config.index_id(engine), camera_id, credentials.username, credentials.password
    )
