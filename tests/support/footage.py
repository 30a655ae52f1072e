"""Footage indexed by hand and requests imported, for the tests of matching and holds: segments and
events written to a real index as a recorder would index them (no files), request windows in RFC
3339, and a signed request imported through the Hub API."""

from __future__ import annotations

import time
from pathlib import Path

from hub.api import HubApi
from hub.api.types import AgencyRequest
from hub.core.model import Event, Segment
from hub.db import repo_config, repo_media
from hub.db.engine import open_engine
from hub.db.tx import run_write
from hub.db.upgrade import migrate
from tests.support.agency import Agency
from tests.support.hubtools import camera, configure

HOUR_MS = 3600 * 1000


def porch_and_garage(tmp_path: Path) -> Path:
    """A data dir whose index holds two cameras, Porch and Garage (their streams unreachable)."""
    data = tmp_path / "data"
    configure(
        data, [camera("Porch", "rtsp://127.0.0.1:9/porch"), camera("Garage", "rtsp://127.0.0.1:9/garage")]
    )
    return data


def hours_ago(n: int) -> int:
    """The start of the hour ``n`` hours before this one, in ms."""
    return (int(time.time() * 1000) // HOUR_MS - n) * HOUR_MS


def rfc3339_ms(ms: int) -> str:
    """``ms`` as RFC 3339 UTC with milliseconds (the format allows fractions; zulu() gives seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def window(start_ms: int, end_ms: int) -> dict[str, str]:
    """A request's ``window`` member."""
    return {"start": rfc3339_ms(start_ms), "end": rfc3339_ms(end_ms)}


def index_footage(
    data: Path, db_url: str | None = None, size: int = 1000, **rows: list[tuple[int, int]]
) -> dict[str, str]:
    """Index segments of ``size`` bytes for the cameras named by ``rows`` (name -> [(start_ms,
    end_ms)]), as a recorder would; returns name -> camera id."""
    engine = open_engine(db_url or f"sqlite:///{data / 'porchlight.db'}")
    try:
        ids = {c.name: c.id for c in repo_config.list_cameras(engine, include_removed=True)}
        for name, spans in rows.items():
            for n, (start, end) in enumerate(spans):
                seg = Segment(None, ids[name], f"{ids[name]}/{start}-{n}.mp4", start, end, size, frames=10)
                run_write(engine, repo_media.insert_segment, seg)
        return ids
    finally:
        engine.dispose()


def index_event(data: Path, camera_id: str, start_ms: int, end_ms: int | None) -> None:
    """Index a motion event of one camera."""
    engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
    try:
        run_write(
            engine, repo_media.insert_event, Event(None, camera_id, "motion", start_ms, end_ms), start_ms
        )
    finally:
        engine.dispose()


def imported(api: HubApi, agency: Agency, **change: object) -> AgencyRequest:
    """Sign ``agency.payload(**change)``, import it and return the request (it must be imported)."""
    done = api.request_import(agency.sign(agency.payload(**change)).encode())
    assert done.outcome == "imported" and done.request is not None, done
    return done.request


def shared_index(db_url: str, *names: str) -> dict[str, str]:
    """Migrate the (PostgreSQL) index at ``db_url`` and add cameras named ``names``; name -> id."""
    engine = open_engine(db_url)
    try:
        migrate(engine)
        return {
            name: run_write(engine, repo_config.add_camera, camera(name, f"rtsp://127.0.0.1:9/{n}")).id
            for n, name in enumerate(names)
        }
    finally:
        engine.dispose()
