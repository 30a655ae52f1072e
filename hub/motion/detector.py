"""Local motion detector: small grayscale frames in, one :class:`MotionResult` per frame out.

Pure logic (no threads, no I/O, no decoding). The caller decodes the detect stream, picks frames at
``analysis_fps``, shrinks their Y plane with :func:`shrink_luma` and calls
:meth:`MotionDetector.analyze` with the frame's wall-clock time in ms. Per frame, at analysis size:

1. Box blur 5x5: divides independent pixel noise by 5, removes compression speckle (a Gaussian 5x5
   does less for twice the time).
2. Global lighting model, on a grid of ~1600 samples of frame and float running-average background.
   When most samples are off by more than the noise (a global change, or a huge object), a
   ``frame = a * background + b`` model is fitted by trimmed least squares. It is a *lighting change*
   when plausible (``0.1 <= a <= 8``), explaining >= 50% of the samples within 4 sigma and 10 points
   more than the identity: a real object filling most of the frame replaces texture, which no
   gain/offset reproduces, so it stays motion. The prediction is clipped to 0..255 (blown highlights
   are explained); where the old background was clipped nothing is predicted, so nothing is hot
   there. A fit that only halves the residual (a drift the background lags behind) is applied quietly.
3. Hot pixels: ``|blurred - prediction| > max(floor(s), k(s) * sigma(luma))``, ``sigma`` being the
   temporal noise of 8 luma bands (dark and bright parts of a sensor differ); ``k`` and ``floor`` fall
   as the sensitivity ``s`` (1..100) rises.
4. Opening 3x3 (lone noise pixels go), zones/masks applied, dilation 5x5 joins an object's fragments
   into one blob; a blob counts when its moving pixels (hot, opened, counted) reach ``min_area``.
5. State updates never depend on the sensitivity, so a higher one never detects less. Band sigmas
   follow the std dev of the grid residual around the band mean (the mean is lag, not noise;
   outliers beyond 4 sigma left out) with a 2 s time constant. The background follows the frame
   with ``alpha = 1 - exp(-dt / tau)`` from the ``ts_ms`` deltas, so the analysis rate does not change
   behaviour. After a lighting change it is re-mapped through the model at once and the pixels the
   model cannot explain (local light, shadows) are copied from the frame: at most one frame of
   residual motion, which ``min_frames`` absorbs. Light changing only part of the frame (a porch
   lamp lighting half the scene) is motion until the background absorbs it (a few seconds).

``score`` = moving pixels of the counted blobs / all pixels of the analysis frame (0..1; zones and masks
do not shrink the denominator). ``noise`` = estimated std dev, in luma levels, of ``blurred frame -
background`` for a static pixel, averaged over the frame.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import cv2
import numpy as np

from hub.core.model import MotionSettings
from hub.motion.zones import RegionMaps, build_region_maps

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x, y, w, h, normalized to the frame (0..1)

_KERNEL = np.ones((3, 3), np.uint8)
_JOIN_ITERATIONS = 2  # 3x3 dilations: blobs closer than ~4 px are one object
_GRID_POINTS = 1600  # samples for the lighting model and the noise estimate
_MIN_FIT_POINTS = 32
_BANDS = 8  # noise bands over the luma range
_BAND_SHIFT = 5  # luma >> 5 -> band 0..7
_BAND_CENTRES = np.arange(_BANDS, dtype=np.float64) * (256 // _BANDS) + (256 // _BANDS) / 2
_LEVELS = np.arange(256, dtype=np.float64)
_MIN_BAND_POINTS = 8
_SIGMA_MIN = 0.5
_REF_K, _REF_FLOOR = 4.0, 6.0  # sensitivity-independent "clearly not noise" for state updates
_TRIGGER = 2.0 * 0.6745  # most points off by more than this many sigma (twice the median of
# |N(0, 1)|): the change is global, try a lighting model
_GAIN_MIN, _GAIN_MAX = 0.1, 8.0
_MIN_EXPLAINED, _EXPLAIN_MARGIN = 0.5, 0.1
_MAX_BOXES = 16
_NOISE_PERIOD_MS = 350.0  # noise moves slowly: every second frame at 5 fps is enough
_WARMUP_FRAMES = 10  # ... except right after a (re)start


@dataclasses.dataclass(frozen=True)
class MotionResult:
    """The verdict on one analysed frame."""

    moving: bool
    score: float  # moving pixels of counted blobs / all pixels of the frame
    boxes: tuple[Box, ...] = ()  # counted blobs (moving pixels' bounds), largest first
    zones: tuple[str, ...] = ()  # names of zones a counted blob touches, in settings order
    lighting_change: bool = False  # a global gain/offset change was detected and compensated
    noise: float = 0.0  # estimated temporal noise (std dev, luma levels) of frame - background


def threshold_curve(sensitivity: float) -> tuple[float, float]:
    """Sensitivity 1..100 -> (k, floor): a pixel is hot when its difference > max(floor, k * sigma)."""
    u = (min(max(float(sensitivity), 1.0), 100.0) - 1.0) / 99.0
    return 6.0 - 2.5 * u, 6.0 + 34.0 * (1.0 - u) ** 1.5


def shrink_luma(
    plane: np.ndarray | memoryview | bytes, width: int, height: int, line_size: int, target_width: int
) -> np.ndarray:
    """Decoder Y plane (rows ``line_size`` bytes apart) -> uint8 grayscale ``target_width`` wide."""
    if min(width, height, target_width) <= 0 or line_size < width:
        raise ValueError(f"bad plane geometry {width}x{height} stride {line_size} -> {target_width}")
    arr = plane if isinstance(plane, np.ndarray) else np.frombuffer(plane, dtype=np.uint8)
    if arr.dtype != np.uint8:
        raise ValueError(f"luma plane must be uint8, not {arr.dtype}")
    if arr.ndim == 2 and arr.shape[0] >= height and arr.shape[1] >= width:
        luma = arr[:height, :width]
    else:
        flat = np.ascontiguousarray(arr).reshape(-1)
        if flat.size < (height - 1) * line_size + width:
            raise ValueError(f"luma plane too small: {flat.size} bytes for {width}x{height}/{line_size}")
        luma = np.lib.stride_tricks.as_strided(flat, (height, width), (line_size, 1), writeable=False)
    target_height = max(1, round(height * target_width / width))
    if (target_width, target_height) == (width, height):
        return np.array(luma, dtype=np.uint8, order="C")
    # OpenCV's INTER_AREA is fast for exact halving and slow for other factors (0.6 ms for 1080p ->
    # 320 direct, 8 ms for 2688x1520): halve first (dropping an odd last row/column), finish once.
    while width // 2 >= target_width and height // 2 >= target_height:
        width, height = width // 2, height // 2
        luma = cv2.resize(luma[: 2 * height, : 2 * width], (width, height), interpolation=cv2.INTER_AREA)
    if (width, height) == (target_width, target_height):
        return luma
    return cv2.resize(luma, (target_width, target_height), interpolation=cv2.INTER_AREA)


def _fit_gain_offset(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Trimmed least squares of ``y = a * x + b`` on unclipped points (best half kept, 3 rounds)."""
    ok = (x > 3) & (x < 252) & (y > 3) & (y < 252)
    x, y = x[ok].astype(np.float64), y[ok].astype(np.float64)
    if x.size < _MIN_FIT_POINTS:
        return None
    a, b = 1.0, float(np.median(y - x))
    half = x.size // 2
    for _ in range(3):
        res = np.abs(y - (a * x + b))
        sel = res <= np.partition(res, half)[half]
        xs, ys = x[sel], y[sel]
        n, sx, sy = xs.size, float(xs.sum()), float(ys.sum())
        var = n * float(xs @ xs) - sx * sx
        a = (n * float(xs @ ys) - sx * sy) / var if var > 1e-3 * n * n else 1.0
        b = (sy - a * sx) / n
    return a, b


