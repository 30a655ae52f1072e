"""``porchlight requests import|list|show|decline|quarantine``: agencies' requests, through the Hub API.

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
from cli.request_rules import register_rules
from cli.request_view import (
    KINDS,
    block,
    claims,
    details,
    hold_line,
    match_lines,
    refused_block,
    refused_json,
    request_json,
    warnings,
)
from hub.api import HubApi
from hub.api.types import REQUEST_MAX_BYTES, RequestImport
from hub.api.util import format_ms
from hub.community.formats.fields import printable

#: What ``requests import FOLDER`` reads in a folder (case aside).
SUFFIX = ".request.jws"
_PATH_MAX = 4096


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
    rl = command(
        rsub.add_parser("list", help="the requests imported, re-checked and matched now"), requests_list
    )
    rl.add_argument(
        "--all",
        action="store_true",
        help="also the requests your rules hide (overbroad ones by default), marked",
    )
    rl.add_argument("--json", action="store_true")
    rs = command(rsub.add_parser("show", help="one request in full (the view is logged)"), requests_show)
    rs.add_argument(
        "ref", metavar="ID", help="the request's id (after urn:uuid:) or its first 4 or more characters"
    )
    rs.add_argument("--json", action="store_true")
    rd = command(
        rsub.add_parser(
            "decline",
            help="decline a footage request: recorded in this hub's audit log only; nothing is sent "
            "and nothing is written anywhere else, so the agency learns nothing",
        ),
        requests_decline,
    )
    rd.add_argument(
        "ref", metavar="ID", help="the request's id (after urn:uuid:) or its first 4 or more characters"
    )
    rd.add_argument("--note", default="", metavar="TEXT", help="a note for your own record (kept in the log)")
    rd.add_argument("--json", action="store_true")
    rqq = command(
        rsub.add_parser("quarantine", help="the files refused on import, with the reason"),
        requests_quarantine,
    )
    rqq.add_argument("--json", action="store_true")
    register_rules(rsub)


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
    """``requests list [--all] [--json]``"""
    with hub_api(args) as api:
        found = api.request_list(include_hidden=True)
    shown = [request_json(r) for r in found if args.all or not r.hidden_by]
    hidden = len(found) - len(shown)
    status = print_rows(
        args,
        shown,
        block,
        "no requests shown"
        if hidden
        else "no requests: import one with 'porchlight requests import FILE|FOLDER'",
    )
    if hidden and not args.json:
        print(f"{hidden} more hidden by your rules: 'porchlight requests list --all' shows them")
    return status


def requests_show(args: argparse.Namespace) -> int:
    """``requests show ID [--json]``"""
    with hub_api(args) as api:
        r = api.request_show(args.ref)
    if args.json:
        return print_json(request_json(r))
    print(details(request_json(r)))
    return 0


#: What ``requests decline`` says, every time: what a decline did, and what it did not.
DECLINE_PROMISE = (
    "Recorded in this hub's audit log only. Nothing was sent to the agency or anyone else, and nothing "
    "was written anywhere but this hub's index: the agency learns nothing from a decline."
)


def requests_decline(args: argparse.Namespace) -> int:
    """``requests decline ID [--note TEXT] [--json]``"""
    with hub_api(args) as api:
        done = api.request_decline(args.ref, args.note)
    r = done.request
    if args.json:
        return print_json(
            {"outcome": done.outcome, "request": request_json(r), "sent": False, "message": DECLINE_PROMISE}
        )
    what = f"{KINDS[r.kind]} {r.ref} from {r.card_name} ({r.kid})"
    if done.outcome == "already_declined":
        print(f"the {what} was declined already, on {format_ms(r.closed_ms)}: nothing changed")
    else:
        print(f"declined the {what}")
        if r.hold is not None and r.hold.state == "released" and (held := hold_line(request_json(r))):
            print(held)
    print(DECLINE_PROMISE)
    return 0


def requests_quarantine(args: argparse.Namespace) -> int:
    """``requests quarantine [--json]``"""
    with hub_api(args) as api:
        found = api.request_quarantine()
    return print_rows(args, [refused_json(q) for q in found], refused_block, "the quarantine is empty")


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
        what = f"{KINDS[r.kind]} {r.ref[:8]} from {r.card_name} ({r.kid})"
        if done.outcome == "duplicate":
            return f"duplicate   {path}: {what} is imported already; nothing changed"
        closes = "".join(
            f"\n            it {'withdraws' if r.kind == 'withdrawal' else 'replaces'} {ref.removeprefix('urn:uuid:')[:8]}"
            for ref in done.closes
        )
        if r.status != "open":
            closes += f"\n            it was {r.status} already, by {(r.closed_by or '')[9:17]}"
        shown = request_json(r)
        held = hold_line(shown)
        notes = [*match_lines(shown), *([held] if held else []), *(f"warning: {w}" for w in warnings(shown))]
        if r.hidden_by:
            notes.append(
                f"hidden by your rules {', '.join(map(str, r.hidden_by))}: 'requests list --all' shows it"
            )
        return f"imported    {path}: {what}{closes}" + "".join(f"\n            {n}" for n in notes)
    q = done.refused
    assert q is not None
    again = " (refused before)" if done.outcome == "already_rejected" else ""
    claimed = claims(q.kid, q.claimed_id, q.verified)
    return f"refused     {path}: {q.reason}{again}: {q.message}" + (
        f"\n            {claimed}" if claimed else ""
    )


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
