"""Where the pipelines' reports go: into the index (through the DB writer) and onto the bus.

The camera threads call these methods (they are the PipelineContext callbacks); each returns at once
and the rows are written on the DB writer's thread. An event is written twice, at its start and at
its end; the id the index gave it at the start is kept here until the end updates that row.

A closed segment and an event's start and end are published on the bus once their row is committed,
with the id the index gave it (from the DB writer's thread, in commit order), so a subscriber may
look it up at once. A row the index refused (its write failed) is logged by the writer and not
published. A camera's status is published at once: it is live state, not a row to look up.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, Future
from typing import TypeVar

from sqlalchemy.orm import Session

from hub.core.bus import EventBus, EventEnded, EventStarted, HubEvent, SegmentClosed, StatusChanged
from hub.core.model import CameraStatus, Event, EventKind, Segment
from hub.core.times import now_ms
from hub.db import repo_media
from hub.db.writer import DbWriter
from hub.recorder.segment import ClosedSegment
from hub.storage.thumbnails import Thumbnails

logger = logging.getLogger(__name__)

R = TypeVar("R")
EventKey = tuple[str, str, int]  # (camera, kind, start ms): unique per camera and kind


class IndexSink:
    """Turns status changes, closed segments and events into index writes and bus messages."""

    def __init__(
        self,
        writer: DbWriter,
        bus: EventBus,
        thumbnails: Thumbnails,
        note_segment: Callable[[str, int], None] = lambda _cam, _bytes: None,
    ) -> None:
        self._writer = writer
        self._bus = bus
        self._thumbnails = thumbnails
        self._note_segment = note_segment  # the retention worker counts the bytes written
        self._event_ids: dict[EventKey, Event] = {}  # open events as stored; the writer thread's only

    def status(self, st: CameraStatus) -> None:
        self._writer.submit(repo_media.upsert_status, st)
        self._bus.publish(StatusChanged(st))

    def statuses(self, statuses: Iterable[CameraStatus]) -> None:
        """Write several status rows in one op (the heartbeat, the final state at stop)."""
        self._writer.submit(_upsert_statuses, tuple(statuses))

    def segment(self, seg: ClosedSegment, unobserved: bool) -> None:
        cam = seg.relpath.split("/", 1)[0]
        row = Segment(
            None,
            cam,
            seg.relpath,
            seg.start_ms,
            seg.end_ms,
            seg.bytes,
            seg.frames,
            seg.has_audio,
            False,
            unobserved,
        )
        done = self._writer.submit(_insert_segment, row)
        self._note_segment(cam, seg.bytes)
        self._publish_committed(done, SegmentClosed)

    def event_started(
        self,
        cam: str,
        start_ms: int,
        score: float,
        zones: tuple[str, ...],
        jpeg: bytes | None,
        *,
        kind: EventKind = "motion",
        source: str = "local",
    ) -> Future[Event]:
        """An event began: returns the event as stored (with its id), once committed."""
        thumb = self._thumbnails.save(cam, start_ms, jpeg)
        detected = now_ms()
        ev = Event(None, cam, kind, start_ms, None, score, zones, thumb, source, detected)
        done = self._writer.submit(self._insert_started, (cam, kind, start_ms), ev)
        return self._publish_committed(done, EventStarted)

    def event_ended(
        self,
        cam: str,
        start_ms: int,
        end_ms: int,
        score: float,
        zones: tuple[str, ...],
        jpeg: bytes | None,
        *,
        kind: EventKind = "motion",
        source: str = "local",
    ) -> Future[Event]:
        """An event ended: returns the event as stored (the id of its start), once committed."""
        thumb = self._thumbnails.save(cam, start_ms, jpeg)
        ended = Event(None, cam, kind, start_ms, end_ms, score, zones, thumb, source)
        done = self._writer.submit(self._write_ended, (cam, kind, start_ms), ended)
        return self._publish_committed(done, EventEnded)

    def _publish_committed(self, done: Future[R], message: Callable[[R], HubEvent]) -> Future[R]:
        """Once the write is committed, the row it stored (with its id) is published as ``message``,
        then resolves the future returned. When the write failed, nothing is published and the
        future holds the error (the writer logged it)."""
        out: Future[R] = Future()

        def publish(fut: Future[R]) -> None:
            error = fut.exception() if not fut.cancelled() else CancelledError()
            if error is not None:
                out.set_exception(error)
                return
            row = fut.result()
            self._bus.publish(message(row))
            out.set_result(row)

        done.add_done_callback(publish)
        return out

    # -- on the writer thread ----------------------------------------------------------------------
    def _insert_started(self, session: Session, key: EventKey, ev: Event) -> Event:
        assert ev.detected_ms is not None
        stored = dataclasses.replace(ev, id=repo_media.insert_event(session, ev, ev.detected_ms))
        self._event_ids[key] = stored
        return stored

    def _write_ended(self, session: Session, key: EventKey, ended: Event) -> Event:
        started = self._event_ids.pop(key, None)
        if started is None:  # its insert failed or the hub restarted: insert the whole event
            detected = now_ms()
            return dataclasses.replace(
                ended, id=repo_media.insert_event(session, ended, detected), detected_ms=detected
            )
        event_id = started.id
        assert event_id is not None
        repo_media.update_event(
            session,
            event_id,
            end_ms=ended.end_ms,
            score=ended.score,
            zones=ended.zones,
            # keep the start's thumbnail unless a better one came
            thumbnail=repo_media.KEEP if ended.thumbnail is None else ended.thumbnail,
        )
        return dataclasses.replace(
            ended,
            id=event_id,
            detected_ms=started.detected_ms,
            thumbnail=ended.thumbnail or started.thumbnail,
        )


def _insert_segment(session: Session, row: Segment) -> Segment:
    return dataclasses.replace(row, id=repo_media.insert_segment(session, row))


def _upsert_statuses(session: Session, statuses: tuple[CameraStatus, ...]) -> None:
    for st in statuses:
        repo_media.upsert_status(session, st)
