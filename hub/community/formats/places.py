"""A place on Earth as the owner gives it, read on this machine: coordinates, a ``geo:`` URI (RFC 5870)
or a map link pasted from a browser; and the great-circle distance between two places.

Nothing here looks anything up: a link is read as text and its host is never contacted, so a short
link (whose coordinates only its server knows) is refused with a way out, and so is an address.
Coordinates are WGS 84 decimal degrees, as GPS, ``geo:`` URIs and web maps give them.

Links read, in this order of preference (the first found wins):

- ``?mlat=…&mlon=…``: an OpenStreetMap marker (the pin, not the view);
- ``!3d…!4d…``: the place a Google Maps link names (its pin);
- ``@lat,lon``: the centre of the view (Google Maps and others);
- ``#map=zoom/lat/lon``: the centre of an OpenStreetMap view;
- ``ll=``, ``q=``, ``query=``, ``center=`` holding ``lat,lon`` (Apple Maps, Google search links).
"""

from __future__ import annotations

import math
import re
import urllib.parse
from dataclasses import dataclass

__all__ = ["EARTH_RADIUS_M", "Place", "PlaceError", "distance_m", "parse_place"]

#: The Earth's mean radius (IUGG), in metres: the haversine's sphere.
EARTH_RADIUS_M = 6_371_008.8
#: The longest text read as a place (a Google Maps link with its data runs to a few hundred characters).
TEXT_MAX = 4096
_NUM = r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})"
_PAIR = re.compile(rf"\s*({_NUM})\s*(?:,|;|\s)\s*({_NUM})\s*")
_GEO = re.compile(rf"geo:({_NUM}),({_NUM})(?:,{_NUM})?((?:;[^;?]*)*)(?:\?(.*))?", re.IGNORECASE | re.DOTALL)
_PIN = re.compile(rf"!3d({_NUM})!4d({_NUM})")
_AT = re.compile(rf"@({_NUM}),({_NUM})(?![0-9.])")
_MAP = re.compile(rf"(?:^|&)map=[0-9]{{1,2}}(?:\.[0-9]+)?/({_NUM})/({_NUM})(?![0-9.])")
_QUERY_KEYS = ("ll", "q", "query", "center")
_SHORT_HOSTS = ("goo.gl", "maps.app.goo.gl", "g.co", "osm.org", "bit.ly", "tinyurl.com", "maps.apple")


class PlaceError(ValueError):
    """Text that is not a place this module reads; ``str()`` says why, to a person."""


@dataclass(frozen=True)
class Place:
    """WGS 84 decimal degrees: ``lat`` in [-90, 90], ``lon`` in [-180, 180]."""

    lat: float
    lon: float

    def __str__(self) -> str:
        return f"{self.lat:.6f}, {self.lon:.6f}"


def parse_place(text: str) -> Place:
    """The place ``text`` gives: ``"39.7817, -89.6501"``, a ``geo:`` URI or a map link (see the
    module's docstring). Raises PlaceError, saying what was wrong."""
    text = text.strip()
    if not text:
        raise PlaceError("no place given: coordinates (like 39.7817, -89.6501), a geo: URI or a map link")
    if len(text) > TEXT_MAX:
        raise PlaceError(f"a place is at most {TEXT_MAX} characters; this is {len(text)}")
    pair = _PAIR.fullmatch(text)
    if pair:
        return _place(pair.group(1), pair.group(2))
    if text[:4].lower() == "geo:":
        return _geo(text)
    if re.match(r"[a-z][a-z0-9+.-]*://", text, re.IGNORECASE) or text.lower().startswith("www."):
        return _link(text)
    raise PlaceError(
        f"{_cut(text)} is not a place: give coordinates in decimal degrees (like 39.7817, -89.6501), "
        "a geo: URI or a map link (an address cannot be looked up: nothing here asks a server)"
    )


def distance_m(a: Place, b: Place) -> float:
    """The great-circle distance from ``a`` to ``b`` in metres (the haversine formula on a sphere of
    the Earth's mean radius: within 0.5% of the ellipsoid's)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _place(lat_text: str, lon_text: str) -> Place:
    lat, lon = float(lat_text), float(lon_text)
    if not -90 <= lat <= 90:
        raise PlaceError(f"the latitude {lat_text} is outside -90 to 90 degrees (is it a longitude?)")
    if not -180 <= lon <= 180:
        raise PlaceError(f"the longitude {lon_text} is outside -180 to 180 degrees")
    return Place(lat + 0.0, lon + 0.0)  # + 0.0: -0.0 reads as 0.0


def _geo(text: str) -> Place:
    match = _GEO.fullmatch(text)
    if not match:
        raise PlaceError(f"{_cut(text)} is not a geo: URI like geo:39.7817,-89.6501")
    params = {
        key.strip().lower(): value.strip().lower()
        for key, _, value in (p.partition("=") for p in match.group(3).split(";")[1:])
    }
    if params.get("crs", "wgs84") != "wgs84":
        raise PlaceError(f"the geo: URI uses the reference system {params['crs']!r}; only wgs84 is read")
    found = _query_pair(match.group(4) or "")  # Android's geo:0,0?q=lat,lon names the place in q
    return found or _place(match.group(1), match.group(2))


def _link(text: str) -> Place:
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError as exc:  # a malformed [IPv6] host
        raise PlaceError(f"{_cut(text)} is not a link that can be read ({exc})") from None
    query = urllib.parse.parse_qs(parts.query)
    path = urllib.parse.unquote(parts.path)
    fragment = urllib.parse.unquote(parts.fragment)
    marker = query.get("mlat", [""])[0], query.get("mlon", [""])[0]
    if all(_is_number(v) for v in marker):
        return _place(*marker)
    for pattern, where in ((_PIN, path), (_AT, path), (_MAP, fragment), (_MAP, parts.query)):
        match = pattern.search(where)
        if match:
            return _place(match.group(1), match.group(2))
    found = _query_pair(parts.query)
    if found:
        return found
    if (
        host in _SHORT_HOSTS
        or any(host.endswith("." + h) for h in _SHORT_HOSTS)
        or parts.path.startswith("/go/")
    ):
        raise PlaceError(
            f"{host} links are short links: only their server knows the place, and nothing here asks it. "
            "Open the link in a browser and paste the full address it shows, or give the coordinates"
        )
    raise PlaceError(
        f"no coordinates in this link ({_cut(text)}): paste a link with the map centred on the place "
        "(it then holds @lat,lon or #map=zoom/lat/lon), or give the coordinates"
    )


def _query_pair(query: str) -> Place | None:
    values = urllib.parse.parse_qs(query)
    for key in _QUERY_KEYS:
        for value in values.get(key, []):
            pair = _PAIR.fullmatch(value.partition("(")[0])  # geo:0,0?q=lat,lon(label)
            if pair:
                return _place(pair.group(1), pair.group(2))
    return None


def _is_number(text: str) -> bool:
    return re.fullmatch(_NUM, text) is not None


def _cut(text: str, limit: int = 80) -> str:
    shown = "".join(c if c.isprintable() else "\ufffd" for c in text)
    return repr(shown if len(shown) <= limit else shown[: limit - 1] + "…")
