"""Motion detector on synthetic scenes: textured background, temporal noise, lighting, objects, zones."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.model import MotionSettings, Zone
from hub.motion.detector import MotionDetector, MotionResult, shrink_luma, threshold_curve
from hub.motion.tracker import EventStarted, MotionEventTracker
from hub.motion.zones import build_region_maps, rasterize_polygon

W, H = 320, 180
STEP_MS = 200  # 5 fps analysis
T0 = 1_700_000_000_000


def texture(width: int = W, height: int = H, seed: int = 0, lo: float = 30, hi: float = 225) -> np.ndarray:
    """A static scene: coarse shapes plus fine texture, float32 luma in lo..hi."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(
        rng.uniform(0, 1, (height // 15 + 2, width // 15 + 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = cv2.GaussianBlur(rng.uniform(0, 1, (height, width)).astype(np.float32), (0, 0), 1.2)
    img = 0.7 * (coarse - coarse.min()) / (np.ptp(coarse) + 1e-9) + 0.3 * (fine - fine.min()) / (
        np.ptp(fine) + 1e-9
    )
    return (lo + (hi - lo) * img).astype(np.float32)


class Camera:
    """Renders a scene with fresh temporal noise per frame, like a sensor."""

    def __init__(self, sigma: float = 6.0, kind: str = "gauss", seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.sigma, self.kind = sigma, kind

    def shoot(self, scene: np.ndarray) -> np.ndarray:
        if self.kind == "gauss":
            noise = self.rng.standard_normal(scene.shape, dtype=np.float32) * self.sigma
        else:  # uniform with the same standard deviation
            half = self.sigma * 3**0.5
            noise = self.rng.uniform(-half, half, scene.shape).astype(np.float32)
        return np.clip(scene + noise, 0, 255).round().astype(np.uint8)


def with_box(scene: np.ndarray, x: int, y: int, w: int, h: int, value: float | None = None) -> np.ndarray:
    """Scene with a solid box; by default far from the local background (bright on dark, dark on bright)."""
    out = scene.copy()
    if value is None:
        value = 245.0 if float(scene[y : y + h, x : x + w].mean()) < 128 else 10.0
    out[y : y + h, x : x + w] = value
    return out


def feed(det: MotionDetector, camera: Camera, scenes: list[np.ndarray], start: int = 0) -> list[MotionResult]:
    """Analyse one frame per scene, STEP_MS apart, starting at frame index ``start``."""
    return [det.analyze(camera.shoot(s), T0 + (start + i) * STEP_MS) for i, s in enumerate(scenes)]


def warm(det: MotionDetector, camera: Camera, scene: np.ndarray, n: int = 50) -> list[MotionResult]:
    """Let the detector learn a static scene (10 s at 5 fps)."""
    return feed(det, camera, [scene] * n)


# -- noise ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sigma", "kind", "sensitivity"),
    [
        (3.0, "gauss", 60),
        (12.0, "gauss", 60),
        (8.0, "uniform", 60),
        (8.0, "gauss", 100),
        (25.0, "gauss", 100),
    ],
)
def test_static_noisy_scene_never_moves(sigma: float, kind: str, sensitivity: int) -> None:
    det = MotionDetector(MotionSettings(sensitivity=sensitivity))
    camera, scene = Camera(sigma, kind, seed=int(sigma)), texture(seed=2)
    results = feed(det, camera, [scene] * 2000)
    assert not any(r.moving for r in results)
    assert not any(r.lighting_change for r in results)
    # box blur 5x5 divides independent pixel noise by 5
    assert 0.5 * sigma / 5 < results[-1].noise < 2.0 * sigma / 5 + 0.5


def test_signal_dependent_noise_never_moves() -> None:
    """Shot-noise-like: bright areas noisier than dark ones (per-band thresholds)."""
    det = MotionDetector(MotionSettings(sensitivity=100))
    rng = np.random.default_rng(5)
    scene = texture(seed=3, lo=5, hi=250)
    for i in range(1000):
        noisy = scene + rng.standard_normal(scene.shape, dtype=np.float32) * 1.2 * np.sqrt(scene)
        assert not det.analyze(np.clip(noisy, 0, 255).astype(np.uint8), T0 + i * STEP_MS).moving


# -- lighting ------------------------------------------------------------------------------------


LIGHTING = {
    "plus40": lambda s, i: s + 40,
    "minus50": lambda s, i: s - 50,
    "gain1.5": lambda s, i: s * 1.5,  # lights on: highlights blow out
    "gain0.4": lambda s, i: s * 0.4,
    "gamma": lambda s, i: 255 * (s / 255) ** 0.6,
    "exposure_drift": lambda s, i: s * (1 + 0.03 * min(i, 20)),  # +60% over 4 s
    "exposure_drift_down": lambda s, i: s * (1 - 0.02 * min(i, 30)),  # -60% over 6 s
}


@pytest.mark.parametrize("change", sorted(LIGHTING))
def test_lighting_change_is_not_motion_and_small_object_still_detected(change: str) -> None:
    settings = MotionSettings()
    det, tracker = MotionDetector(settings), MotionEventTracker(settings)
    camera, scene = Camera(6.0, seed=3), texture(seed=4)
    lit = [LIGHTING[change](scene, i) for i in range(40)]
    results = warm(det, camera, scene) + feed(det, camera, lit, start=50)
    assert not any(r.moving for r in results)
    if not change.startswith("exposure"):
        assert results[50].lighting_change  # the step frame itself
    actions = [a for i, r in enumerate(results) for a in tracker.update(T0 + i * STEP_MS, r)]
    assert actions == []
    # afterwards, a small object is still seen in the first frame it is visible (or the next)
    final = lit[-1]
    box = with_box(final, 150, 80, 20, 20)
    after = feed(det, camera, [box] * 3, start=90)
    assert after[0].moving or after[1].moving
    assert all(r.moving for r in after[1:])


def test_slow_drift_does_not_pass_for_noise() -> None:
    """A background lagging behind a slow drift must not inflate the noise (and blunt detection)."""
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(4.0, seed=19), texture(seed=19)
    before = warm(det, camera, scene)[-1].noise
    drift = [scene * (1 + 0.002 * i) for i in range(300)]  # +60% over a minute
    results = feed(det, camera, drift, start=50)
    assert not any(r.moving for r in results)
    assert max(r.noise for r in results) < 1.5 * before


def test_object_appearing_with_the_light_switch_is_still_seen() -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(6.0, seed=4), texture(seed=5)
    warm(det, camera, scene)
    results = feed(det, camera, [with_box(scene * 1.4, 100, 60, 24, 24)], start=50)
    assert results[0].lighting_change and results[0].moving


def test_local_darkening_of_most_of_the_frame_is_one_frame_at_most() -> None:
    """A shadow/light change over 70% of the frame: explained as lighting, no lasting motion."""
    settings = MotionSettings()
    det, tracker = MotionDetector(settings), MotionEventTracker(settings)
    camera, scene = Camera(5.0, seed=6), texture(seed=6)
    shaded = scene.copy()
    shaded[:, : int(0.7 * W)] *= 0.6
    results = warm(det, camera, scene) + feed(det, camera, [shaded] * 20, start=50)
    assert sum(r.moving for r in results) <= 1
    assert not [a for i, r in enumerate(results) for a in tracker.update(T0 + i * STEP_MS, r)]


# -- objects -------------------------------------------------------------------------------------


def test_small_object_detected_in_the_frame_it_appears() -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(6.0, seed=7), texture(seed=7)
    warm(det, camera, scene)
    quiet = feed(det, camera, [scene] * 5, start=50)
    moving = feed(det, camera, [with_box(scene, 40 + 6 * i, 90, 20, 20) for i in range(30)], start=55)
    assert not any(r.moving for r in quiet)
    assert moving[0].moving
    assert all(r.moving for r in moving)
    x, y, w, h = moving[0].boxes[0]
    assert abs(x * W - 40) <= 4 and abs(y * H - 90) <= 4 and abs(w * W - 20) <= 6 and abs(h * H - 20) <= 6
    assert 300 / (W * H) < moving[0].score < 700 / (W * H)


@pytest.mark.parametrize("kind", ["flat", "texture", "bright"])
def test_object_filling_most_of_the_frame_is_motion(kind: str) -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(6.0, seed=8), texture(seed=8)
    big = scene.copy()
    cols = int(0.7 * W)
    if kind == "flat":
        big[:, :cols] = 120
    elif kind == "texture":
        big[:, :cols] = texture(cols, H, seed=99)
    else:
        big[:, :cols] = np.clip(texture(cols, H, seed=98) + 60, 0, 255)
    warm(det, camera, scene)
    results = feed(det, camera, [big] * 5, start=50)
    assert results[0].moving and results[0].score > 0.4
    assert not results[0].lighting_change
    assert all(r.moving for r in results)


def test_stationary_object_is_absorbed_within_seconds_whatever_the_rate() -> None:
    """The background rate is per second: 5 fps and 10 fps forget a parked object at the same time."""
    stop_s = []
    for step in (200, 100):
        det = MotionDetector(MotionSettings(analysis_fps=1000 / step))
        camera, scene = Camera(5.0, seed=9), texture(seed=9)
        parked = with_box(scene, 120, 60, 40, 30)
        ts, last_moving = T0, None
        for _ in range(10_000 // step):
            det.analyze(camera.shoot(scene), ts)
            ts += step
        start = ts
        for _ in range(30_000 // step):
            if det.analyze(camera.shoot(parked), ts).moving:
                last_moving = ts
            ts += step
        assert last_moving is not None
        stop_s.append((last_moving - start) / 1000)
    assert 2 < stop_s[0] < 20
    assert abs(stop_s[0] - stop_s[1]) < 1.0


# -- zones, masks, min_area, sensitivity ---------------------------------------------------------

LEFT = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
RIGHT = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))


def _object_result(settings: MotionSettings, x: int, y: int = 80, size: int = 24) -> MotionResult:
    det = MotionDetector(settings)
    camera, scene = Camera(5.0, seed=10), texture(seed=10)
    warm(det, camera, scene, n=20)
    return feed(det, camera, [with_box(scene, x, y, size, size)], start=20)[0]


def test_zone_counts_only_motion_inside() -> None:
    zoned = MotionSettings(zones=(Zone("porch", LEFT),))
    inside, outside = _object_result(zoned, 40), _object_result(zoned, 240)
    assert inside.moving and inside.zones == ("porch",)
    assert not outside.moving and outside.score == 0.0


def test_zones_hit_are_named_in_settings_order() -> None:
    two = MotionSettings(zones=(Zone("right", RIGHT), Zone("left", LEFT)))
    across = _object_result(two, 150, size=30)  # straddles x = 160
    assert across.moving and across.zones == ("right", "left")
    assert _object_result(two, 40).zones == ("left",)


def test_mask_ignores_motion_inside() -> None:
    masked = MotionSettings(zones=(Zone("tree", RIGHT, kind="mask"),))
    assert not _object_result(masked, 240).moving
    left = _object_result(masked, 40)
    assert left.moving and left.zones == ()


def test_mask_carved_out_of_a_zone() -> None:
    settings = MotionSettings(
        zones=(Zone("yard", ((0, 0), (1, 0), (1, 1), (0, 1))), Zone("street", RIGHT, kind="mask"))
    )
    assert not _object_result(settings, 240).moving
    assert _object_result(settings, 40).zones == ("yard",)


def test_new_zones_and_settings_apply_at_the_next_frame_and_keep_the_background() -> None:
    """A live change (the owner draws a mask while the camera records): the next frame is judged by
    the new zones, and the background learnt so far is kept, so detection goes on without a
    warm-up. A detector that started again would say nothing for its first frames."""
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(5.0, seed=16), texture(seed=16)
    warm(det, camera, scene, n=20)
    noise = det.noise
    assert feed(det, camera, [with_box(scene, 240, 80, 24, 24)], start=20)[0].moving
    det.configure(MotionSettings(zones=(Zone("street", RIGHT, kind="mask"),)))
    masked = feed(det, camera, [with_box(scene, 240, 80, 24, 24), with_box(scene, 40, 80, 24, 24)], start=21)
    assert not masked[0].moving  # the right half is masked from this frame on
    assert masked[1].moving and masked[1].zones == ()  # the left half still moves: no re-learning
    det.configure(MotionSettings(zones=(Zone("porch", RIGHT),)))
    zoned = feed(det, camera, [with_box(scene, 240, 80, 24, 24)], start=23)[0]
    assert zoned.moving and zoned.zones == ("porch",)
    assert det.noise == pytest.approx(noise, rel=0.5)  # still the learnt estimate, not a new boot
    det.configure(MotionSettings(min_area=0.03))  # a 24x24 box is ~1% of the frame: now too small
    assert not feed(det, camera, [with_box(scene, 240, 80, 24, 24)], start=24)[0].moving


def test_a_new_analysis_width_starts_learning_again() -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(5.0, seed=17), texture(seed=17)
    warm(det, camera, scene, n=10)
    det.configure(MotionSettings(analysis_width=160))
    small = texture(160, 90, seed=17)  # the worker shrinks to the new width: a new frame size
    assert not det.analyze(camera.shoot(with_box(small, 20, 20, 30, 30)), T0 + 10_000).moving


@pytest.mark.parametrize(("w", "h"), [(1, 1), (2, 3), (320, 180), (33, 17)])
def test_polygon_rasterization_covers_pixel_centres(w: int, h: int) -> None:
    full = rasterize_polygon(((0, 0), (1, 0), (1, 1), (0, 1)), w, h)
    assert full.shape == (h, w) and full.min() == 255
    if w >= 4:
        left = rasterize_polygon(LEFT, w, h)
        assert abs(int(np.count_nonzero(left[0])) - w // 2) <= 1


def test_unusable_zone_polygons_cover_nothing(caplog: pytest.LogCaptureFixture) -> None:
    bad = (Zone("nan", ((float("nan"), 0), (1, 0), (1, 1))), Zone("line", ((0, 0), (1, 1))))
    maps = build_region_maps(bad, 64, 36)
    assert maps.counted is not None and not maps.counted.any()
    assert "unusable polygon" in caplog.text
    assert not _object_result(MotionSettings(zones=bad), 100).moving


def test_min_area() -> None:
    # a 24x24 box moves about 600 pixels of a 57600 pixel frame (~1%)
    assert _object_result(MotionSettings(min_area=0.004), 100).moving
    assert not _object_result(MotionSettings(min_area=0.03), 100).moving
    tiny = _object_result(MotionSettings(min_area=0.004), 100, size=8)  # ~100 px
    assert not tiny.moving
    assert _object_result(MotionSettings(min_area=0.0005), 100, size=8).moving


def _faint_scenes() -> tuple[np.ndarray, list[np.ndarray]]:
    scene = texture(seed=11)
    out = []
    for i in range(40):
        s = scene.copy()
        contrast = 4 + (i % 10) * 4  # 4 .. 40 luma
        s[50:90, 20 + 6 * i : 50 + 6 * i] += contrast
        out.append(s)
    return scene, out


def test_sensitivity_is_monotonic() -> None:
    scene, faint = _faint_scenes()
    runs = []
    for sensitivity in (1, 20, 40, 60, 80, 100):
        det = MotionDetector(MotionSettings(sensitivity=sensitivity))
        camera = Camera(6.0, seed=12)  # same noise for every sensitivity
        runs.append(warm(det, camera, scene) + feed(det, camera, faint, start=50))
    for lower, higher in zip(runs, runs[1:], strict=False):
        for a, b in zip(lower, higher, strict=True):
            assert b.moving >= a.moving
            assert b.score >= a.score
    assert sum(r.moving for r in runs[-1]) > sum(r.moving for r in runs[0])


def test_threshold_curve_falls_with_sensitivity() -> None:
    curve = [threshold_curve(s) for s in range(1, 101)]
    assert all(b[0] < a[0] and b[1] < a[1] for a, b in zip(curve, curve[1:], strict=False))
    assert threshold_curve(-5) == threshold_curve(1) and threshold_curve(500) == threshold_curve(100)


# -- timing, reset, input checks -----------------------------------------------------------------


def test_first_frame_and_reset_are_quiet() -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(5.0, seed=13), texture(seed=13)
    assert not det.analyze(camera.shoot(scene), T0).moving
    warm(det, camera, scene)
    det.reset()
    assert not det.analyze(camera.shoot(with_box(scene, 10, 10, 40, 40)), T0 + 20_000).moving


def test_size_change_restarts_learning() -> None:
    det = MotionDetector(MotionSettings())
    camera = Camera(5.0, seed=14)
    warm(det, camera, texture(seed=14), n=10)
    small = texture(160, 90, seed=14)
    assert not det.analyze(camera.shoot(small), T0 + 10_000).moving
    assert not det.analyze(camera.shoot(small), T0 + 10_200).moving


def test_long_gap_reseeds_and_bad_times_are_tolerated() -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(5.0, seed=15), texture(seed=15)
    warm(det, camera, scene)
    moved = with_box(scene, 100, 100, 30, 30)
    assert not det.analyze(camera.shoot(moved), T0 + 3_600_000).moving  # an hour later: re-learn
    for ts in (T0 + 3_600_000, T0 + 3_599_000, T0):  # duplicate, backwards
        assert not det.analyze(camera.shoot(moved), ts).moving
    assert det.analyze(camera.shoot(with_box(moved, 200, 40, 24, 24)), T0 + 3_600_200).moving


def test_rejects_non_grayscale_input() -> None:
    det = MotionDetector(MotionSettings())
    for bad in (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), np.zeros((0, 4), np.uint8)):
        with pytest.raises(ValueError):
            det.analyze(bad, T0)


def test_strided_input_view_is_accepted() -> None:
    det = MotionDetector(MotionSettings())
    camera, scene = Camera(5.0, seed=16), texture(seed=16)
    padded = np.zeros((H, W + 64), np.uint8)
    for i in range(20):
        padded[:, :W] = camera.shoot(scene)
        assert not det.analyze(padded[:, :W], T0 + i * STEP_MS).moving
    padded[:, :W] = camera.shoot(with_box(scene, 60, 60, 24, 24))
    assert det.analyze(padded[:, :W], T0 + 20 * STEP_MS).moving


# -- shrink_luma ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "pad"),
    [(640, 360, 0), (640, 360, 64), (1920, 1080, 0), (1920, 1080, 128), (1280, 720, 0), (641, 361, 31)],
)
def test_shrink_luma_from_padded_planes(width: int, height: int, pad: int) -> None:
    line_size = width + pad
    plane = np.full((height, line_size), 255, np.uint8)  # padding is bright: must never leak in
    plane[:, :width] = np.tile((np.arange(width) * 200 // width).astype(np.uint8), (height, 1))
    expected_h = round(height * 320 / width)
    for buf in (plane.tobytes(), memoryview(plane.tobytes()), plane.reshape(-1), plane):
        out = shrink_luma(buf, width, height, line_size, 320)
        assert out.shape == (expected_h, 320) and out.dtype == np.uint8
        assert out[:, -1].max() <= 201  # no padding mixed into the right edge
        assert np.all(np.diff(out[0].astype(int)) >= 0)  # the horizontal ramp survives


@pytest.mark.parametrize(
    ("width", "height"), [(1920, 1080), (2688, 1520), (641, 361), (704, 576), (3840, 2160)]
)
def test_shrink_luma_matches_a_direct_area_resize(width: int, height: int) -> None:
    rng = np.random.default_rng(width)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 4)
    target_h = round(height * 320 / width)
    direct = cv2.resize(smooth, (320, target_h), interpolation=cv2.INTER_AREA).astype(int)
    ours = shrink_luma(smooth, width, height, width, 320).astype(int)
    assert ours.shape == direct.shape
    assert np.abs(ours - direct).mean() < 1.5 and np.abs(ours - direct).max() <= 16  # rounding per halving


def test_shrink_luma_last_row_without_padding_and_errors() -> None:
    width, height, line_size = 100, 50, 128
    buf = np.arange(line_size * (height - 1) + width, dtype=np.uint8)  # decoders may omit the last pad
    assert shrink_luma(buf, width, height, line_size, 50).shape == (25, 50)
    assert shrink_luma(buf, width, height, line_size, 100).shape == (50, 100)  # same size: a copy
    with pytest.raises(ValueError):
        shrink_luma(buf[:-1], width, height, line_size, 50)
    with pytest.raises(ValueError):
        shrink_luma(buf, width, height, 99, 50)
    with pytest.raises(ValueError):
        shrink_luma(buf, width, height, line_size, 0)


def test_shrink_luma_takes_a_pyav_plane() -> None:
    av = pytest.importorskip("av")
    gray = np.tile(np.arange(0, 250, 250 / 640).astype(np.uint8)[:640], (360, 1))
    frame = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
    plane = frame.planes[0]
    out = shrink_luma(plane, frame.width, frame.height, plane.line_size, 320)
    assert out.shape == (180, 320)
    assert abs(int(out[90, 160]) - int(gray[180, 320])) <= 20  # limited-range luma, roughly the same


# -- properties ----------------------------------------------------------------------------------

frames_st = st.integers(1, 48).flatmap(
    lambda h: st.integers(1, 64).flatmap(
        lambda w: st.lists(
            st.tuples(
                st.integers(-3, 400),  # ms since the previous frame (<= 0: duplicate / backwards)
                st.sampled_from(["noise", "flat", "box", "random"]),
                st.integers(0, 2**31 - 1),
            ),
            min_size=1,
            max_size=25,
        ).map(lambda seq, w=w, h=h: (w, h, seq))
    )
)
zone_st = st.builds(
    Zone,
    name=st.sampled_from(["a", "b", "c"]),
    polygon=st.lists(st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)), min_size=0, max_size=6).map(
        tuple
    ),
    kind=st.sampled_from(["zone", "mask"]),
)
settings_st = st.builds(
    MotionSettings,
    sensitivity=st.integers(-10, 120),
    min_area=st.floats(0.0, 1.0),
    zones=st.lists(zone_st, max_size=3).map(tuple),
)


