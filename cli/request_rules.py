"""``porchlight requests rules add|list|remove``: the owner's rules that hide agency requests.

A rule hides the requests of one card, of one legal basis, or the overbroad ones (a window over 12 h
or a radius over 800 m); a new index holds that last rule, so overbroad requests stay hidden until
the owner removes it. Hidden requests are still imported, checked and kept; ``requests list --all``
shows them, marked. Rules are kept in the index and logged in the audit log; nothing is sent.
"""

from __future__ import annotations

import argparse

from cli.common import command, hub_api, print_json, print_rows
from cli.request_view import rule_json, rule_line
from hub.api.types import RuleChange


def register_rules(rsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rules`` to the ``requests`` sub-parsers."""
    rules = rsub.add_parser("rules", help="the rules that hide requests: by card, by legal basis, overbroad")
    sub = rules.add_subparsers(dest="rules_action", metavar="ACTION", required=True)
    add = command(
        sub.add_parser("add", help="hide the requests of a card, of a legal basis, or overbroad ones"),
        rules_add,
    )
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("--card", metavar="KID", help="the card's key id (or its first 4 or more characters)")
    what.add_argument("--legal-basis", choices=["voluntary", "warrant"])
    what.add_argument("--overbroad", action="store_true", help="windows over 12 h, radii over 800 m")
    add.add_argument("--json", action="store_true")
    listed = command(sub.add_parser("list", help="the rules, by number"), rules_list)
    listed.add_argument("--json", action="store_true")
    remove = command(sub.add_parser("remove", help="remove a rule by its number"), rules_remove)
    remove.add_argument("rule", metavar="N", type=_number)
    remove.add_argument("--json", action="store_true")


def rules_add(args: argparse.Namespace) -> int:
    """``requests rules add (--card KID | --legal-basis B | --overbroad) [--json]``"""
    with hub_api(args) as api:
        if args.card is not None:
            done = api.request_rule_add("card", args.card)
        elif args.legal_basis is not None:
            done = api.request_rule_add("legal_basis", args.legal_basis)
        else:
            done = api.request_rule_add("overbroad")
    return _report(args, done, "added" if done.outcome == "added" else "held already, nothing changed")


def rules_list(args: argparse.Namespace) -> int:
    """``requests rules list [--json]``"""
    with hub_api(args) as api:
        found = api.request_rules()
    return print_rows(
        args,
        [rule_json(r) for r in found],
        rule_line,
        "no rules: every request is listed, overbroad ones too ('requests rules add --overbroad' hides them)",
    )


def rules_remove(args: argparse.Namespace) -> int:
    """``requests rules remove N [--json]``"""
    with hub_api(args) as api:
        done = api.request_rule_remove(args.rule)
    return _report(args, done, "removed")


def _report(args: argparse.Namespace, done: RuleChange, what: str) -> int:
    shown = rule_json(done.rule)
    if args.json:
        return print_json({"outcome": done.outcome, "rule": shown})
    print(f"rule {what}:\n{rule_line(shown)}")
    return 0


def _number(text: str) -> int:
    """Argument type: a rule's number."""
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(
            "a rule is named by its number (see 'porchlight requests rules list')"
        )
    return int(text)
