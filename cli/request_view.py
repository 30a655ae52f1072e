"""How ``porchlight requests`` shows agency requests, refused files and the owner's rules: the
``--json`` shapes (documented in the README) and the text a person reads.

Every string here that came from an agency's file is plain text, already refused control characters
by the hub; it is printed as is, never interpreted.
"""

from __future__ import annotations

from typing import Any

from hub.api.types import AgencyRequest, QuarantinedFile, RequestMatch, RequestRule
from hub.api.util import format_ms, format_size

KINDS = {"footage_request": "footage request", "alert": "alert", "withdrawal": "withdrawal"}
_STANDING = {
    "in_force": "in force",
    "expired": "expired",
    "card_expired": "card expired",
    "card_revoked": "card revoked",
    "altered": "ALTERED",
}


def request_json(r: AgencyRequest) -> dict[str, Any]:
    """One request of ``requests list --json`` and ``requests show --json``."""
    return {
        "id": r.id,
        "ref": r.ref,
        "kind": r.kind,
        "kid": r.kid,
        "card_name": r.card_name,
        "same_name": list(r.same_name),
        "agency": r.agency,
        "agency_differs": r.agency_differs,
        "case": r.case,
        "title": r.title,
        "message": r.message,
        "contact": r.contact,
        "window": {"start": format_ms(r.window_start_ms), "end": format_ms(r.window_end_ms)}
        if r.window_start_ms is not None
        else None,
        "area": {"lat": r.area.lat, "lon": r.area.lon, "radius_m": r.area.radius_m} if r.area else None,
        "retention_days": r.retention_days,
        "legal_basis": r.legal_basis,
        "warrant_ref": r.warrant_ref,
        "refers_to": r.refers_to,
        "issued": format_ms(r.issued_ms),
        "expires": format_ms(r.expires_ms),
        "imported": format_ms(r.imported_ms),
        "sha256": r.sha256,
        "status": r.status,
        "closed_by": r.closed_by,
        "closed": format_ms(r.closed_ms),
        "note": r.note,
        "standing": r.standing,
        "problem": r.problem,
        "overbroad": list(r.overbroad),
        "hidden_by": list(r.hidden_by),
        "match": match_json(r.match) if r.match is not None else None,
        "hold": {
            "state": r.hold.state,
            "why": r.hold.why,
            "since": format_ms(r.hold.since_ms),
            "bytes": r.hold.bytes,
        }
        if r.hold is not None
        else None,
    }


def match_json(m: RequestMatch) -> dict[str, Any]:
    """A request's ``match`` in ``--json``: the area check and the footage in the window."""
    return {
        "area": m.area,
        "distance_m": round(m.distance_m, 1) if m.distance_m is not None else None,
        "matched": m.matched,
        "matched_at": format_ms(m.matched_ms),
        "footage_s": m.covered_ms / 1000,
        "cameras": [
            {
                "camera": f.camera_id,
                "name": f.camera_name,
                "footage_s": f.covered_ms / 1000,
                "recordings": f.recordings,
                "events": f.events,
                "first": format_ms(f.first_ms),
                "last": format_ms(f.last_ms),
            }
            for f in m.footage
        ],
    }


def rule_json(rule: RequestRule) -> dict[str, Any]:
    """One rule of ``requests rules list --json``."""
    return {
        "id": rule.id,
        "kind": rule.kind,
        "kid": rule.kid,
        "card_name": rule.card_name,
        "legal_basis": rule.legal_basis,
        "created": format_ms(rule.created_ms),
    }


def rule_line(r: dict[str, Any]) -> str:
    """A rule as ``requests rules list`` prints it."""
    if r["kind"] == "card":
        what = f"hides the requests of {r['card_name'] or 'a card no longer held'} (card {r['kid']})"
    elif r["kind"] == "legal_basis":
        what = f"hides {r['legal_basis']} requests"
    else:
        what = "hides overbroad requests (a window over 12 h or a radius over 800 m)"
    return f"{r['id']:>4}  {what}"


