"""Which recordings to delete: a pure function over segments, events, settings and disk usage.

``plan_retention`` does no I/O and reads no clock; the caller passes ``now_ms`` and the disk state, and
carries out the returned plan (delete the files, then the rows). The rules, applied in order:

1. **motion**: in motion mode a segment is kept when it overlaps the window
   ``[event.start - pre_roll, event.end + post_roll]`` of any event of its camera (an open event reaches
   to ``now``), or when it is ``unobserved`` (detection was down). Any other segment is deleted only once
   ``now > segment.end + pre_roll + grace``: until then a late-detected event may still need it as
   pre-roll.
2. **age**: a segment whose end is more than the camera's ``max_age_ms`` (else the global one) ago.
3. **quota**: while the remaining segments use more than the quota, the oldest unprotected go (by start,
   across cameras).
4. **low_space**: when free space (plus what rules 1-3 free) is under ``min_free_bytes``, the oldest
   unprotected go until ``free_target_bytes`` is reached. The plan is then marked ``emergency``.

Protected segments (a star or evidence protection covers them) and held ones (a hold covers them: an
agency request under review) are never deleted here. When rule 4 cannot reach its target, the plan
says by how much (``short_bytes``): the retention worker then releases holds, the oldest first
(:func:`hub.community.holds.release_oldest`), and plans again, because a hold must never stop
recording when the disk fills; stars and evidence are never released. Segments of cameras missing
from ``cameras`` (removed cameras) follow the global rules as in continuous mode. Intervals: a
segment covers ``[start, end)`` (a zero-length one covers its start instant); an event window is
closed at both ends. Deletions come out in rule order, each rule's in ``(start_ms, camera_id, path)``
order, whatever the input order.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import logging
import operator
from collections.abc import Mapping, Sequence
from typing import Literal

from hub.core.model import MODES, CameraConfig, Event, Mode, Segment
from hub.core.settings import Settings, format_size

logger = logging.getLogger(__name__)

DeletionReason = Literal["motion", "age", "quota", "low_space"]
DAY_MS = 86_400_000
MiB = 1024**2


@dataclasses.dataclass(frozen=True)
class CameraRetention:
    """How long one camera's recordings are kept."""

    mode: Mode = "continuous"
    pre_roll_ms: int = 5_000
    post_roll_ms: int = 10_000
    max_age_ms: int | None = None  # None: the global max age applies

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown recording mode {self.mode!r}")
        if self.pre_roll_ms < 0 or self.post_roll_ms < 0:
            raise ValueError("pre-roll and post-roll must not be negative")
        if self.max_age_ms is not None and self.max_age_ms < 0:
            raise ValueError("max age must not be negative")


@dataclasses.dataclass(frozen=True)
class RetentionSettings:
    """Hub-wide retention budget."""

    quota_bytes: int | None = None
    max_age_ms: int | None = None  # global default; a camera may override it
    min_free_bytes: int = 2 * 1024**3
    free_target_bytes: int = 2 * 1024**3 + 512 * MiB  # what an emergency frees up to; > min_free
    grace_ms: int = 60_000

    def __post_init__(self) -> None:
        if self.free_target_bytes <= self.min_free_bytes:
            raise ValueError("the free-space target must be above the free-space minimum")
        if self.grace_ms < 0 or self.min_free_bytes < 0:
            raise ValueError("grace time and free-space minimum must not be negative")
        if self.quota_bytes is not None and self.quota_bytes < 0:
            raise ValueError("quota must not be negative")


@dataclasses.dataclass(frozen=True)
class DiskState:
    """Free and total bytes of the disk holding the storage folder."""

    free_bytes: int
    total_bytes: int


@dataclasses.dataclass(frozen=True, slots=True)
class Deletion:
    """One segment to delete, and why."""

    segment_id: int | None
    camera_id: str
    path: str
    bytes: int
    reason: DeletionReason


