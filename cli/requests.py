"""``porchlight requests import|list|show|quarantine``: agencies' requests, through the Hub API.

A request arrives as a signed file (formats/README.md, section 2). The hub checks it on this
machine against the cards the owner trusts; what does not verify is refused with its reason and
kept in a quarantine the owner can list, and is never matched against footage. Importing sends
nothing anywhere: the agency learns nothing of what the owner does with its request.

``requests import FOLDER`` reads the ``*.request.jws`` files in that folder once, in name order. It
never writes, renames, moves or deletes anything there, and it does not follow links in it (a link
may point anywhere: the owner names the files to read, not whoever wrote the folder).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from typing import Any

from cli.common import CliError, applied, command, hub_api, print_json, print_rows, read_prefix
from hub.api import HubApi
from hub.api.types import REQUEST_MAX_BYTES, AgencyRequest, QuarantinedFile, RequestImport
from hub.api.util import format_ms
from hub.community.formats.fields import printable

#: What ``requests import FOLDER`` reads in a folder (case aside).
SUFFIX = ".request.jws"
_PATH_MAX = 4096
_KINDS = {"footage_request": "footage request", "alert": "alert", "withdrawal": "withdrawal"}
_STANDING = {
    "in_force": "in force",
    "expired": "expired",
    "card_expired": "card expired",
    "card_revoked": "card revoked",
    "altered": "ALTERED",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``requests`` to the top-level sub-parsers."""
    rq = sub.add_parser("requests", help="agencies' requests: import them, list them, show one")
    rsub = rq.add_subparsers(dest="action", metavar="ACTION", required=True)
    ri = command(
        rsub.add_parser(
            "import",
            help="import signed request files, or the *.request.jws files of a folder "
            "(read once; nothing in the folder is changed, links are not followed)",
        ),
        requests_import,
    )
    ri.add_argument("paths", nargs="+", metavar="FILE|FOLDER")
    ri.add_argument("--json", action="store_true")
    rl = command(rsub.add_parser("list", help="every request imported, re-checked now"), requests_list)
    rl.add_argument("--json", action="store_true")
    rs = command(rsub.add_parser("show", help="one request in full (the view is logged)"), requests_show)
    rs.add_argument(
        "ref", metavar="ID", help="the request's id (after urn:uuid:) or its first 4 or more characters"
    )
    rs.add_argument("--json", action="store_true")
    rqq = command(
        rsub.add_parser("quarantine", help="the files refused on import, with the reason"),
        requests_quarantine,
    )
    rqq.add_argument("--json", action="store_true")


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
        "standing": r.standing,
        "problem": r.problem,
    }


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


