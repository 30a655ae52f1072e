"""The Hub API suite on what the hub recorded and on devices: recordings and events in a time window,
exports with progress and cancel, probes and discovery. The same tests run against every backend
(tests/support/apitools.py), on a copy of one real recording of the demo camera.

Discovery that multicasts is tested only in tests/netns; here a discovery asks one loopback address.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import msgspec
import pytest

from hub.api import HubApi, connect
from hub.api.errors import CancelledError, DeviceError, NotFoundError, StorageError, ValidationError
from hub.api.index import IndexOnly
from hub.api.local import LocalHub
from hub.api.types import (
    CameraChange,
    Credentials,
    DeviceQuery,
    Event,
    ExportProgress,
    ExportRequest,
    Recording,
    Secret,
)
from hub.core.model import MotionSettings
from hub.hub import HubOptions
from tests.support.apitools import BACKENDS, open_api
from tests.support.hubtools import camera, configure, segments, wait_for

# The demo's visitor crosses the porch for 2 s of every 6 s; motion apart by more than 1 s is a new
# event, so events end while the hub records.
DEMO = camera(
    "Demo",
    None,
    driver="demo",
    mode="continuous",
    device={"period_s": "6", "visit_s": "2"},
    motion=MotionSettings(gap_s=1.0),
)


@dataclasses.dataclass(frozen=True)
class Recorded:
    data: Path
    recordings: list[Recording]
    events: list[Event]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """A data dir where the demo camera recorded 2-s segments and at least one finished motion event;
    the camera is disabled afterwards, so a hub started on a copy adds nothing to it."""
    data = tmp_path_factory.mktemp("recorded") / "data"
    configure(data, [DEMO], segment_seconds=2.0)
    with LocalHub.start(data, options=HubOptions(open_timeout_s=5.0)) as live:
        wait_for(
            lambda: len(live.recordings()) >= 4 and any(e.end_ms for e in live.events(kinds=["motion"])),
            45,
            "four segments and a finished motion event",
            0.5,
        )
    with IndexOnly.open(data) as index:
        index.update_camera("Demo", CameraChange(enabled=False))
        return Recorded(data, index.recordings(), index.events())


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, recorded: Recorded, tmp_path: Path
) -> Iterator[tuple[HubApi, Path]]:
    """(api, data dir) on a copy of the recording."""
    data = tmp_path / "data"
    shutil.copytree(recorded.data, data)
    api = open_api(request.param, data)
    try:
        yield api, data
    finally:
        api.close()


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """An empty folder for clips (beside the data dir)."""
    out = tmp_path / "out"
    out.mkdir()
    return out


def _in(data: Path, recs: list[Recording]) -> list[tuple[int, str, int, int, int]]:
    """The recordings with their paths relative to ``data`` (so two copies compare)."""
    return [(r.id, str(Path(r.path).relative_to(data)), r.start_ms, r.end_ms, r.bytes) for r in recs]


# -- recordings and events ----------------------------------------------------------------------------


def test_recordings_are_the_index_s_segments_with_real_files(backend, recorded):
    api, data = backend
    recs = api.recordings()
    stored = segments(data)
    assert [(r.id, r.start_ms, r.end_ms, r.bytes, r.frames) for r in recs] == [
        (s.id, s.start_ms, s.end_ms, s.bytes, s.frames) for s in stored
    ]
    assert _in(data, recs) == _in(recorded.data, recorded.recordings)
    for r in recs:
        assert (r.camera, r.camera_id) == ("Demo", "demo") and r.duration_ms == r.end_ms - r.start_ms > 0
        path = Path(r.path)
        assert path.is_absolute() and path.is_relative_to(data / "recordings")
        assert path.stat().st_size == r.bytes
    assert recs == sorted(recs, key=lambda r: r.start_ms)
    assert api.recordings("DEMO") == recs == api.recordings("demo")  # by name in any case, or by id


def test_recordings_in_a_window(backend):
    api, _data = backend
    recs = api.recordings()
    second, third = recs[1], recs[2]
    # A window inside the second segment's last half-second and the third's first one.
    inside = api.recordings(start_ms=second.end_ms - 500, end_ms=third.start_ms + 500)
    assert [r.id for r in inside] == [second.id, third.id]
    assert [r.id for r in api.recordings(start_ms=third.end_ms)] == [r.id for r in recs[3:]]
    assert [r.id for r in api.recordings(end_ms=second.start_ms + 1)] == [recs[0].id, second.id]
    assert api.recordings(start_ms=recs[-1].end_ms + 60_000) == []
    with pytest.raises(ValidationError) as info:
        api.recordings(start_ms=second.end_ms, end_ms=second.end_ms)
    assert (info.value.field, info.value.rule) == ("end_ms", "min")
    with pytest.raises(NotFoundError, match=r"no camera named 'Garden' \(cameras: Demo\)"):
        api.recordings("Garden")


def test_events_in_a_window_with_kinds(backend, recorded):
    api, data = backend
    events = api.events()
    assert [(e.id, e.kind, e.start_ms) for e in events] == [
        (e.id, e.kind, e.start_ms) for e in recorded.events
    ]
    motion = [e for e in events if e.kind == "motion" and e.end_ms is not None]
    assert motion, events
    first = motion[0]
    assert first.id > 0 and (first.camera, first.camera_id, first.source) == ("Demo", "demo", "local")
    assert first.end_ms is not None and first.end_ms > first.start_ms and 0 < first.score <= 1
    assert first.thumbnail is not None and Path(first.thumbnail).is_relative_to(data)
    assert Path(first.thumbnail).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert first in api.events("demo", first.start_ms, first.end_ms, kinds=["motion"])
    assert api.events(kinds=["doorbell", "manual"]) == []
    assert api.events(kinds=[]) == events  # no kinds named: every kind
    assert api.events(start_ms=first.end_ms + 10 * 60_000) == []
    with pytest.raises(ValidationError) as info:
        api.events(kinds=["motion", "burglar"])  # type: ignore[list-item]
    assert (info.value.field, info.value.rule) == ("kinds", "one_of") and "burglar" in str(info.value)


def test_a_removed_camera_s_recordings_stay_reachable_by_id(backend, tmp_path):
    api, _data = backend
    before = api.recordings()
    api.remove_camera("Demo")
    with pytest.raises(NotFoundError):
        api.camera("demo")
    with pytest.raises(NotFoundError):
        api.recordings("Demo")  # a name names a camera there is
    assert api.recordings("demo") == before  # the id still names its recordings
    assert all(e.camera == "Demo" for e in api.events("demo"))
    kept = api.protect("demo", before[0].start_ms, before[0].end_ms, "evidence")  # by its id too
    assert kept.camera == "Demo" and api.recordings("demo")[0].kept_for == ("evidence",)
    out = tmp_path / "removed.mp4"
    result = api.export(
        ExportRequest(camera="demo", start_ms=before[0].start_ms, end_ms=before[1].end_ms, path=str(out))
    )
    assert Path(result.path) == out and out.stat().st_size > 0


# -- keeping footage ------------------------------------------------------------------------------------


def test_protections_keep_recordings_for_each_reason_and_release_one_at_a_time(backend):
    api, _data = backend
    recs = api.recordings()
    assert not any(r.protected or r.kept_for for r in recs)
    first, second = recs[0], recs[1]
    # A star over the first two recordings, evidence over the second, a hold inside it.
    star = api.protect("Demo", first.start_ms + 100, second.start_ms + 100, "star", note=" the parcel ")
    evidence = api.protect("demo", second.start_ms + 1, second.end_ms - 1, "evidence")
    hold = api.protect("Demo", second.start_ms + 100, second.start_ms + 200, reason="hold")
    assert (star.camera, star.camera_id, star.reason, star.note) == ("Demo", "demo", "star", "the parcel")
    assert star.id < evidence.id < hold.id and star.created_ms > 0

    def kept() -> list[tuple[str, ...]]:
        return [r.kept_for for r in api.recordings()][:3]

    assert kept() == [("star",), ("star", "evidence", "hold"), ()]
    assert [r.protected for r in api.recordings()][:3] == [True, True, False]
    assert api.recordings(start_ms=second.start_ms, end_ms=second.end_ms)[0].kept_for == (
        "star",
        "evidence",
        "hold",
    )
    assert api.protections() == [star, evidence, hold]
    assert api.protections("Demo", reasons=["hold", "evidence"]) == [evidence, hold]
    assert api.protections(start_ms=second.start_ms + 150) == [evidence, hold]
    assert api.protections(start_ms=second.end_ms) == []
    # Releasing the star never releases the evidence or the hold.
    assert api.release(star.id) == star
    assert kept() == [(), ("evidence", "hold"), ()]
    assert api.release(hold.id) == hold
    assert kept() == [(), ("evidence",), ()]
    with pytest.raises(NotFoundError, match=f"no protection with id {star.id}"):
        api.release(star.id)
    assert api.protections() == [evidence]


def test_protect_refusals_name_their_field(backend):
    api, _data = backend
    rec = api.recordings()[0]
    cases = [
        ({"start_ms": rec.end_ms, "end_ms": rec.start_ms}, "end_ms", "min"),
        ({"start_ms": -5, "end_ms": 10}, "start_ms", "min"),
        ({"reason": "forever"}, "reason", "one_of"),
        ({"note": "x" * 1001}, "note", "too_long"),
    ]
    for change, field, rule in cases:
        args = {"camera": "Demo", "start_ms": rec.start_ms, "end_ms": rec.end_ms, **change}
        with pytest.raises(ValidationError) as info:
            api.protect(**args)
        assert (info.value.field, info.value.rule) == (field, rule), change
    with pytest.raises(NotFoundError, match="Garden"):
        api.protect("Garden", rec.start_ms, rec.end_ms)
    with pytest.raises(ValidationError) as info:
        api.protections(reasons=["forever"])  # type: ignore[list-item]
    assert (info.value.field, info.value.rule) == ("reasons", "one_of")
    assert api.protections() == []  # a refusal stores nothing


# -- export ---------------------------------------------------------------------------------------------


def _frames(path: Path) -> tuple[int, bool]:
    """(decoded video frames, the first is a keyframe): every frame decodes or this raises."""
    n, first_key = 0, None
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            first_key = frame.key_frame if first_key is None else first_key
            n += 1
    return n, bool(first_key)


def test_export_across_segments_with_progress(backend, tmp_path):
    api, _data = backend
    recs = api.recordings()
    start, end = recs[0].start_ms + 700, recs[2].end_ms - 300
    out = tmp_path / "clip.mp4"
    seen: list[ExportProgress] = []
    result = api.export(
        ExportRequest(camera="Demo", start_ms=start, end_ms=end, path=str(out)), progress=seen.append
    )
    assert Path(result.path) == out and not list(tmp_path.glob("*.part"))
    frames, keyframe_first = _frames(out)
    assert keyframe_first and frames == result.frames > 0
    assert result.start_ms <= start and result.segments == 3 and result.gaps == ()
    # Progress: from nothing to all of it, never backwards, segments counted.
    assert seen[0].done_ms == 0 and seen[0].segments_total == 3
    assert seen[-1].fraction == 1.0 and seen[-1].frames == result.frames and seen[-1].segments_done == 3
    assert all(a.done_ms <= b.done_ms and a.frames <= b.frames for a, b in itertools.pairwise(seen))
    assert {p.segments_done for p in seen} >= {0, 1, 2, 3}


def test_export_cancelled_leaves_nothing(backend, outdir):
    api, _data = backend
    recs = api.recordings()
    out = outdir / "clip.mp4"
    out.write_bytes(b"an earlier clip")
    cancel = threading.Event()

    def halfway(p: ExportProgress) -> None:
        if p.segments_done >= 1:
            cancel.set()

    request = ExportRequest(camera="Demo", start_ms=recs[0].start_ms, end_ms=recs[-1].end_ms, path=str(out))
    with pytest.raises(CancelledError, match="cancelled"):
        api.export(request, progress=halfway, cancel=cancel)
    assert out.read_bytes() == b"an earlier clip"  # replaced only by a complete clip
    assert sorted(p.name for p in outdir.iterdir()) == ["clip.mp4"]  # no partial file
    with pytest.raises(CancelledError):  # cancelled before it starts
        api.export(request, cancel=cancel)


@pytest.mark.parametrize(
    "path, error, field",
    [
        ("clip.mp4", ValidationError, "path"),  # relative: a client resolves it
        ("{tmp}/clip.mov", ValidationError, "path"),
        ("{tmp}", ValidationError, "path"),  # a folder
        ("{data}/recordings/clip.mp4", ValidationError, "path"),
        ("{tmp}/no-such-folder/clip.mp4", StorageError, None),
    ],
    ids=["relative", "not-mp4", "folder", "in-recordings", "missing-folder"],
)
def test_export_refuses_a_bad_path(backend, outdir, path, error, field):
    api, data = backend
    recs = api.recordings()
    request = ExportRequest(
        camera="Demo",
        start_ms=recs[0].start_ms,
        end_ms=recs[1].end_ms,
        path=path.format(tmp=outdir, data=data),
    )
    with pytest.raises(error) as info:
        api.export(request)
    if field:
        assert info.value.field == field
    assert not list(outdir.rglob("*")) and not list((data / "recordings").rglob("clip*"))


def test_export_of_nothing_says_what_was_asked(backend, outdir):
    api, _data = backend
    last = api.recordings()[-1]
    later = ExportRequest(
        camera="Demo",
        start_ms=last.end_ms + 60_000,
        end_ms=last.end_ms + 120_000,
        path=str(outdir / "x.mp4"),
    )
    with pytest.raises(NotFoundError, match=r"nothing was recorded in that window: Demo between .*Z and .*Z"):
        api.export(later)
    with pytest.raises(ValidationError) as info:
        api.export(msgspec.structs.replace(later, end_ms=later.start_ms))
    assert info.value.field == "end_ms"
    assert not list(outdir.iterdir())


# -- probes and discovery ---------------------------------------------------------------------------------


def test_probe_a_camera_and_a_device(backend):
    api, _data = backend
    probe = api.probe("Demo")
    assert (probe.manufacturer, probe.model, probe.profiles) == ("Porchlight", "Demo", ())
    assert [(s.codec, s.width, s.height, s.fps, s.role) for s in probe.streams] == [
        ("h264", 640, 360, 10.0, "record")
    ]
    small = api.probe_device(DeviceQuery(driver="demo", device={"width": "320", "height": "240"}))
    assert [(s.width, s.height) for s in small.streams] == [(320, 240)]
    with pytest.raises(NotFoundError):
        api.probe("Garden")


def test_probe_refusals_name_their_field(backend):
    api, _data = backend
    with pytest.raises(ValidationError) as info:
        api.probe_device(DeviceQuery(driver="lidar"))
    assert (info.value.field, info.value.rule) == ("driver", "one_of")
    with pytest.raises(ValidationError) as info:
        api.probe_device(DeviceQuery(driver="rtsp", url="rtsp://admin:hunter2@127.0.0.1:9/x"))
    assert (info.value.field, info.value.rule) == ("url", "no_credentials")
    assert "hunter2" not in str(info.value)
    creds = Credentials(username="admin", password=Secret("hunter2"))
    with pytest.raises(DeviceError) as dev:  # nothing answers on the discard port
        api.probe_device(DeviceQuery(driver="rtsp", url="rtsp://127.0.0.1:9/x"), creds)
    assert "hunter2" not in str(dev.value)


def test_discover_one_address_and_its_bounds(backend):
    api, _data = backend
    found = api.discover(timeout_s=0.5, host="127.0.0.1:9")  # unicast; nothing answers there
    assert all(d.kind != "onvif" for d in found.devices)
    for timeout, rule in ((61, "max"), (-1, "min")):
        with pytest.raises(ValidationError) as info:
            api.discover(timeout_s=timeout)
        assert (info.value.field, info.value.rule) == ("timeout_s", rule)


def test_index_only_discovery_makes_no_data_dir(tmp_path):
    """A client that only discovers (or asks nothing) leaves no data dir and no index behind."""
    data = tmp_path / "never-made"
    with connect(data) as api:
        api.discover(timeout_s=0.2, host="127.0.0.1:9")
    assert not data.exists()
