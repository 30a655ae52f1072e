"""``porchlight audit verify|list``: the community audit log, through the Hub API.

The log records every community action (trust changes, requests imported or refused, decisions,
shares), each entry holding the hash of the one before it, so a record the owner holds shows what
was done and ``verify`` shows whether anything in it was changed, removed or reordered since.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.common import command, hub_api, print_json, print_rows
from hub.api.types import AUDIT_PAGE, AUDIT_PAGE_MAX, AuditCheck, AuditEntry
from hub.api.util import format_ms


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit`` to the top-level sub-parsers."""
    aud = sub.add_parser("audit", help="the community audit log: check it, list it")
    asub = aud.add_subparsers(dest="action", metavar="ACTION", required=True)
    av = command(
        asub.add_parser(
            "verify", help="check every entry, the numbering and the links (exit 1 when not intact)"
        ),
        audit_verify,
    )
    av.add_argument("--json", action="store_true")
    al = command(asub.add_parser("list", help="one line per entry, oldest first"), audit_list)
    al.add_argument("--after", type=_count, default=0, metavar="SEQ", help="entries numbered above SEQ")
    al.add_argument(
        "--limit",
        type=_count,
        default=AUDIT_PAGE,
        metavar="N",
        help=f"at most N entries (≤ {AUDIT_PAGE_MAX})",
    )
    al.add_argument("--json", action="store_true")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def check_json(check: AuditCheck) -> dict[str, Any]:
    """``audit verify --json``."""
    return {
        "intact": check.intact,
        "entries": check.entries,
        "head": {"seq": check.head_seq, "hash": check.head_hash} if check.head_hash else None,
        "problems": [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in check.problems],
        "more_problems": check.more_problems,
        "checked": format_ms(check.checked_ms),
    }


def audit_verify(args: argparse.Namespace) -> int:
    """``audit verify [--json]``: exit status 0 when the log is intact, 1 when it is not."""
    with hub_api(args) as api:
        check = api.audit_verify()
    if args.json:
        print_json(check_json(check))
    elif check.intact and not check.entries:
        print("the audit log is empty: no community action recorded yet")
    elif check.intact:
        print(
            f"the audit log is intact: {check.entries} entries, each matching its hash and linked to the one "
            f"before it; the last is entry {check.head_seq} ({check.head_hash})"
        )
    else:
        for p in check.problems:
            print(f"entry {p.seq}: {p.kind}: {p.message}")
        if check.more_problems:
            print(f"… and {check.more_problems} more problems")
    if check.intact:
        return 0
    count = len(check.problems) + check.more_problems
    print(
        f"porchlight: error: the audit log is not intact: {count} problem{'s' * (count != 1)} "
        f"in {check.entries} entries",
        file=sys.stderr,
    )
    return 1


def entry_json(e: AuditEntry) -> dict[str, Any]:
    """One entry of ``audit list --json``."""
    return {
        "seq": e.seq,
        "time": format_ms(e.time_ms),
        "action": e.action,
        "data": e.data,
        "prev": e.prev,
        "hash": e.hash,
    }


def _line(r: dict[str, Any]) -> str:
    data = "(unreadable)" if r["data"] is None else json.dumps(r["data"], ensure_ascii=False, sort_keys=True)
    return f"{r['seq']:>6}  {r['time']}  {r['action']:16s} {data}"


def audit_list(args: argparse.Namespace) -> int:
    """``audit list [--after SEQ] [--limit N] [--json]``"""
    with hub_api(args) as api:
        found = api.audit_log(args.after, args.limit)
    return print_rows(args, [entry_json(e) for e in found], _line, "no audit entries")