def refused_json(q: QuarantinedFile) -> dict[str, Any]:
    """One file of ``requests quarantine --json``."""
    return {
        "id": q.id,
        "file": q.name,
        "bytes": q.size,
        "sha256": q.sha256,
        "reason": q.reason,
        "message": q.message,
        "member": q.member,
        "kid": q.kid,
        "claimed_id": q.claimed_id,
        "verified": q.verified,
        "first_seen": format_ms(q.first_ms),
        "last_seen": format_ms(q.last_ms),
        "times": q.times,
    }


def claims(kid: str | None, claimed_id: str | None, verified: bool) -> str:
    """What a refused file claims to be, if anything, and whether its signature vouches for it."""
    parts = [f"the id {claimed_id}" if claimed_id else "", f"from the card {kid}" if kid else ""]
    claim = " ".join(p for p in parts if p)
    return f"it claims {claim}{'' if verified else ', unverified'}" if claim else ""


def block(r: dict[str, Any]) -> str:
    state = _STANDING[r["standing"]] if r["status"] == "open" else r["status"]
    head = f"{r['ref'][:8]}  {KINDS[r['kind']]:<15} {state:<12} expires {r['expires']}"
    who = f"from {r['card_name']} ({r['kid']})"
    about = " ".join(p for p in (f"case {r['case']}:" if r["case"] else "", r["title"] or "") if p)
    lines = [head, f"    {who}{': ' + about if about else ''}"]
    if r["window"]:
        lines.append(f"    window {r['window']['start']} to {r['window']['end']}")
    if r["kind"] == "withdrawal" or r["refers_to"]:
        lines.append(f"    {'withdraws' if r['kind'] == 'withdrawal' else 'replaces'} {r['refers_to']}")
    lines += [f"    {line}" for line in match_lines(r)]
    if (held := hold_line(r)) is not None:
        lines.append(f"    {held}")
    lines += [f"    warning: {w}" for w in warnings(r)]
    if r["hidden_by"]:
        lines.append(f"    {_hidden(r['hidden_by'])}")
    return "\n".join(lines)


def match_lines(r: dict[str, Any]) -> list[str]:
    """What a request's match says to a person: the area, then the footage in the window."""
    m = r["match"]
    if m is None:
        return []
    lines = []
    if m["area"] == "not_checked":
        lines.append("area not checked: no home location is set (porchlight settings set home)")
    elif m["area"] in ("inside", "outside"):
        where = "includes your home" if m["area"] == "inside" else "does NOT include your home"
        lines.append(f"area {where}: its centre is {_distance(m['distance_m'])} away")
    if r["kind"] == "footage_request":
        cameras = [
            f"{c['name']} {_duration(c['footage_s'])}"
            + (f" ({c['events']} event{'s' * (c['events'] != 1)})" if c["events"] else "")
            for c in m["cameras"]
        ]
        lines.append(
            f"footage in the window: {', '.join(cameras)}" if cameras else "no footage in the window"
        )
    return lines


#: Why a request's footage is not held, or was released, as a person reads it.
_HOLD_WHY = {
    "off": "holds are off (porchlight settings set holds on)",
    "area_outside": "its area does not include your home",
    "hidden": "your rules hide it",
    "no_footage": "there is no footage in its window",
    "cap": "held footage would pass its cap (porchlight settings set hold-cap PERCENT)",
    "not_in_force": "it is not in force",
    "closed": "it was closed first",
    "withdrawn": "the agency withdrew it",
    "replaced": "the agency replaced it",
    "expired": "it expired",
    "card_expired": "its card expired",
    "card_revoked": "you revoked its card",
    "declined": "you declined it",
    "shared": "you shared footage for it",
    "disk_full": "the disk was full and recording needed the space",
    "owner": "you released it",
}