def requests_import(args: argparse.Namespace) -> int:
    """``requests import FILE|FOLDER... [--json]``: exit status 1 when a file was refused or unreadable."""
    files, links, ignored = _listed(args.paths)
    results: list[dict[str, Any]] = []
    for link in links:
        if not args.json:
            print(f"skipped     {_shown(link)}: a link, not followed")
        results.append({"file": _text(link), "outcome": "skipped", "message": "a link, not followed"})
    with hub_api(args) as api:
        for path, follow in files:
            results.append(_import_one(api, path, follow, quiet=args.json))
        if any(r["outcome"] == "imported" for r in results):
            applied(api)
    counts = Counter(r["outcome"] for r in results)
    summary = {
        "imported": counts["imported"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"] + counts["already_rejected"],
        "unreadable": counts["unreadable"],
        "skipped": counts["skipped"],
        "ignored": ignored,
    }
    if args.json:
        print_json({**summary, "files": results})
    else:
        print(_summary(summary))
    return 1 if summary["rejected"] or summary["unreadable"] else 0


def requests_list(args: argparse.Namespace) -> int:
    """``requests list [--json]``"""
    with hub_api(args) as api:
        found = api.request_list()
    return print_rows(
        args,
        [request_json(r) for r in found],
        _block,
        "no requests: import one with 'porchlight requests import FILE|FOLDER'",
    )


def requests_show(args: argparse.Namespace) -> int:
    """``requests show ID [--json]``"""
    with hub_api(args) as api:
        r = api.request_show(args.ref)
    if args.json:
        return print_json(request_json(r))
    print(_details(request_json(r)))
    return 0


def requests_quarantine(args: argparse.Namespace) -> int:
    """``requests quarantine [--json]``"""
    with hub_api(args) as api:
        found = api.request_quarantine()
    return print_rows(args, [refused_json(q) for q in found], _refused_block, "the quarantine is empty")


def _listed(paths: list[str]) -> tuple[list[tuple[str, bool]], list[str], int]:
    """The files to read (and whether a link there may be followed: only where the owner named the
    file itself), the links in the folders (skipped), and how many other entries the folders held."""
    files: list[tuple[str, bool]] = []
    links: list[str] = []
    ignored = 0
    for path in paths:
        if not os.path.isdir(path):
            files.append((path, True))
            continue
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            raise CliError(f"cannot read the folder {path}: {exc.strerror or exc}") from None
        for entry in entries:
            if not entry.name.lower().endswith(SUFFIX):
                ignored += 1
            elif entry.is_symlink():
                links.append(entry.path)
            else:
                files.append((entry.path, False))
    return files, links, ignored


def _import_one(api: HubApi, path: str, follow: bool, *, quiet: bool) -> dict[str, Any]:
    try:
        data = read_prefix(path, REQUEST_MAX_BYTES, follow=follow)
    except CliError as exc:
        message = _text(str(exc))
        if not quiet:
            print(f"unreadable  {printable(message, _PATH_MAX)}", file=sys.stderr)
        return {"file": _text(path), "outcome": "unreadable", "message": message}
    done = api.request_import(data, _text(os.path.basename(path)))
    if not quiet:
        print(_line(_shown(path), done))
    return {
        "file": _text(path),
        "outcome": done.outcome,
        "request": request_json(done.request) if done.request is not None else None,
        "refused": refused_json(done.refused) if done.refused is not None else None,
        "closes": list(done.closes),
    }


def _text(path: str) -> str:
    """A path as text: bytes that are not UTF-8 (a name from another system) as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _shown(path: str) -> str:
    """A path to print: whoever named a file in a folder may have put terminal escapes in its name."""
    return printable(_text(path), _PATH_MAX)


def _line(path: str, done: RequestImport) -> str:
    if done.request is not None:
        r = done.request
        what = f"{_KINDS[r.kind]} {r.ref[:8]} from {r.card_name} ({r.kid})"
        if done.outcome == "duplicate":
            return f"duplicate   {path}: {what} is imported already; nothing changed"
        closes = "".join(
            f"\n            it {_closes(r)} {ref.removeprefix('urn:uuid:')[:8]}" for ref in done.closes
        )
        if r.status != "open":
            closes += f"\n            it was {r.status} already, by {(r.closed_by or '')[9:17]}"
        return f"imported    {path}: {what}{closes}"
    q = done.refused
    assert q is not None
    again = " (refused before)" if done.outcome == "already_rejected" else ""
    claims = _claims(q.kid, q.claimed_id, q.verified)
    return f"refused     {path}: {q.reason}{again}: {q.message}" + (
        f"\n            {claims}" if claims else ""
    )


def _closes(r: AgencyRequest) -> str:
    return "withdraws" if r.kind == "withdrawal" else "replaces"


def _claims(kid: str | None, claimed_id: str | None, verified: bool) -> str:
    """What a refused file claims to be, if anything, and whether its signature vouches for it."""
    parts = [f"the id {claimed_id}" if claimed_id else "", f"from the card {kid}" if kid else ""]
    claim = " ".join(p for p in parts if p)
    return f"it claims {claim}{'' if verified else ', unverified'}" if claim else ""


def _summary(s: dict[str, Any]) -> str:
    parts = [f"{s['imported']} imported"]
    if s["duplicates"]:
        parts.append(f"{s['duplicates']} imported already")
    if s["rejected"]:
        parts.append(f"{s['rejected']} refused (see 'porchlight requests quarantine')")
    if s["unreadable"]:
        parts.append(f"{s['unreadable']} unreadable")
    if s["skipped"]:
        parts.append(f"{s['skipped']} links not followed")
    if s["ignored"]:
        parts.append(f"{s['ignored']} other entries of the folder left alone")
    return "; ".join(parts) + ". Nothing was sent anywhere."


def _block(r: dict[str, Any]) -> str:
    state = _STANDING[r["standing"]] if r["status"] == "open" else r["status"]
    head = f"{r['ref'][:8]}  {_KINDS[r['kind']]:<15} {state:<12} expires {r['expires']}"
    who = f"from {r['card_name']} ({r['kid']})"
    about = " ".join(p for p in (f"case {r['case']}:" if r["case"] else "", r["title"] or "") if p)
    lines = [head, f"    {who}{': ' + about if about else ''}"]
    if r["window"]:
        lines.append(f"    window {r['window']['start']} to {r['window']['end']}")
    if r["kind"] == "withdrawal" or r["refers_to"]:
        lines.append(f"    {'withdraws' if r['kind'] == 'withdrawal' else 'replaces'} {r['refers_to']}")
    lines += [f"    warning: {w}" for w in _warnings(r)]
    return "\n".join(lines)


def _warnings(r: dict[str, Any]) -> list[str]:
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
    return found


def _details(r: dict[str, Any]) -> str:
    fields = [
        ("id", r["id"]),
        ("kind", _KINDS[r["kind"]]),
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
        (
            "status",
            r["status"] if r["status"] == "open" else f"{r['status']} by {r['closed_by']} on {r['closed']}",
        ),
        ("standing", _STANDING[r["standing"]]),
    ]
    lines = [f"{name + ':':<13} {value}" for name, value in fields if value is not None]
    for name in ("contact", "message"):
        if r[name]:
            lines.append(f"{name}:")
            lines += [f"    {line}" for line in r[name].splitlines()]
    lines += [f"warning: {w}" for w in _warnings(r)]
    return "\n".join(lines)


def _area(area: dict[str, Any] | None) -> str | None:
    if area is None:
        return None
    return f"within {area['radius_m']:g} m of {area['lat']:.5f}, {area['lon']:.5f}"


def _basis(r: dict[str, Any]) -> str | None:
    if r["legal_basis"] == "warrant":
        return f"warrant {r['warrant_ref']} (the agency's claim, not checked)"
    return str(r["legal_basis"]) if r["legal_basis"] else None


def _refused_block(q: dict[str, Any]) -> str:
    seen = f"{q['times']} times, last {q['last_seen']}" if q["times"] > 1 else q["last_seen"]
    lines = [
        f"{q['id']:>4}  {q['reason']:<18} {q['file']}  ({q['bytes']} bytes; {seen})",
        f"      {q['message']}",
    ]
    claims = _claims(q["kid"], q["claimed_id"], q["verified"])
    if claims:
        lines.append(f"      {claims}")
    return "\n".join(lines)
