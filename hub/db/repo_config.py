"""Configuration in the index: meta facts, cameras and hub settings.

Config writes come from the hub and from the CLI (another process). Like every repo write they take
a Session and never commit (run them with :func:`hub.db.tx.run_write`). Each one first takes the
config write lock (so two processes adding cameras cannot pick the same id) and bumps meta
``config_rev`` in the same transaction: a running hub polls :func:`config_rev` to notice changes.
Reads take an Engine, use a short session, and return hub/core/model.py dataclasses.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable

from sqlalchemy import Engine, Integer, Text, cast, delete, select, update
from sqlalchemy.orm import Session

from hub.core.errors import NotFoundError, ValidationError
from hub.core.model import CameraConfig
from hub.core.settings import Settings
from hub.core.times import now_ms
from hub.core.validation import validate_camera, with_field_changes
from hub.db.convert import camera_from_row, camera_values
from hub.db.schema import CameraRow, CameraStatusRow, MetaRow, SettingRow
from hub.db.tx import after_commit, run_write, serialize_writes

logger = logging.getLogger(__name__)

CONFIG_REV = "config_rev"
CONFIG_LOCK = 0x506F7201  # PostgreSQL advisory lock id of config writes ("Por" + 1)
SLUG_MAX = 40


# --- meta ---------------------------------------------------------------------------------------


def get_meta(engine: Engine, key: str) -> str | None:
    """The meta value for ``key``, or None."""
    with Session(engine) as session:
        return session.scalar(select(MetaRow.value).where(MetaRow.key == key))


def set_meta(session: Session, key: str, value: str) -> None:
    """Insert or replace a meta value."""
    session.merge(MetaRow(key=key, value=value))


INDEX_ID_KEY = "index_id"


def index_id(engine: Engine) -> str:
    """This index's own random id (created on first use): scopes its keyring entries."""
    value = get_meta(engine, INDEX_ID_KEY)
    if value is not None:
        return value
    return run_write(engine, index_id_in)


def index_id_in(session: Session) -> str:
    """:func:`index_id` in ``session``'s write transaction (made there if the index has none yet)."""
    existing = session.get(MetaRow, INDEX_ID_KEY)
    if existing is not None:  # another process may have created it meanwhile
        return existing.value
    new = uuid.uuid4().hex
    set_meta(session, INDEX_ID_KEY, new)
    session.flush()
    return new


def config_rev(engine: Engine) -> int:
    """The configuration revision (0 when nothing was configured yet)."""
    value = get_meta(engine, CONFIG_REV)
    return int(value) if value else 0


