"""What the recorders wrote: lost frames (timestamps and burned-in frame numbers) and motion latency.

Each recorded file is demuxed (every packet's timestamps) and only its keyframes are decoded, to read
the frame number that ``tests/support/barcode.py`` burned into the main stream (frame n of the
looped clip carries n; it wraps every loop). Between two keyframes read as a and b, with m packets
recorded in between, exactly ``(b - a) mod loop - 1 - m`` frames are missing: an exact count of
lost frames, across segment boundaries too, that needs no decoding of P-frames.

The timestamp check counts missing frame intervals inside each file (and, for porchlight's
segments, across consecutive segments of one connection, whose stream offset each file records).

Motion latency: porchlight maps every recorded frame to host wall-clock time (segment start + pts),
so the wall time at which the box's first frame of each passage reached the recorder is known;
latency = an event's ``detected_ms`` (when the hub learned of it) - that time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import barcode  # noqa: E402

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class FileScan:
    path: Path
    packets: int
    time_base: Fraction
    pts: list[int]  # decode order (no B-frames: also presentation order)
    keys: dict[int, int | None]  # packet index -> barcode of that keyframe (None: unreadable)
    meta: dict | None  # porchlight's segment metadata (comment tag)
    error: str | None = None

    @property
    def seconds(self) -> list[float]:
        return [float(p * self.time_base) for p in self.pts]


def scan_file(path: Path) -> FileScan:
    """Demux every video packet; decode keyframes only and read their barcode."""
    pts: list[int] = []
    keys: dict[int, int | None] = {}
    meta = None
    tb = Fraction(1, 90000)
    err = None
    try:
        with av.open(str(path)) as c:
            comment = c.metadata.get("comment")
            if comment:
                try:
                    meta = json.loads(comment)
                except ValueError:
                    meta = None
            st = c.streams.video[0]
            tb = st.time_base
            cc = av.CodecContext.create(st.codec_context.name, "r")
            if st.codec_context.extradata:
                cc.extradata = st.codec_context.extradata
            cc.options = {"skip_loop_filter": "all"}
            for pkt in c.demux(st):
                if pkt.size == 0:
                    continue
                ts = pkt.pts if pkt.pts is not None else pkt.dts
                if ts is None:
                    continue
                i = len(pts)
                pts.append(ts)
                if pkt.is_keyframe:
                    keys[i] = None
                    try:
                        for fr in cc.decode(pkt):
                            p = fr.planes[0]
                            y = np.frombuffer(p, np.uint8).reshape(fr.height, p.line_size)[:, : fr.width]
                            keys[i] = barcode.read(y)
                    except av.error.FFmpegError:
                        pass
    except Exception as exc:  # noqa: BLE001 - a damaged file is a finding, not a crash
        err = f"{type(exc).__name__}: {exc}"
    return FileScan(path, len(pts), tb, pts, keys, meta, err)


@dataclasses.dataclass
class LossReport:
    files: int = 0
    frames: int = 0
    barcode_lost: int = 0  # exact: frames missing between keyframes with known numbers
    barcode_dup: int = 0  # frames recorded twice (overlap)
    ts_gap_frames: int = 0  # missing frame intervals found in timestamps
    boundaries_unchecked: int = 0  # file boundaries with no readable keyframe on one side
    ts_rewritten: int = 0  # files whose frame interval is not the source's (the recorder made its own)
    errors: list[str] = dataclasses.field(default_factory=list)
    gaps: list[str] = dataclasses.field(default_factory=list)  # where frames went missing
    seconds: float = 0.0

    def add(self, other: LossReport) -> None:
        for f in (
            "files",
            "frames",
            "barcode_lost",
            "barcode_dup",
            "ts_gap_frames",
            "boundaries_unchecked",
            "ts_rewritten",
            "seconds",
        ):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.errors += other.errors
        self.gaps += other.gaps


def _ts_gaps(values: list[float], interval_s: float) -> int:
    gaps = 0
    for a, b in zip(values, values[1:], strict=False):
        d = b - a
        if d > 1.5 * interval_s:
            gaps += round(d / interval_s) - 1
    return gaps


def losses(scans: list[FileScan], fps: float, loop_frames: int, *, continuous: bool) -> LossReport:
    """Lost frames of one camera's recordings (files in recording order).

    ``continuous``: the files follow each other (segments), so boundaries are checked too;
    otherwise (event clips) each file is checked on its own.
    """
    rep = LossReport()
    prev: tuple[int, int] | None = None  # (barcode, global packet index) of the last keyframe read
    count = 0
    last_abs: float | None = None  # porchlight: stream seconds of the previous file's last packet
    last_offset: float | None = None
    interval_s = 1 / fps
    for scan in scans:
        rep.files += 1
        if scan.error:
            rep.errors.append(f"{scan.path.name}: {scan.error}")
        rep.frames += scan.packets
        if not scan.pts:
            continue
        secs = scan.seconds
        rep.seconds += secs[-1] - secs[0] + interval_s
        rep.ts_gap_frames += _ts_gaps(secs, interval_s)
        deltas = [b - a for a, b in zip(secs, secs[1:], strict=False)]
        if len(deltas) > 10 and abs(statistics.median(deltas) - interval_s) > 0.02 * interval_s:
            rep.ts_rewritten += 1
        if continuous and scan.meta and "stream_offset" in scan.meta:
            mtb = Fraction(scan.meta.get("time_base", "1/90000"))
            offset = float(scan.meta["stream_offset"] * mtb)
            # a file's first packet is at its stream offset; a smaller offset means a new connection
            if last_abs is not None and last_offset is not None and offset > last_offset:
                rep.ts_gap_frames += _ts_gaps([last_abs, offset], interval_s)
            last_abs = offset + (secs[-1] - secs[0])
            last_offset = offset
        if not continuous:
            prev = None
        first_key_seen = False
        for i in range(scan.packets):
            if i in scan.keys:
                b = scan.keys[i]
                if b is None:
                    continue
                g = count + i
                if prev is not None:
                    span = (b - prev[0]) % loop_frames
                    between = g - prev[1] - 1
                    missing = span - 1 - between
                    if missing > 0:
                        rep.barcode_lost += missing
                        rep.gaps.append(
                            f"{scan.path.name}: frame {prev[0]} -> {b} with {between} packets "
                            f"between: {missing} missing"
                        )
                    elif missing < 0:
                        rep.barcode_dup += -missing
                elif continuous and not first_key_seen and count > 0:
                    rep.boundaries_unchecked += 1
                prev = (b, g)
                first_key_seen = True
        count += scan.packets
    return rep


# -- motion latency ----------------------------------------------------------------------------------
def porchlight_onsets(
    scans: list[FileScan], fps: float, onset_frames: set[int], loop_frames: int
) -> list[float]:
    """Wall-clock ms at which each box passage's first frame reached porchlight (its segments)."""
    out = []
    for scan in scans:
        if not scan.meta or "start_ms" not in scan.meta or not scan.pts:
            continue
        start_ms = scan.meta["start_ms"]
        secs = scan.seconds
        key_idx = sorted(i for i, b in scan.keys.items() if b is not None)
        for k_n, k in enumerate(key_idx):
            end = key_idx[k_n + 1] if k_n + 1 < len(key_idx) else scan.packets
            b0 = scan.keys[k]
            for i in range(k, end):
                n = (b0 + round((secs[i] - secs[k]) * fps)) % loop_frames
                if n in onset_frames:
                    out.append(start_ms + (secs[i] - secs[0]) * 1000.0)
    return sorted(set(round(x) for x in out))