def hold_line(r: dict[str, Any]) -> str | None:
    """Whether a footage request's footage is kept from retention while you decide."""
    hold = r["hold"]
    if hold is None or r["kind"] != "footage_request":
        return None
    if hold["state"] == "held":
        return f"footage held from deletion until you decide or it expires ({format_size(hold['bytes'])})"
    why = _HOLD_WHY.get(hold["why"] or "", hold["why"])
    if hold["state"] == "released":
        return f"footage no longer held since {hold['since']}: {why}"
    return f"footage not held: {why}"


def _hidden(ids: list[int]) -> str:
    numbers = ", ".join(str(i) for i in ids)
    return f"hidden by your rule{'s' * (len(ids) > 1)} {numbers} ('porchlight requests rules list')"


def _distance(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def warnings(r: dict[str, Any]) -> list[str]:
    found = []
    if r["problem"]:
        found.append(f"{r['problem']}; do not rely on it")
    if r["agency_differs"]:
        found.append(
            f"the file calls its agency {r['agency']!r}, but it is signed with the card of {r['card_name']!r}"
        )
    if r["same_name"]:
        found.append(f"another card in force has this card's name: {', '.join(r['same_name'])}")
    if r["standing"] not in ("in_force", "altered"):
        found.append(f"{_STANDING[r['standing']]}: it verifies nothing now")
    reasons = {"window": "its window is over 12 h", "radius": "its radius is over 800 m"}
    if r["overbroad"]:
        found.append(f"overbroad: {' and '.join(reasons[o] for o in r['overbroad'])}")
    return found


def details(r: dict[str, Any]) -> str:
    fields = [
        ("id", r["id"]),
        ("kind", KINDS[r["kind"]]),
        ("from", f"{r['card_name']} (card {r['kid']})"),
        ("agency says", r["agency"]),
        ("case", r["case"]),
        ("title", r["title"]),
        ("window", f"{r['window']['start']} to {r['window']['end']}" if r["window"] else None),
        ("area", _area(r["area"])),
        (
            "retention",
            f"the agency says it keeps footage {r['retention_days']} days"
            if r["retention_days"] is not None
            else None,
        ),
        ("legal basis", _basis(r)),
        ("refers to", r["refers_to"]),
        ("issued", r["issued"]),
        ("expires", r["expires"]),
        ("imported", r["imported"]),
        ("status", _status(r)),
        ("your note", r["note"]),
        ("standing", _STANDING[r["standing"]]),
    ]
    lines = [f"{name + ':':<13} {value}" for name, value in fields if value is not None]
    lines += match_lines(r)
    if (held := hold_line(r)) is not None:
        lines.append(held)
    if r["hidden_by"]:
        lines.append(_hidden(r["hidden_by"]))
    for name in ("contact", "message"):
        if r[name]:
            lines.append(f"{name}:")
            lines += [f"    {line}" for line in r[name].splitlines()]
    lines += [f"warning: {w}" for w in warnings(r)]
    return "\n".join(lines)


def _status(r: dict[str, Any]) -> str:
    if r["status"] == "open":
        return "open: you have not decided (porchlight requests decline ID)"
    if r["status"] == "declined":
        return f"declined by you on {r['closed']} (known only to you: the agency was not told)"
    return f"{r['status']} by {r['closed_by']} on {r['closed']}"


def _area(area: dict[str, Any] | None) -> str | None:
    if area is None:
        return None
    return f"within {area['radius_m']:g} m of {area['lat']:.5f}, {area['lon']:.5f}"


def _basis(r: dict[str, Any]) -> str | None:
    if r["legal_basis"] == "warrant":
        return f"warrant {r['warrant_ref']} (the agency's claim, not checked)"
    return str(r["legal_basis"]) if r["legal_basis"] else None


def refused_block(q: dict[str, Any]) -> str:
    seen = f"{q['times']} times, last {q['last_seen']}" if q["times"] > 1 else q["last_seen"]
    lines = [
        f"{q['id']:>4}  {q['reason']:<18} {q['file']}  ({q['bytes']} bytes; {seen})",
        f"      {q['message']}",
    ]
    claimed = claims(q["kid"], q["claimed_id"], q["verified"])
    if claimed:
        lines.append(f"      {claimed}")
    return "\n".join(lines)
