"""Rasterize motion zones and masks (normalized polygons) for one analysis frame size.

A pixel belongs to a polygon when its centre lies inside it (edges included), so a polygon covering
``(0, 0)..(1, 1)`` covers every pixel at any size. The result is computed once per frame size and
cached by the detector; nothing here depends on frame contents.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable

import cv2
import numpy as np

from hub.core.model import Zone

logger = logging.getLogger(__name__)

_SHIFT = 4  # fixed-point bits for cv2.fillPoly: 1/16 pixel precision


@dataclasses.dataclass(frozen=True, eq=False)
class RegionMaps:
    """Zone and mask rasters for one frame size (uint8 arrays, 255 inside, 0 outside)."""

    width: int
    height: int
    counted: np.ndarray | None  # where motion counts; None: everywhere
    ignored: np.ndarray | None  # union of masks; None: no mask
    zones: tuple[tuple[str, np.ndarray], ...]  # (name, raster) per named zone, in settings order


def _polygon_points(polygon: Iterable[tuple[float, float]], width: int, height: int) -> np.ndarray | None:
    """Normalized vertices -> fixed-point pixel-centre coordinates for fillPoly; None when unusable."""
    pts: list[tuple[int, int]] = []
    for vertex in polygon:
        try:
            x, y = float(vertex[0]), float(vertex[1])
        except (TypeError, ValueError, IndexError):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        # clamp far-away vertices so fixed-point coordinates cannot overflow; the frame clips the rest
        x = min(max(x, -1.0), 2.0)
        y = min(max(y, -1.0), 2.0)
        pts.append((round((x * width - 0.5) * (1 << _SHIFT)), round((y * height - 0.5) * (1 << _SHIFT))))
    if len(pts) < 3:
        return None
    return np.array(pts, dtype=np.int32).reshape(-1, 1, 2)


def _fill(pts: np.ndarray | None, width: int, height: int) -> np.ndarray:
    raster = np.zeros((height, width), dtype=np.uint8)
    if pts is not None:
        cv2.fillPoly(raster, [pts], 255, lineType=cv2.LINE_8, shift=_SHIFT)
    return raster


def rasterize_polygon(polygon: Iterable[tuple[float, float]], width: int, height: int) -> np.ndarray:
    """Fill one normalized polygon into a ``height`` x ``width`` uint8 raster (255 inside)."""
    return _fill(_polygon_points(polygon, width, height), width, height)


def build_region_maps(zones: Iterable[Zone], width: int, height: int) -> RegionMaps:
    """Rasterize zones and masks; ``counted`` = (union of zones, or all) minus union of masks."""
    named: list[tuple[str, np.ndarray]] = []
    zone_union: np.ndarray | None = None
    mask_union: np.ndarray | None = None
    for zone in zones:
        pts = _polygon_points(zone.polygon, width, height)
        if pts is None:
            logger.warning("motion %s %r has an unusable polygon; it covers nothing", zone.kind, zone.name)
        raster = _fill(pts, width, height)
        if zone.kind == "mask":
            mask_union = raster if mask_union is None else cv2.bitwise_or(mask_union, raster)
        else:
            named.append((zone.name, raster))
            zone_union = raster if zone_union is None else cv2.bitwise_or(zone_union, raster)
    counted: np.ndarray | None
    if zone_union is None and mask_union is None:
        counted = None
    elif mask_union is None:
        counted = zone_union
    else:
        allowed = zone_union if zone_union is not None else np.full((height, width), 255, np.uint8)
        counted = cv2.bitwise_and(allowed, cv2.bitwise_not(mask_union))
    if counted is not None and not counted.any():
        logger.info("motion zones/masks leave no pixel counted at %dx%d", width, height)
    return RegionMaps(width=width, height=height, counted=counted, ignored=mask_union, zones=tuple(named))
