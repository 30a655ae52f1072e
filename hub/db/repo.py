"""The index's read and write functions in one namespace: ``from hub.db import repo``.

Reads take an Engine, run a short session and return hub/core/model.py dataclasses (never ORM rows).
Writes take a Session and never commit, so several compose into one transaction. The hub's hot path
(segments, events, status) queues them on the DB writer (``writer.submit(repo.insert_segment, row)``,
:class:`hub.db.writer.DbWriter`); everything else runs them with ``run_write(engine, repo.add_camera,
cfg)`` (:mod:`hub.db.tx`), which commits and retries lock conflicts. The one read that may write is
:func:`hub.db.repo_config.index_id`, which creates the index's id on first use.
The implementations live in :mod:`hub.db.repo_config` and :mod:`hub.db.repo_media`.
"""

from __future__ import annotations

import logging

from hub.core.errors import NotFoundError
from hub.db.repo_config import (
    CONFIG_REV,
    add_camera,
    bump_config_rev,
    config_rev,
    find_camera,
    get_camera,
    get_meta,
    list_cameras,
    load_settings,
    remove_camera,
    removed_camera_ids,
    save_settings,
    set_meta,
    slugify,
    update_camera,
)
from hub.db.repo_media import (
    KEEP,
    all_segments,
    clear_status,
    close_open_events,
    delete_segments,
    events_overlapping,
    insert_event,
    insert_segment,
    list_events,
    list_segments,
    list_status,
    storage_bytes,
    update_event,
    upsert_status,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CONFIG_REV",
    "KEEP",
    "NotFoundError",
    "add_camera",
    "all_segments",
    "bump_config_rev",
    "clear_status",
    "close_open_events",
    "config_rev",
    "delete_segments",
    "events_overlapping",
    "find_camera",
    "get_camera",
    "get_meta",
    "insert_event",
    "insert_segment",
    "list_cameras",
    "list_events",
    "list_segments",
    "list_status",
    "load_settings",
    "remove_camera",
    "removed_camera_ids",
    "save_settings",
    "set_meta",
    "slugify",
    "storage_bytes",
    "update_camera",
    "update_event",
    "upsert_status",
]