def bump_config_rev(session: Session) -> int:
    """Add 1 to ``config_rev`` atomically (also across processes) and return the new value."""
    serialize_writes(session, CONFIG_LOCK)  # the first bump inserts the row: two must not race
    session.flush()
    result = session.execute(
        update(MetaRow)
        .where(MetaRow.key == CONFIG_REV)
        .values(value=cast(cast(MetaRow.value, Integer) + 1, Text))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(MetaRow(key=CONFIG_REV, value="1"))
        session.flush()
        return 1
    return int(session.scalar(select(MetaRow.value).where(MetaRow.key == CONFIG_REV)) or 0)


# --- cameras ------------------------------------------------------------------------------------


def slugify(name: str) -> str:
    """A storage-safe id from a name: ``[a-z0-9-]``, at most 40 characters (``camera`` if empty)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:SLUG_MAX].rstrip("-") or "camera"


def unique_slug(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… (still at most 40 characters), whichever is not taken."""
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def add_camera(session: Session, cfg: CameraConfig) -> CameraConfig:
    """Store a new camera (``cfg.id`` is ignored: a fresh slug is derived from the name)."""
    cfg = dataclasses.replace(cfg, name=cfg.name.strip())
    validate_camera(cfg)
    serialize_writes(session, CONFIG_LOCK)
    rows = session.scalars(select(CameraRow)).all()
    _check_name_free(rows, cfg.name, except_id=None)
    camera_id = unique_slug(slugify(cfg.name), {row.id for row in rows})
    now = now_ms()
    row = CameraRow(id=camera_id, created_ms=now, updated_ms=now, removed_ms=None, **camera_values(cfg))
    session.add(row)
    bump_config_rev(session)
    added = camera_from_row(row)  # as stored (roll times in whole ms, floats in polygons)
    after_commit(session, lambda: logger.info("camera %s added as %r", added.name, added.id))
    return added


def update_camera(session: Session, /, camera_id: str, **changes: object) -> CameraConfig:
    """Change fields (named as in CameraConfig) of a camera; return the new config."""
    if isinstance(changes.get("name"), str):
        changes["name"] = str(changes["name"]).strip()
    serialize_writes(session, CONFIG_LOCK)
    row = _live_row(session, camera_id)
    new = with_field_changes(camera_from_row(row), changes)
    validate_camera(new)
    if new.name.casefold() != row.name.casefold():
        _check_name_free(session.scalars(select(CameraRow)).all(), new.name, except_id=camera_id)
    for key, value in camera_values(new).items():
        setattr(row, key, value)
    row.updated_ms = now_ms()
    bump_config_rev(session)
    fields = ", ".join(sorted(changes))
    after_commit(session, lambda: logger.info("camera %r updated: %s", camera_id, fields))
    return camera_from_row(row)


def remove_camera(session: Session, camera_id: str) -> None:
    """Soft-delete a camera: it disappears from the lists, its id is never reused, recordings stay."""
    serialize_writes(session, CONFIG_LOCK)
    row = _live_row(session, camera_id)
    row.removed_ms = row.updated_ms = now_ms()
    session.execute(delete(CameraStatusRow).where(CameraStatusRow.camera_id == camera_id))
    bump_config_rev(session)
    after_commit(session, lambda: logger.info("camera %r removed", camera_id))


def list_cameras(engine: Engine, include_removed: bool = False) -> list[CameraConfig]:
    """Cameras ordered by name (case-insensitively), without removed ones unless asked."""
    with Session(engine) as session:
        query = select(CameraRow)
        if not include_removed:
            query = query.where(CameraRow.removed_ms.is_(None))
        cameras = [camera_from_row(row) for row in session.scalars(query)]
    return sorted(cameras, key=lambda c: (c.name.casefold(), c.id))


def get_camera(engine: Engine, camera_id: str) -> CameraConfig | None:
    """The camera with this id (removed ones included, for their recordings), or None."""
    with Session(engine) as session:
        row = session.get(CameraRow, camera_id)
        return camera_from_row(row) if row is not None else None


def find_camera(engine: Engine, name: str) -> CameraConfig | None:
    """The non-removed camera with this name (case-insensitive), or None."""
    wanted = name.strip().casefold()
    for camera in list_cameras(engine):
        if camera.name.casefold() == wanted:
            return camera
    return None


def removed_camera_ids(engine: Engine) -> set[str]:
    """Ids of removed cameras (CameraConfig itself carries no removed flag)."""
    with Session(engine) as session:
        return set(session.scalars(select(CameraRow.id).where(CameraRow.removed_ms.is_not(None))))


def _live_row(session: Session, camera_id: str) -> CameraRow:
    row = session.get(CameraRow, camera_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    if row.removed_ms is not None:
        raise NotFoundError(f"camera {camera_id!r} was removed")
    return row


def check_name_free(engine: Engine, name: str, *, except_id: str | None) -> None:
    """Raise a ValidationError (rule "unique") when another camera has this name (any case); the
    check before work that cannot be rolled back (the keyring). Writes check again, atomically."""
    with Session(engine) as session:
        _check_name_free(session.scalars(select(CameraRow)).all(), name.strip(), except_id=except_id)


def _check_name_free(rows: Iterable[CameraRow], name: str, *, except_id: str | None) -> None:
    wanted = name.casefold()
    for row in rows:
        if row.removed_ms is None and row.id != except_id and row.name.casefold() == wanted:
            raise ValidationError(f"a camera named '{name}' already exists", field="name", rule="unique")


# --- settings -----------------------------------------------------------------------------------


def load_settings(engine: Engine) -> Settings:
    """The hub settings (defaults for keys never saved); unknown stored keys raise ValueError."""
    with Session(engine) as session:
        return read_settings(session)


def read_settings(session: Session) -> Settings:
    """:func:`load_settings` in ``session`` (its transaction's snapshot)."""
    rows = {key: value for key, value in session.execute(select(SettingRow.key, SettingRow.value))}
    return Settings.from_rows(rows)


def save_settings(session: Session, settings: Settings) -> None:
    """Validate and store every setting; bumps config_rev."""
    rows = settings.validate().to_rows()
    serialize_writes(session, CONFIG_LOCK)
    for key, value in rows.items():
        session.merge(SettingRow(key=key, value=value))
    bump_config_rev(session)
    after_commit(session, lambda: logger.info("settings saved"))
