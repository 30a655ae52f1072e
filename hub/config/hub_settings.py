"""Hub-wide settings changed and the recordings folder reported: what the Hub API's backends share.

Moving the recordings folder never orphans recordings: the index may point at a new folder only when
that folder is already this index's (the owner moved it there), when the index holds no recordings,
or when the new folder is empty (it is marked for this index at once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import Engine

from hub.core.errors import StorageError, ValidationError
from hub.core.paths import DataDir
from hub.core.settings import Settings
from hub.db import repo_config, repo_media
from hub.db.tx import run_write
from hub.storage.manager import STORAGE_ID_KEY, resolve_root
from hub.storage.marker import check_storage, disk_state, initialize_storage


@dataclasses.dataclass(frozen=True)
class StorageReport:
    """The recordings folder: where, its state, and how full (see hub.api.types.StorageInfo)."""

    path: str
    state: str
    message: str
    quota_bytes: int | None
    max_age_days: float | None
    min_free_bytes: int
    used_bytes: int
    free_bytes: int | None
    total_bytes: int | None


def change(engine: Engine, data: DataDir, changes: Mapping[str, object]) -> Settings:
    """Apply ``changes`` (named as Settings' fields) and store the settings; returns them as stored.

    Raises ValidationError (a field out of bounds, a relative storage path) or StorageError (a
    storage folder that would orphan recordings, or belongs to another index)."""
    old = repo_config.load_settings(engine)
    fields = dict(changes)
    if isinstance(fields.get("storage_path"), str):
        path = Path(str(fields["storage_path"])).expanduser()
        if not path.is_absolute():
            raise ValidationError(
                f"the storage folder must be an absolute path, got {str(path)!r}",
                field="storage_path",
                rule="format",
            )
        fields["storage_path"] = str(path)
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(Settings)})
    if unknown:
        raise ValidationError(f"unknown setting(s): {', '.join(unknown)}", field=unknown[0], rule="unknown")
    new = dataclasses.replace(old, **fields).validate()  # type: ignore[arg-type]
    old_root, new_root = resolve_root(old, data), resolve_root(new, data)
    if new_root != old_root:
        _move_storage(engine, old_root, new_root)
    run_write(engine, repo_config.save_settings, new)
    return new


def _move_storage(engine: Engine, old_root: Path, new_root: Path) -> None:
    """Let the index point at ``new_root`` only when no recording is orphaned by it."""
    storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
    if storage_id is None:
        return  # first run: the hub marks the folder when it starts
    check = check_storage(new_root, storage_id)
    if check.state == "ok":
        return  # the owner moved the folder (or the disk) there already
    if check.state == "foreign":
        raise StorageError(f"{new_root} belongs to another Porchlight index; choose another folder")
    if repo_media.storage_bytes(engine) > 0:
        raise StorageError(
            f"the index holds recordings in {old_root}: move that folder to {new_root} "
            "first (it carries a marker file), then run this again"
        )
    if new_root.exists() and any(new_root.iterdir()):
        raise StorageError(f"{new_root} is not empty; choose an empty or new folder")
    initialize_storage(new_root, storage_id)


def report(engine: Engine, data: DataDir, live: tuple[Path, str, str] | None = None) -> StorageReport:
    """The recordings folder as the index names it; ``live`` is a running hub's (root, state,
    message), else the folder is checked now."""
    settings = repo_config.load_settings(engine)
    if live is not None:
        root, state, message = live
    else:
        root = resolve_root(settings, data)
        storage_id = repo_config.get_meta(engine, STORAGE_ID_KEY)
        if storage_id is None:
            state, message = "not initialized", "the hub prepares it on first start"
        else:
            check = check_storage(root, storage_id)
            state, message = check.state, check.message
    free, total = disk_state(root) if root.exists() else (None, None)
    return StorageReport(
        path=str(root),
        state=state,
        message=message,
        quota_bytes=settings.quota_bytes,
        max_age_days=settings.max_age_days,
        min_free_bytes=settings.min_free_bytes,
        used_bytes=repo_media.storage_bytes(engine),
        free_bytes=free,
        total_bytes=total,
    )
