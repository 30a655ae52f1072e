"""``porchlight settings show|set|clear``: the owner's settings that are not about storage.

The home location: where the cameras are, to check agency requests' areas on this machine. It is
given as coordinates (``--lat``/``--lon``), a ``geo:`` URI or a pasted map link, read here as text:
nothing is looked up and no map is fetched. It is stored in the index, never sent and not logged.
Holds: whether requests under review keep their footage from retention (``holds on|off``), and the
most footage they may keep (``hold-cap PERCENT`` of the quota, or of the disk without one). Storage
settings are ``porchlight storage set``.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import CliError, applied, command, hub_api, print_json
from hub.api.types import Settings, SettingsChange
from hub.api.util import Place, PlaceError, parse_place

_KEPT = "It stays on this machine: it is only compared with agency requests' areas, never sent or looked up."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``settings`` group to the top-level sub-parsers."""
    st = sub.add_parser("settings", help="the home location (matches agency requests' areas) and holds")
    ssub = st.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = command(ssub.add_parser("show", help="show the settings"), settings_show)
    show.add_argument("--json", action="store_true")
    put = command(
        ssub.add_parser(
            "set",
            help="set the home location (--lat and --lon, or a geo: URI or map link: read here, never "
            "looked up), holds on|off, or hold-cap PERCENT",
        ),
        settings_set,
    )
    put.add_argument("name", choices=["home", "holds", "hold-cap"])
    put.add_argument(
        "place",
        nargs="?",
        metavar="VALUE",
        help="home: '39.7817, -89.6501', geo:39.7817,-89.6501, or a map link with @lat,lon or "
        "#map=zoom/lat/lon; holds: on or off; hold-cap: a percentage of the quota, 1 to 50",
    )
    put.add_argument("--lat", help="latitude, decimal degrees (north positive)")
    put.add_argument("--lon", help="longitude, decimal degrees (east positive)")
    put.add_argument("--json", action="store_true")
    clear = command(ssub.add_parser("clear", help="forget the home location"), settings_clear)
    clear.add_argument("name", choices=["home"])


def settings_show(args: argparse.Namespace) -> int:
    """``settings show [--json]``"""
    with hub_api(args) as api:
        shown = settings_json(api.settings())
    if args.json:
        return print_json(shown)
    home = shown["home"]
    print(
        f"home   {Place(home['lat'], home['lon'])}"
        if home
        else "home   not set: requests' areas are not checked (porchlight settings set home --lat … --lon …)"
    )
    print(f"holds  {_holds(shown['holds'])}")
    return 0


def settings_set(args: argparse.Namespace) -> int:
    """``settings set home (--lat LAT --lon LON | PLACE) | holds on|off | hold-cap PERCENT [--json]``"""
    if args.name != "home":
        return _set_holds(args)
    place = _place(args)
    with hub_api(args) as api:
        stored = api.update_settings(SettingsChange(home_lat=place.lat, home_lon=place.lon))
        applied(api)
    if args.json:
        return print_json(settings_json(stored))
    print(f"home location saved: {place}. {_KEPT}")
    return 0


def settings_clear(args: argparse.Namespace) -> int:
    """``settings clear home``"""
    with hub_api(args) as api:
        api.update_settings(SettingsChange(home_lat=None, home_lon=None))
        applied(api)
    print("home location cleared: requests' areas are no longer checked")
    return 0


def settings_json(s: Settings) -> dict[str, Any]:
    """``settings show --json``."""
    home = (
        {"lat": s.home_lat, "lon": s.home_lon} if s.home_lat is not None and s.home_lon is not None else None
    )
    return {"home": home, "holds": {"on": s.hold_requests, "cap_percent": s.hold_cap_percent}}


def _set_holds(args: argparse.Namespace) -> int:
    if args.lat is not None or args.lon is not None:
        raise CliError(f"--lat and --lon are for the home location, not {args.name}")
    value = (args.place or "").strip().lower()
    if args.name == "holds":
        if value not in ("on", "off"):
            raise CliError(f"holds are on or off, not {args.place!r}")
        change = SettingsChange(hold_requests=value == "on")
    else:
        try:
            percent = float(value.removesuffix("%"))
        except ValueError:
            raise CliError(f"hold-cap is a percentage of the quota (1 to 50), not {args.place!r}") from None
        change = SettingsChange(hold_cap_percent=percent)
    with hub_api(args) as api:
        stored = api.update_settings(change)
        applied(api)
    shown = settings_json(stored)
    if args.json:
        return print_json(shown)
    print(f"holds {_holds(shown['holds'])}")
    return 0


def _holds(h: dict[str, Any]) -> str:
    if not h["on"]:
        return (
            "off: requests under review do not keep footage from deletion (porchlight settings set holds on)"
        )
    return (
        f"on: a request under review keeps the footage it matches until you decide or it expires; "
        f"held footage takes at most {h['cap_percent']:g}% of the quota (of the disk, with no quota)"
    )


def _place(args: argparse.Namespace) -> Place:
    given = (args.lat is not None) + (args.lon is not None)
    if args.place is not None and given:
        raise CliError("give the home location once: PLACE, or --lat and --lon")
    if args.place is None and given < 2:
        raise CliError("give the home location: --lat and --lon, or a geo: URI or map link")
    text = args.place if args.place is not None else f"{args.lat}, {args.lon}"
    try:
        return parse_place(text)
    except PlaceError as exc:
        raise CliError(str(exc)) from None
