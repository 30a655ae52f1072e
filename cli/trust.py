"""``porchlight trust add|list|revoke``: the agencies' cards the owner trusts, through the Hub API.

A card (formats/README.md, section 1) holds an agency's public key: a request signed with it is
believed to come from that agency. The owner adds a card from a source they trust (the agency's
website, a letter, in person) and compares its fingerprint with the one the agency gives; a request
is then named by the card, never by what its own text claims.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.common import CliError, applied, command, hub_api, print_json, print_rows, read_limited
from hub.api.errors import ConflictError, ValidationError
from hub.api.types import TRUST_CARD_MAX_BYTES, TrustCard, TrustChange
from hub.api.util import format_ms
from hub.community.formats.fields import group4


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``trust`` to the top-level sub-parsers."""
    tr = sub.add_parser("trust", help="agencies' cards: trust one, list them, revoke one")
    tsub = tr.add_subparsers(dest="action", metavar="ACTION", required=True)
    ta = command(tsub.add_parser("add", help="trust an agency's card (a *.trust.json file)"), trust_add)
    ta.add_argument("file", metavar="FILE|-", help="the card file, or - to read it from standard input")
    ta.add_argument(
        "--replace",
        action="store_true",
        help="use this card instead of another one of the same key (a renewed card, or a key you revoked)",
    )
    ta.add_argument("--json", action="store_true")
    tl = command(tsub.add_parser("list", help="every card: key id, fingerprint, expiry, state"), trust_list)
    tl.add_argument("--json", action="store_true")
    tr_ = command(
        tsub.add_parser("revoke", help="stop trusting a card (it verifies nothing then)"), trust_revoke
    )
    tr_.add_argument(
        "kid", metavar="KID", help="the card's key id, its first 4 or more characters, or its fingerprint"
    )
    tr_.add_argument("--json", action="store_true")


def card_json(card: TrustCard) -> dict[str, Any]:
    """One card of ``trust list --json`` (and of ``trust add|revoke --json``)."""
    return {
        "kid": card.kid,
        "fingerprint": card.fingerprint,
        "name": card.name,
        "jurisdiction": card.jurisdiction,
        "website": card.website,
        "age_recipient": card.age_recipient,
        "expires": format_ms(card.expires_ms),
        "state": card.state,
        "added": format_ms(card.added_ms),
        "updated": format_ms(card.updated_ms),
        "revoked": format_ms(card.revoked_ms),
        "same_name": list(card.same_name),
    }


def change_json(change: TrustChange) -> dict[str, Any]:
    """``trust add|revoke --json``."""
    return {
        "outcome": change.outcome,
        "card": card_json(change.card),
        "previous": card_json(change.previous) if change.previous is not None else None,
    }


def trust_add(args: argparse.Namespace) -> int:
    """``trust add FILE|- [--replace] [--json]``"""
    data = read_limited(args.file, TRUST_CARD_MAX_BYTES, "a trust card")
    source = "standard input" if args.file == "-" else args.file
    with hub_api(args) as api:
        try:
            change = api.trust_add(data, replace=args.replace)
        except (ValidationError, ConflictError) as exc:
            raise CliError(f"{source}: {exc}") from None
        if change.outcome != "unchanged":
            applied(api)
    card = change.card
    if args.json:
        print_json(change_json(change))
    elif change.outcome == "unchanged":
        print(f"already trusted: {card.name} ({card.kid}); nothing changed")
    else:
        verb = "trusted" if change.outcome == "added" else "replaced the card of"
        print(f"{verb} {card.name} ({_where(card.jurisdiction, card.website)})")
        if change.previous is not None:
            for line in _differences(change.previous, card):
                print(f"  {line}")
        print(_details(card))
        print(
            "Before relying on it, compare the fingerprint with the one the agency gives you "
            "(on its website, on paper or in person)."
        )
    _warn_same_name(card)
    return 0


def trust_list(args: argparse.Namespace) -> int:
    """``trust list [--json]``"""
    with hub_api(args) as api:
        cards = api.trust_list()
    return print_rows(
        args,
        [card_json(c) for c in cards],
        _block,
        "no trust cards: add one with 'porchlight trust add FILE'",
    )


def trust_revoke(args: argparse.Namespace) -> int:
    """``trust revoke KID [--json]``"""
    with hub_api(args) as api:
        change = api.trust_revoke(args.kid)
        if change.outcome == "revoked":
            applied(api)
    card = change.card
    if args.json:
        return print_json(change_json(change))
    if change.outcome == "already_revoked":
        print(f"{card.name} ({card.kid}) was already revoked on {format_ms(card.revoked_ms)}")
    else:
        print(f"revoked {card.name} ({card.kid}): requests signed with its key are no longer verified")
    return 0


def _details(card: TrustCard) -> str:
    lines = [
        f"  key id       {card.kid}",
        f"  fingerprint  {group4(card.fingerprint)}",
        f"  expires      {format_ms(card.expires_ms)}",
    ]
    if card.age_recipient:
        lines.append(f"  age          {card.age_recipient}")
    return "\n".join(lines)


def _where(jurisdiction: str, website: str) -> str:
    """A card's jurisdiction and website for one line; a card may leave either empty."""
    return f"{jurisdiction or 'no jurisdiction given'}; {website or 'no website given'}"


def _differences(old: TrustCard, new: TrustCard) -> list[str]:
    pairs = (
        ("name", old.name, new.name),
        ("jurisdiction", old.jurisdiction or "(none)", new.jurisdiction or "(none)"),
        ("website", old.website or "(none)", new.website or "(none)"),
        ("age recipient", old.age_recipient or "(none)", new.age_recipient or "(none)"),
        ("expires", format_ms(old.expires_ms), format_ms(new.expires_ms)),
    )
    found = [f"{what}: {a} → {b}" for what, a, b in pairs if a != b]
    if old.state == "revoked":
        found.append(f"trusted again (revoked on {format_ms(old.revoked_ms)})")
    return found


def _warn_same_name(card: TrustCard) -> None:
    if card.same_name:
        print(
            f"porchlight: warning: another trusted card has the name {card.name!r} "
            f"(key id {', '.join(card.same_name)}); requests are named by their card, so tell these apart "
            "by the key id",
            file=sys.stderr,
        )


def _block(r: dict[str, Any]) -> str:
    lines = [
        f"{r['kid']}  {r['state']:<8} expires {r['expires']}  {r['name']} "
        f"({r['jurisdiction'] or 'no jurisdiction given'})",
        f"    fingerprint {group4(r['fingerprint'])}",
    ]
    if r["same_name"]:
        lines.append(f"    warning: the same name as {', '.join(r['same_name'])}")
    return "\n".join(lines)
