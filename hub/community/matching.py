"""An agency request against what this hub holds, on this machine: the footage its window covers per
camera, its area against the owner's home location, and whether it is overbroad.

Nothing here leaves the machine: the home location is a setting in the index, compared by the
haversine distance (:func:`hub.community.formats.places.distance_m`); it is never sent, looked up or
logged, and the audit log records only whether an area matched. With no home location set, an area
is "not_checked", never assumed to match or not.

Overbroad (formats/README.md, section 2): a window longer than 12 h or a radius larger than 800 m.
Only a footage request can be overbroad: an alert asks for nothing, and a withdrawal asks for less.

A request is *matched* when it is a footage request the owner holds footage for in its window and
its area is not known to be elsewhere; the first time that is found (on import, or when shown) it
is recorded in the audit log (``request.match``), which the transparency report counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from hub.community import audit
from hub.community.formats.places import Place, distance_m
from hub.community.formats.request import Kind, Request
from hub.db.repo_config import read_settings
from hub.db.repo_footage import CameraFootage, footage_in
from hub.db.repo_media import segment_lookback
from hub.db.schema import AgencyRequestRow

__all__ = [
    "OVERBROAD_RADIUS_M",
    "OVERBROAD_WINDOW_MS",
    "AreaCheck",
    "Match",
    "Overbroad",
    "Reference",
    "match",
    "note",
    "overbroad",
    "reference",
]

#: The longest window and the largest radius a request may ask for before it is overbroad.
OVERBROAD_WINDOW_MS = 12 * 3600 * 1000
OVERBROAD_RADIUS_M = 800.0

#: The area against the home location: "inside" (the home is within its radius), "outside",
#: "not_checked" (no home location is set) or "no_area" (the request names none).
AreaCheck = Literal["inside", "outside", "not_checked", "no_area"]
#: Why a request is overbroad: its window is over 12 h, its radius over 800 m.
Overbroad = Literal["window", "radius"]


@dataclass(frozen=True)
class Match:
    """A request against this hub: the area check (with the distance from the home location to the
    area's centre, when both are known), why it is overbroad, and the footage in its window."""

    area: AreaCheck
    distance_m: float | None
    overbroad: tuple[Overbroad, ...]
    footage: tuple[CameraFootage, ...]

    @property
    def covered_ms(self) -> int:
        """The footage in the window, over every camera."""
        return sum(f.covered_ms for f in self.footage)

    @property
    def matched(self) -> bool:
        """Footage in the window, and an area that is not known to be elsewhere."""
        return self.covered_ms > 0 and self.area != "outside"


@dataclass(frozen=True)
class Reference:
    """What requests are matched against, read once for many: the owner's home location (None when
    it is not set) and how long before a window a segment overlapping it may start."""

    home: Place | None
    lookback_ms: int


def reference(session: Session) -> Reference:
    """The home location and the segments' lookback, as ``session`` sees them."""
    settings = read_settings(session)
    home = (
        Place(settings.home_lat, settings.home_lon)
        if settings.home_lat is not None and settings.home_lon is not None
        else None
    )
    return Reference(home, segment_lookback(session))


def overbroad(request: Request) -> tuple[Overbroad, ...]:
    """Why ``request`` is overbroad; empty when it is not."""
    if request.kind != Kind.FOOTAGE_REQUEST:
        return ()
    found: list[Overbroad] = []
    if request.window is not None and request.window.end_ms - request.window.start_ms > OVERBROAD_WINDOW_MS:
        found.append("window")
    if request.area is not None and request.area.radius_m > OVERBROAD_RADIUS_M:
        found.append("radius")
    return tuple(found)


def match(session: Session, request: Request, against: Reference) -> Match:
    """``request`` against this hub's footage and home location (``against``)."""
    where = against.home
    area: AreaCheck
    distance: float | None = None
    if request.area is None:
        area = "no_area"
    elif where is None:
        area = "not_checked"
    else:
        distance = distance_m(where, Place(request.area.lat, request.area.lon))
        area = "inside" if distance <= request.area.radius_m else "outside"
    footage: tuple[CameraFootage, ...] = ()
    if request.kind == Kind.FOOTAGE_REQUEST and request.window is not None:
        window = request.window
        footage = tuple(footage_in(session, window.start_ms, window.end_ms, against.lookback_ms))
    return Match(area, distance, overbroad(request), footage)


def note(session: Session, row: AgencyRequestRow, found: Match, *, now: int) -> None:
    """Record the first time ``row``'s request is found matched (in ``session``'s write transaction)."""
    if row.matched_ms is not None or not found.matched:
        return
    row.matched_ms = now
    session.flush()
    audit.append(
        session,
        "request.match",
        {
            "kid": row.kid,
            "id": row.request_id,
            "cameras": len([f for f in found.footage if f.covered_ms > 0]),
            "footage_s": round(found.covered_ms / 1000, 3),
            "area": found.area,
        },
        time_ms=now,
    )