@dataclasses.dataclass(frozen=True)
class RetentionPlan:
    """What one retention run deletes."""

    deletions: tuple[Deletion, ...] = ()
    bytes_freed: int = 0
    emergency: bool = False  # free space was under the minimum even after the regular rules
    notes: tuple[str, ...] = ()  # for the owner: why the budget could not be met, ...
    short_bytes: int = 0  # an emergency's free-space target missed by this much (releasing holds may help)


def from_settings(
    settings: Settings,
    cameras: Sequence[CameraConfig],
    *,
    headroom_fraction: float = 0.25,
    min_headroom_bytes: int = 256 * MiB,
) -> tuple[RetentionSettings, dict[str, CameraRetention]]:
    """Convert the app's settings and camera configs into retention inputs.

    An emergency frees up to ``min_free + max(min_free * headroom_fraction, min_headroom_bytes)`` so
    that it does not fire again a few seconds later.
    """
    headroom = max(int(settings.min_free_bytes * headroom_fraction), min_headroom_bytes, 1)
    rs = RetentionSettings(
        quota_bytes=settings.quota_bytes,
        max_age_ms=_days_to_ms(settings.max_age_days),
        min_free_bytes=settings.min_free_bytes,
        free_target_bytes=settings.min_free_bytes + headroom,
        grace_ms=round(settings.motion_grace_s * 1000),
    )
    per_camera = {
        cam.id: CameraRetention(
            mode=cam.mode,
            pre_roll_ms=round(cam.pre_roll_s * 1000),
            post_roll_ms=round(cam.post_roll_s * 1000),
            max_age_ms=_days_to_ms(cam.max_age_days),
        )
        for cam in cameras
    }
    return rs, per_camera


def _days_to_ms(days: float | None) -> int | None:
    return None if days is None else round(days * DAY_MS)


def _motion_windows(
    events: Sequence[Event], cameras: Mapping[str, CameraRetention], now_ms: int
) -> dict[str, tuple[list[int], list[int]]]:
    """Per motion-mode camera: merged, sorted keep windows as parallel (starts, ends) lists."""
    raw: dict[str, list[tuple[int, int]]] = {}
    for ev in events:
        cam = cameras.get(ev.camera_id)
        if cam is None or cam.mode != "motion":
            continue
        end = now_ms if ev.end_ms is None else ev.end_ms
        end = max(end, ev.start_ms)
        raw.setdefault(ev.camera_id, []).append((ev.start_ms - cam.pre_roll_ms, end + cam.post_roll_ms))
    merged: dict[str, tuple[list[int], list[int]]] = {}
    for camera_id, windows in raw.items():
        windows.sort()
        starts: list[int] = []
        ends: list[int] = []
        for ws, we in windows:
            if ends and ws <= ends[-1]:
                ends[-1] = max(ends[-1], we)
            else:
                starts.append(ws)
                ends.append(we)
        merged[camera_id] = (starts, ends)
    return merged


_order_key = operator.attrgetter("start_ms", "camera_id", "path")  # oldest first, then a stable tie-break


def _deletion(seg: Segment, reason: DeletionReason) -> Deletion:
    return Deletion(seg.id, seg.camera_id, seg.path, seg.bytes, reason)