class MotionDetector:
    """Running-average background subtraction with noise-adaptive thresholds and lighting rejection."""

    def __init__(
        self,
        settings: MotionSettings,
        *,
        background_tau_s: float = 4.0,
        noise_tau_s: float = 2.0,
        stale_after_s: float = 10.0,
    ) -> None:
        self._stale_after_ms = 1000.0 * stale_after_s
        self._bg_tau_ms = 1000.0 * max(background_tau_s, 1e-3)
        self._noise_tau_ms = 1000.0 * max(noise_tau_s, 1e-3)
        self._size: tuple[int, int] | None = None
        self._regions: RegionMaps | None = None
        self._grid = np.zeros(0, np.intp)
        self._min_px = 1
        self.configure(settings)
        self.reset()

    def configure(self, settings: MotionSettings) -> None:
        """Use new settings from the next frame on, keeping the background and noise learnt so far
        (the camera still sees the same scene): a new sensitivity, area or zone applies at once. A
        new ``analysis_width`` changes the frame size, which starts the background again."""
        self.settings = settings
        fps = settings.analysis_fps if settings.analysis_fps > 0 else 5.0
        self._nominal_ms = 1000.0 / fps
        self._stale_ms = max(self._stale_after_ms, 3.0 * self._nominal_ms)
        self._k, self._floor = threshold_curve(settings.sensitivity)
        self._min_area = min(max(float(settings.min_area), 0.0), 1.0)
        if self._size is not None:
            self._layout(*self._size)

    @property
    def noise(self) -> float:
        """Current noise estimate (std dev, luma levels) averaged over the frame; 0 when unknown."""
        return self._noise_level

    def reset(self) -> None:
        """Forget the background and noise estimate (stream reconnected, camera moved)."""
        self._bg: np.ndarray | None = None
        self._sigma: np.ndarray | None = None
        self._sigma_n = np.zeros(_BANDS)  # updates per band since (re)start: early ones weigh more
        self._last_ts = 0
        self._noise_dt = 0.0  # ms since the last noise update
        self._noise_level = 0.0  # sigma averaged over the frame's pixels (bands weighted by area)
        self._seen = 0  # frames folded into the background since it was seeded

    def analyze(self, gray: np.ndarray, ts_ms: int) -> MotionResult:
        """Compare one grayscale analysis frame (uint8, 2-D) taken at ``ts_ms`` with the background."""
        frame = self._check(gray)
        height, width = frame.shape
        if self._size != (width, height):
            self._setup(width, height)
        blurred = cv2.blur(frame, (5, 5))
        bg = self._bg
        if bg is None:
            self._seed(blurred, ts_ms)
            return self._quiet()
        dt_ms = float(ts_ms - self._last_ts)
        if dt_ms > self._stale_ms:
            logger.debug("motion: %.0f ms since the last frame, background re-seeded", dt_ms)
            self._seed(blurred, ts_ms)
            return self._quiet()
        if dt_ms <= 0:  # duplicate or out-of-order time: assume the nominal interval
            dt_ms = self._nominal_ms
        self._last_ts = max(self._last_ts, ts_ms)

        grid = self._grid
        bg8 = cv2.convertScaleAbs(bg)  # bg stays within 0..255: a plain rounding
        gy8, gb8 = blurred.ravel()[grid], bg8.ravel()[grid]
        signed = gy8.astype(np.int16) - gb8
        bands = gb8 >> _BAND_SHIFT
        if self._sigma is None:
            boot = float(np.median(np.abs(signed))) / 0.6745 if grid.size else 2.0
            self._sigma = np.full(_BANDS, max(boot, _SIGMA_MIN))
            self._noise_level = float(self._sigma[0])
        sigma_pt = self._sigma[bands]
        gain, offset, compensate, lighting = 1.0, 0.0, False, False
        off = np.abs(signed) > np.maximum(_TRIGGER * sigma_pt, 2.0)
        clipped = np.count_nonzero((gb8 - np.uint8(4)) >= 248)  # background <= 3 or >= 252: says nothing
        if grid.size >= _MIN_FIT_POINTS and 2 * np.count_nonzero(off) > grid.size - clipped:
            # most informative points are off: a global change (or a huge object)
            gain, offset, compensate, lighting = self._lighting_model(bg.ravel()[grid], gy8, sigma_pt)
        pred = bg8
        if compensate:
            pred = cv2.addWeighted(bg, gain, bg, 0.0, offset, dtype=cv2.CV_8U)
        diff = cv2.absdiff(blurred, pred)
        hot = self._hot_pixels(diff, pred, self._k, self._floor)
        if lighting:  # where the old background was clipped the new brightness is unknowable
            cv2.bitwise_and(hot, cv2.inRange(bg8, 4, 251), dst=hot)
        score: float = 0.0
        boxes: tuple[Box, ...] = ()
        zones: tuple[str, ...] = ()
        if cv2.countNonZero(hot):
            moving_px = cv2.morphologyEx(hot, cv2.MORPH_OPEN, _KERNEL)
            if self._regions is not None and self._regions.counted is not None:
                cv2.bitwise_and(moving_px, self._regions.counted, dst=moving_px)
            if cv2.countNonZero(moving_px):
                score, boxes, zones = self._blobs(moving_px)
        if compensate:
            self._relight_background(blurred, diff, pred, gain, offset, lighting)
            signed = gy8.astype(np.int16) - pred.ravel()[grid]
        self._noise_dt += dt_ms
        if not lighting and (self._noise_dt >= _NOISE_PERIOD_MS or self._seen < _WARMUP_FRAMES):
            self._update_noise(signed, bands, sigma_pt, self._noise_dt)
            self._noise_dt = 0.0
        alpha = max(1.0 - math.exp(-dt_ms / self._bg_tau_ms), 1.0 / (self._seen + 1))
        cv2.accumulateWeighted(blurred, bg, alpha)
        self._seen += 1
        return MotionResult(bool(boxes), score, boxes, zones, lighting, self._noise_level)

    # -- internals -------------------------------------------------------------------------------

    @staticmethod
    def _check(gray: np.ndarray) -> np.ndarray:
        if not isinstance(gray, np.ndarray) or gray.ndim != 2 or gray.dtype != np.uint8 or gray.size == 0:
            raise ValueError("analyze() needs a non-empty 2-D uint8 grayscale array")
        if gray.strides[1] == 1 and gray.strides[0] >= gray.shape[1]:
            return gray  # rows may be padded (a view into a bigger buffer): OpenCV takes the stride
        return np.ascontiguousarray(gray)

    def _setup(self, width: int, height: int) -> None:
        if self._size is not None:
            logger.info("motion: frame size changed to %dx%d, background reset", width, height)
        self._size = (width, height)
        self.reset()
        self._layout(width, height)

    def _layout(self, width: int, height: int) -> None:
        """What the settings make of this frame size: the zone rasters, the noise-sampling grid and
        the smallest blob in pixels."""
        self._min_px = max(1, math.ceil(self._min_area * width * height - 1e-9))
        self._regions = build_region_maps(self.settings.zones, width, height)
        stride = max(1, int(math.sqrt(width * height / _GRID_POINTS)))
        rows = np.arange(stride // 2, height, stride)
        cols = np.arange(stride // 2, width, stride)
        grid = (rows[:, None] * width + cols[None, :]).ravel().astype(np.intp)
        if self._regions.ignored is not None:  # masked areas (trees, clocks) say nothing about noise
            grid = grid[self._regions.ignored.ravel()[grid] == 0]
        self._grid = grid

    def _seed(self, blurred: np.ndarray, ts_ms: int) -> None:
        self._bg = blurred.astype(np.float32)
        self._last_ts = ts_ms
        self._seen = 1

    def _quiet(self) -> MotionResult:
        return MotionResult(False, 0.0, (), (), False, self.noise)

    def _lighting_model(
        self, gx: np.ndarray, gy: np.ndarray, sigma: np.ndarray
    ) -> tuple[float, float, bool, bool]:
        """(gain, offset, compensate, lighting_change) for a global change of the grid samples.

        ``compensate``: the gain/offset model fits clearly better than the identity (a drift the
        background lags behind, or a lighting change). ``lighting_change``: it also explains at least
        10% more of the frame within the noise, i.e. the change would have shown up as motion.
        """
        identity = 1.0, 0.0, False, False
        informative = (gx > 3) & (gx < 252)  # where the background is clipped, the scale is unknown
        gx, gy, sigma = gx[informative], gy[informative].astype(np.float32), sigma[informative]
        fit = _fit_gain_offset(gx, gy)
        if fit is None or not _GAIN_MIN <= fit[0] <= _GAIN_MAX:
            return identity
        gain, offset = fit
        ref = np.maximum(_REF_K * sigma, _REF_FLOOR)
        res1 = np.abs(gy - np.clip(gain * gx + offset, 0, 255))
        res0 = np.abs(gy - gx)
        explained = np.count_nonzero(res1 <= ref) / gx.size
        explained0 = np.count_nonzero(res0 <= ref) / gx.size
        if explained < _MIN_EXPLAINED or explained < explained0:
            return identity
        if explained >= explained0 + _EXPLAIN_MARGIN:
            logger.debug(
                "motion: lighting change gain %.3f offset %.1f (%.0f%% explained, was %.0f%%)",
                gain,
                offset,
                100 * explained,
                100 * explained0,
            )
            return gain, offset, True, True
        if float(np.median(res1)) <= 0.5 * float(np.median(res0)):
            return gain, offset, True, False
        return identity

    def _hot_pixels(self, diff: np.ndarray, pred: np.ndarray, k: float, floor: float) -> np.ndarray:
        """255 where ``diff > max(floor, k * sigma(luma of pred))``, else 0."""
        assert self._sigma is not None
        if k * float(self._sigma.max()) <= floor:  # the floor rules everywhere: one scalar threshold
            return cv2.threshold(diff, math.floor(min(floor, 255.0)), 255, cv2.THRESH_BINARY)[1]
        return cv2.compare(diff, cv2.LUT(pred, self._threshold_lut(k, floor)), cv2.CMP_GT)

    def _threshold_lut(self, k: float, floor: float) -> np.ndarray:
        assert self._sigma is not None
        sigma = np.interp(_LEVELS, _BAND_CENTRES, self._sigma)
        return np.clip(np.floor(np.maximum(k * sigma, floor)), 0, 255).astype(np.uint8)

    def _blobs(self, moving_px: np.ndarray) -> tuple[float, tuple[Box, ...], tuple[str, ...]]:
        """Group moving pixels into blobs; keep those >= min_area; return (score, boxes, zones)."""
        height, width = moving_px.shape
        joined = cv2.dilate(moving_px, _KERNEL, iterations=_JOIN_ITERATIONS)
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        zone_maps = self._regions.zones if self._regions is not None else ()
        found: list[tuple[int, Box]] = []
        hit: set[str] = set()
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < self._min_px:
                continue
            blob = np.zeros((h, w), np.uint8)
            cv2.drawContours(blob, [contour], -1, 255, thickness=cv2.FILLED, offset=(-x, -y))
            cv2.bitwise_and(blob, moving_px[y : y + h, x : x + w], dst=blob)
            count = cv2.countNonZero(blob)
            if count < self._min_px:
                continue
            bx, by, bw, bh = cv2.boundingRect(blob)
            found.append((count, ((x + bx) / width, (y + by) / height, bw / width, bh / height)))
            for name, raster in zone_maps:
                if name not in hit and cv2.countNonZero(cv2.bitwise_and(blob, raster[y : y + h, x : x + w])):
                    hit.add(name)
        if not found:
            return 0.0, (), ()
        found.sort(key=lambda item: -item[0])
        score = sum(count for count, _ in found) / float(width * height)
        names = tuple(dict.fromkeys(name for name, _ in zone_maps if name in hit))
        return score, tuple(box for _, box in found[:_MAX_BOXES]), names

    def _update_noise(
        self, signed: np.ndarray, bands: np.ndarray, sigma_pt: np.ndarray, dt_ms: float
    ) -> None:
        """Move each band's sigma toward the std dev of its non-outlier grid residuals.

        The std dev is taken around each band's mean residual: a background lagging behind a drift
        shifts the mean, and must not pass for noise (that would raise the thresholds, let the lag
        grow, and so on without end).
        """
        sigma = self._sigma
        if sigma is None or signed.size == 0:
            return
        dev = signed.astype(np.float64)
        key = bands * 2 + (np.abs(dev) <= np.maximum(_REF_K * sigma_pt, _REF_FLOOR))  # odd: inlier
        counts = np.bincount(key, minlength=2 * _BANDS)
        count = counts[1::2]
        ok = count >= _MIN_BAND_POINTS
        if not ok.any():
            return
        n = count[ok]
        mean = np.bincount(key, weights=dev, minlength=2 * _BANDS)[1::2][ok] / n
        meansq = np.bincount(key, weights=dev * dev, minlength=2 * _BANDS)[1::2][ok] / n
        estimate = np.sqrt(np.maximum(meansq - mean * mean, 0.0))
        beta = np.maximum(1.0 - math.exp(-dt_ms / self._noise_tau_ms), 1.0 / (self._sigma_n[ok] + 1.0))
        sigma[ok] += beta * (estimate - sigma[ok])
        np.maximum(sigma, _SIGMA_MIN, out=sigma)
        self._sigma_n[ok] += 1.0
        self._noise_level = float((counts[::2] + count) @ sigma) / signed.size

    def _relight_background(
        self,
        blurred: np.ndarray,
        diff: np.ndarray,
        pred: np.ndarray,
        gain: float,
        offset: float,
        lighting: bool,
    ) -> None:
        """Map the background through the lighting model; on a real change, re-learn what it missed."""
        bg = self._bg
        assert bg is not None
        cv2.addWeighted(bg, gain, bg, 0.0, offset, dst=bg)
        np.clip(bg, 0.0, 255.0, out=bg)
        if lighting:
            # pixels the global model cannot explain (local light, shadows, clipping) come from the frame
            unexplained = self._hot_pixels(diff, pred, _REF_K, _REF_FLOOR)
            np.copyto(bg, blurred, where=unexplained > 0)
            # exposure changes usually change the sensor gain, hence the noise: re-learn it quickly
            np.minimum(self._sigma_n, 1.0, out=self._sigma_n)