@dataclasses.dataclass
class LatencyReport:
    passages: int = 0  # box passages seen (onsets with at least 8 s of recording after them)
    detected: int = 0  # passages with an event
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    start_offsets_ms: list[float] = dataclasses.field(default_factory=list)  # event start - onset
    other_events: int = 0  # events not explained by a box passage

    def add(self, o: LatencyReport) -> None:
        self.passages += o.passages
        self.detected += o.detected
        self.latencies_ms += o.latencies_ms
        self.start_offsets_ms += o.start_offsets_ms
        self.other_events += o.other_events

    def summary(self) -> str:
        if not self.latencies_ms:
            return f"n/a ({self.detected}/{self.passages} passages)"
        lat = sorted(self.latencies_ms)
        return (
            f"median {statistics.median(lat) / 1000:.2f} s, max {lat[-1] / 1000:.2f} s "
            f"({self.detected}/{self.passages} passages)"
        )


def match_events(
    onsets: list[float], events: list[tuple[float, float]], *, passage_ms: float, window: tuple[float, float]
) -> LatencyReport:
    """Pair events (start_ms, detected_ms) with box onsets (wall ms).

    An event belongs to the latest onset at most 1 s after its start and at most ``passage_ms``
    before it. Only onsets inside ``window`` (the detector was running, and ``passage_ms`` of
    recording follows) count as passages.
    """
    rep = LatencyReport()
    used: set[float] = set()
    for start, detected in sorted(events):
        cands = [o for o in onsets if start - passage_ms <= o <= start + 1000]
        if not cands:
            if window[0] <= start <= window[1] + passage_ms:
                rep.other_events += 1
            continue
        o = max(cands)
        if o in used:
            continue  # a second event in the same passage (split by a gap): not a new detection
        used.add(o)
        if window[0] <= o <= window[1]:
            rep.latencies_ms.append(detected - o)
            rep.start_offsets_ms.append(start - o)
    counted = [o for o in onsets if window[0] <= o <= window[1]]
    rep.passages = len(counted)
    rep.detected = sum(1 for o in counted if o in used)
    return rep