def plan_retention(
    segments: Sequence[Segment],
    events: Sequence[Event],
    cameras: Mapping[str, CameraRetention],
    settings: RetentionSettings,
    disk: DiskState,
    now_ms: int,
    *,
    unlisted_bytes: int = 0,
) -> RetentionPlan:
    """Decide which segments to delete (see the module docstring for the rules).

    ``segments`` may be a subset of the index (the candidates a caller selected); then
    ``unlisted_bytes`` is the size of all the others, which count towards the quota and are
    kept. The caller must include the oldest unprotected segments it wants the quota and
    low-space rules to consider.
    """
    windows = _motion_windows(events, cameras, now_ms)
    # Per camera id: (motion mode?, pre_roll + grace, max age); removed cameras get the global rules.
    rules: dict[str, tuple[bool, int, int | None]] = {}
    default_rule = (False, 0, settings.max_age_ms)
    for camera_id, cam in cameras.items():
        max_age = cam.max_age_ms if cam.max_age_ms is not None else settings.max_age_ms
        rules[camera_id] = (cam.mode == "motion", cam.pre_roll_ms + settings.grace_ms, max_age)

    seen: set[str] = set()
    seen_add = seen.add
    bisect_left = bisect.bisect_left
    duplicates = 0
    motion: list[Segment] = []
    aged: list[Segment] = []
    remaining: list[Segment] = []
    remaining_bytes = unlisted_bytes
    protected_bytes = 0
    for seg in segments:
        path = seg.path
        if path in seen:
            duplicates += 1
            continue
        seen_add(path)
        if seg.protected or seg.held:
            remaining.append(seg)
            remaining_bytes += seg.bytes
            protected_bytes += seg.bytes
            continue
        is_motion, wait_ms, max_age = rules.get(seg.camera_id, default_rule)
        end = seg.end_ms
        if is_motion and now_ms > end + wait_ms and not seg.unobserved:
            # Does [start, end) meet a closed window? Take the first window not ending before the
            # segment starts; it overlaps when it starts before the segment ends (a zero-length
            # segment counts as its start instant). Inlined: this loop runs once per stored segment.
            start = seg.start_ms
            cam_windows = windows.get(seg.camera_id)
            if cam_windows is None:
                motion.append(seg)
                continue
            starts, ends = cam_windows
            i = bisect_left(ends, start)
            if not (i < len(ends) and starts[i] < max(end, start + 1)):
                motion.append(seg)
                continue
        if max_age is not None and now_ms - end > max_age:
            aged.append(seg)
        else:
            remaining.append(seg)
            remaining_bytes += seg.bytes

    motion.sort(key=_order_key)
    aged.sort(key=_order_key)
    deletions = [Deletion(s.id, s.camera_id, s.path, s.bytes, "motion") for s in motion]
    deletions += [Deletion(s.id, s.camera_id, s.path, s.bytes, "age") for s in aged]
    freed = sum(d.bytes for d in deletions)
    notes: list[str] = []
    if duplicates:
        notes.append(f"{duplicates} duplicate segment row(s) were ignored.")

    heap: list[tuple[int, str, str, int]] | None = None

    def oldest() -> Segment | None:
        """Pop the oldest remaining segment that no protection covers (the heap is built on first use)."""
        nonlocal heap
        if heap is None:
            heap = [
                (s.start_ms, s.camera_id, s.path, i)
                for i, s in enumerate(remaining)
                if not s.protected and not s.held
            ]
            heapq.heapify(heap)
        return remaining[heapq.heappop(heap)[3]] if heap else None

    quota = settings.quota_bytes
    if quota is not None and remaining_bytes > quota:
        while remaining_bytes > quota and (victim := oldest()) is not None:
            deletions.append(_deletion(victim, "quota"))
            remaining_bytes -= victim.bytes
            freed += victim.bytes
        if remaining_bytes > quota:
            notes.append(
                f"The disk quota ({format_size(quota)}) cannot be met: "
                f"{format_size(protected_bytes)} of recordings are protected."
            )

    emergency = False
    short = 0
    free = disk.free_bytes + freed
    if free < settings.min_free_bytes:
        emergency = True
        notes.append(
            f"Low disk space: {format_size(disk.free_bytes)} free, under the "
            f"{format_size(settings.min_free_bytes)} to keep free; the oldest recordings go first."
        )
        while free < settings.free_target_bytes and (victim := oldest()) is not None:
            deletions.append(_deletion(victim, "low_space"))
            free += victim.bytes
            freed += victim.bytes
        short = max(0, settings.free_target_bytes - free)
        if free < settings.min_free_bytes:
            notes.append(
                "Not enough space can be freed: everything left is protected or held for a request. "
                "Free some space on the disk or choose a larger one."
            )

    if deletions:
        logger.info(
            "retention: %s deletion(s), %s freed, emergency=%s", len(deletions), format_size(freed), emergency
        )
    return RetentionPlan(tuple(deletions), freed, emergency, tuple(notes), short_bytes=short)
