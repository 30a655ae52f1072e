"""``porchlight audit verify|list|report``: the community audit log, through the Hub API.

The log records every community action (trust changes, requests imported or refused, decisions,
shares), each entry holding the hash of the one before it, so a record the owner holds shows what
was done and ``verify`` shows whether anything in it was changed, removed or reordered since; its
signed checkpoints and the copy of its head in the storage folder show a tail cut off or an index
restored from an older copy. ``report`` is the transparency report, computed from the log alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.common import command, hub_api, print_json, print_rows
from hub.api.types import (
    AUDIT_PAGE,
    AUDIT_PAGE_MAX,
    AuditCheck,
    AuditEntry,
    AuditReport,
    AuditSeal,
    ReportCounts,
    ReportLine,
)
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
    ar = command(
        asub.add_parser(
            "report",
            help="the transparency report: requests received, matched, shared and declined, per agency "
            "and month, computed from the log",
        ),
        audit_report,
    )
    ar.add_argument("--json", action="store_true")


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
        "seal": seal_json(check.seal) if check.seal is not None else None,
        "notes": list(check.notes),
        "checked": format_ms(check.checked_ms),
    }


def seal_json(seal: AuditSeal) -> dict[str, Any]:
    """``audit verify --json``'s ``seal``: the checkpoints and the copy of the head."""
    m = seal.mirror
    return {
        "key_id": seal.key_id,
        "keyring": seal.keyring,
        "checkpoints": seal.checkpoints,
        "signed": seal.signed,
        "unsigned": seal.unsigned,
        "other_key": seal.other_key,
        "vouched": seal.vouched,
        "mirror": {
            "path": m.path,
            "state": m.state,
            "seq": m.seq,
            "hash": m.hash,
            "time": format_ms(m.time_ms),
            "signed": m.signed,
        },
    }


def _seal_lines(seal: AuditSeal) -> list[str]:
    if not seal.checkpoints:
        checked = "checkpoints: none yet"
    else:
        parts = [f"{seal.signed} signed with this machine's key {seal.key_id}"] if seal.signed else []
        parts += [f"{seal.unsigned} unsigned"] if seal.unsigned else []
        parts += [f"{seal.other_key} signed with another machine's key"] if seal.other_key else []
        unchecked = seal.checkpoints - seal.unsigned  # signed, but with no key here to check them
        parts += (
            [f"{unchecked} signed, not checked ({seal.keyring})"] if seal.key_id is None and unchecked else []
        )
        checked = (
            f"checkpoints: {seal.checkpoints}, the last vouching for {seal.vouched} entries; "
            + ", ".join(parts)
        )
    m = seal.mirror
    if m.seq is not None:
        signed = "signature verified" if m.signed else "signature not verified here"
        mirror = (
            f"copy of the head: entry {m.seq} of {format_ms(m.time_ms)} ({m.state}, {signed}) in {m.path}"
        )
    else:
        mirror = f"copy of the head: {m.state.replace('_', ' ')}" + (f" ({m.path})" if m.path else "")
    keyring = [] if seal.key_id is not None else [f"keyring: {seal.keyring}"]
    return [checked, mirror, *keyring]


def audit_verify(args: argparse.Namespace) -> int:
    """``audit verify [--json]``: exit status 0 when the log is intact, 1 when it is not."""
    with hub_api(args) as api:
        check = api.audit_verify()
    if args.json:
        print_json(check_json(check))
        return 0 if check.intact else _not_intact(check)
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
    if check.seal is not None:
        for line in _seal_lines(check.seal):
            print(line)
    for note in check.notes:
        print(f"note: {note}")
    return 0 if check.intact else _not_intact(check)


def _not_intact(check: AuditCheck) -> int:
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


_COUNTS = ReportCounts.__struct_fields__  # in the order a report shows them


def _counts_json(c: ReportCounts) -> dict[str, int]:
    return {name: getattr(c, name) for name in _COUNTS}


def line_json(x: ReportLine) -> dict[str, Any]:
    """One line of ``audit report --json``: its month and agency (each None for all), then the counts."""
    return {"month": x.month, "kid": x.kid, "agency": x.agency, **_counts_json(x.counts)}


def report_json(r: AuditReport) -> dict[str, Any]:
    """``audit report --json``."""
    return {
        "intact": r.intact,
        "entries": r.entries,
        "first": format_ms(r.first_ms),
        "last": format_ms(r.last_ms),
        "lines": [line_json(x) for x in r.lines],
        "agencies": [line_json(x) for x in r.agencies],
        "months": [line_json(x) for x in r.months],
        "totals": _counts_json(r.totals),
        "skipped": r.skipped,
        "made": format_ms(r.made_ms),
    }


def _who(x: dict[str, Any]) -> str:
    if x["kid"] is None:
        return "(files refused: no agency)" if x["month"] else "all agencies"
    name = x["agency"] or "(card not in the log)"
    return f"{name[:30]} ({x['kid'][:8]})"


def _row(label: str, who: str, x: dict[str, Any]) -> str:
    return f"{label:<8} {who:<42}" + "".join(f"{x[name]:>10}" for name in _COUNTS)


def audit_report(args: argparse.Namespace) -> int:
    """``audit report [--json]``"""
    with hub_api(args) as api:
        found = report_json(api.audit_report())
    if args.json:
        return print_json(found)
    if not found["entries"]:
        print("the audit log is empty: no request received yet, so nothing to report")
        return 0
    trust = (
        "the log verifies" if found["intact"] else "THE LOG DOES NOT VERIFY: see 'porchlight audit verify'"
    )
    print(
        f"Transparency report, computed from the audit log ({found['entries']} entries, "
        f"{found['first'][:10]} to {found['last'][:10]}; {trust})"
    )
    print(_row("month", "agency", {name: name for name in _COUNTS}))
    for x in found["lines"]:
        print(_row(x["month"], _who(x), x))
    print("per agency, all months:")
    for x in found["agencies"]:
        print(_row("", _who(x), x))
    print(_row("total", "", found["totals"]))
    if found["skipped"]:
        print(f"{found['skipped']} entries could not be read and are not counted")
    return 0