def _render(w: int, h: int, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "flat":
        return np.full((h, w), seed % 256, np.uint8)
    if kind == "random":
        return rng.integers(0, 256, (h, w), dtype=np.uint8)
    base = np.full((h, w), 100.0) + rng.normal(0, 5, (h, w))
    if kind == "box":
        base[h // 4 : h // 4 + max(1, h // 3), w // 3 : w // 3 + max(1, w // 3)] = 240
    return np.clip(base, 0, 255).astype(np.uint8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=frames_st, motion=settings_st)
def test_detector_never_crashes_and_results_are_sane(frames, motion: MotionSettings) -> None:
    w, h, seq = frames
    det = MotionDetector(motion)
    names = {z.name for z in motion.zones if z.kind == "zone"}
    ts = T0
    for dt, kind, seed in seq:
        ts += dt
        r = det.analyze(_render(w, h, kind, seed), ts)
        assert isinstance(r.moving, bool) and 0.0 <= r.score <= 1.0
        assert r.moving == bool(r.boxes) == (r.score > 0)
        assert all(0 <= v <= 1 for box in r.boxes for v in box)
        assert set(r.zones) <= names
        assert np.isfinite(r.noise) and r.noise >= 0


@settings(max_examples=40, deadline=None)
@given(frames=frames_st, low=st.integers(1, 100), high=st.integers(1, 100))
def test_higher_sensitivity_never_detects_less(frames, low: int, high: int) -> None:
    w, h, seq = frames
    low, high = min(low, high), max(low, high)
    a, b = MotionDetector(MotionSettings(sensitivity=low)), MotionDetector(MotionSettings(sensitivity=high))
    ts = T0
    for dt, kind, seed in seq:
        ts += dt
        img = _render(w, h, kind, seed)
        ra, rb = a.analyze(img, ts), b.analyze(img, ts)
        assert rb.moving >= ra.moving and rb.score >= ra.score


def test_memory_stays_bounded() -> None:
    det = MotionDetector(MotionSettings(zones=(Zone("z", LEFT), Zone("m", RIGHT, kind="mask"))))
    rng = np.random.default_rng(17)
    sizes = [(320, 180), (17, 5), (320, 180), (1, 1), (64, 48)]

    def burst(n: int) -> None:
        for i in range(n):
            w, h = sizes[(i // 50) % len(sizes)]
            det.analyze(rng.integers(0, 256, (h, w), dtype=np.uint8), T0 + i * STEP_MS)

    burst(500)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    burst(2000)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 512 * 1024


def test_tracker_sees_one_event_for_one_passage() -> None:
    settings = MotionSettings()
    det, tracker = MotionDetector(settings), MotionEventTracker(settings)
    camera, scene = Camera(6.0, seed=18), texture(seed=18)
    scenes = [scene] * 50 + [with_box(scene, 10 + 8 * i, 100, 20, 20) for i in range(35)] + [scene] * 60
    actions = []
    for i, s in enumerate(scenes):
        actions += tracker.update(T0 + i * STEP_MS, det.analyze(camera.shoot(s), T0 + i * STEP_MS), frame=i)
    actions += tracker.close(T0 + len(scenes) * STEP_MS)
    assert [type(a).__name__ for a in actions] == ["EventStarted", "EventEnded"]
    start = actions[0]
    assert isinstance(start, EventStarted) and start.start_ms == T0 + 50 * STEP_MS
