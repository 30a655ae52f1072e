"""``porchlight agency keygen|card|sign-request``: the agency's side, so an agency can issue requests
with Porchlight and nothing else (formats/README.md, sections 1 and 2).

An agency makes its keys once (``keygen``), publishes its trust card (``card``) where households can
check it, and signs each request or alert (``sign-request``); households import the signed file.
These commands never open a data dir, an index or a hub, and never touch the network: they read
and write only the files they are given. The signing is pure code in hub.community.formats.agency.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cli.common import CliError, command, print_json, read_limited, stdin_line
from hub.community.formats import agency as fmt
from hub.community.formats.fields import FormatError, fingerprint, format_time, group4, kid_of, parse_time
from hub.community.formats.request import REQUEST_MAX_BYTES

T = TypeVar("T")
KEY_MAX_BYTES = 64 * 1024
CARD_DAYS = 365
_OPTIONS = {
    "name": "--name",
    "jurisdiction": "--jurisdiction",
    "website": "--website",
    "age_recipient": "--age-recipient",
    "expires": "--expires",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``agency`` to the top-level sub-parsers."""
    ag = sub.add_parser(
        "agency", help="for agencies: make a key and a trust card, sign requests (uses no data dir)"
    )
    asub = ag.add_subparsers(dest="action", metavar="ACTION", required=True)
    kg = command(
        asub.add_parser("keygen", help="make the agency's signing key and age identity in a folder"), keygen
    )
    kg.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="the folder (made 0700 if missing)"
    )
    ask = kg.add_mutually_exclusive_group()
    ask.add_argument(
        "--passphrase-stdin",
        action="store_true",
        help="protect the keys with the first line of standard input",
    )
    ask.add_argument(
        "--ask-passphrase", action="store_true", help="protect the keys with a passphrase you type"
    )
    kg.add_argument("--json", action="store_true")
    cd = command(asub.add_parser("card", help="write the trust card households add (*.trust.json)"), card)
    cd.add_argument(
        "--key", required=True, type=Path, metavar="K", help="agency-key.pem or agency-key.pub.pem"
    )
    cd.add_argument("--name", required=True, help="the agency's name, as households will see it")
    cd.add_argument(
        "--jurisdiction", default="", help="where it has authority (e.g. City of Springfield, IL, US)"
    )
    cd.add_argument("--website", default="", help="where households can check the card's fingerprint")
    rec = cd.add_mutually_exclusive_group()
    rec.add_argument(
        "--age-recipient",
        metavar="AGE1…",
        help="the age recipient evidence is sealed to (default: age-recipient.txt beside the key)",
    )
    rec.add_argument("--no-age-recipient", action="store_true", help="a card without an age recipient")
    cd.add_argument(
        "--expires", metavar="T", help=f"RFC 3339 UTC, e.g. 2027-12-31T00:00:00Z (default: {CARD_DAYS} days)"
    )
    cd.add_argument("--out", required=True, metavar="F|-", help="the card file, or - for standard output")
    cd.add_argument(
        "--passphrase-stdin", action="store_true", help="the signing key's passphrase, on standard input"
    )
    cd.add_argument("--json", action="store_true")
    sr = command(
        asub.add_parser("sign-request", help="check and sign a request, alert or withdrawal (*.request.jws)"),
        sign_request,
    )
    sr.add_argument("--key", required=True, type=Path, metavar="K", help="the signing key, agency-key.pem")
    sr.add_argument("--in", dest="payload", required=True, metavar="FILE|-", help="the payload (JSON)")
    sr.add_argument("--out", required=True, metavar="F|-", help="the signed file, or - for standard output")
    sr.add_argument(
        "--passphrase-stdin", action="store_true", help="the signing key's passphrase, on standard input"
    )
    sr.add_argument("--json", action="store_true")


def keygen(args: argparse.Namespace) -> int:
    """``agency keygen --out DIR [--passphrase-stdin | --ask-passphrase] [--json]``"""
    folder: Path = args.out
    for name in fmt.KEYGEN_FILES:  # before a passphrase is asked and scrypt run for nothing
        if os.path.lexists(folder / name):
            raise CliError(
                f"{folder / name} exists already: keygen never replaces a key (households trust the card "
                "of the old one); choose another folder"
            )
    passphrase = (
        _stdin_passphrase() if args.passphrase_stdin else _new_passphrase() if args.ask_passphrase else None
    )
    keys = fmt.generate(passphrase, _now_ms())
    identity_name = fmt.AGE_IDENTITY_SEALED_FILE if keys.protected else fmt.AGE_IDENTITY_FILE
    files = (
        (fmt.KEY_FILE, keys.private_pem, 0o600),
        (fmt.PUBLIC_KEY_FILE, keys.public_pem, 0o644),
        (identity_name, keys.age_identity, 0o600),
        (fmt.AGE_RECIPIENT_FILE, f"{keys.age_recipient}\n".encode(), 0o644),
    )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot make {folder}: {exc.strerror or exc}") from None
    written: list[Path] = []
    try:
        for name, data, mode in files:
            _write_new(folder / name, data, mode)
            written.append(folder / name)
    except CliError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    paths = {name: str(folder / name) for name, _, _ in files}
    if args.json:
        return print_json(
            {
                "dir": str(folder),
                "key": paths[fmt.KEY_FILE],
                "public_key": paths[fmt.PUBLIC_KEY_FILE],
                "kid": keys.kid,
                "fingerprint": keys.fingerprint,
                "age_identity": paths[identity_name],
                "age_recipient": keys.age_recipient,
                "protected": keys.protected,
            }
        )
    protection = "protected by your passphrase" if keys.protected else "NOT protected by a passphrase"
    print(f"Agency keys written to {folder}")
    print(f"  signing key    {paths[fmt.KEY_FILE]}  (secret; {protection})")
    print(f"  public key     {paths[fmt.PUBLIC_KEY_FILE]}")
    print(f"  key id         {keys.kid}")
    print(f"  fingerprint    {group4(keys.fingerprint)}")
    print(f"  age identity   {paths[identity_name]}  (secret: it opens evidence households seal to you)")
    print(f"  age recipient  {keys.age_recipient}")
    print(
        "Keep the secret files offline and backed up: a lost key cannot sign for the card households trust."
    )
    public = paths[fmt.PUBLIC_KEY_FILE]
    print(f'Next: porchlight agency card --key {public} --name "…" --out agency.trust.json')
    return 0


def card(args: argparse.Namespace) -> int:
    """``agency card --key K --name … [--jurisdiction …] [--website …] [--age-recipient R] [--expires T]
    --out F|-``"""
    _no_json_to_stdout(args)
    public_key = _public_key(args)
    now = _now_ms()
    expires_ms = now // 1000 * 1000 + CARD_DAYS * 86_400_000
    if args.expires is not None:
        try:
            expires_ms = parse_time(args.expires, "expires")
        except FormatError as exc:
            raise CliError(_as_option(exc, None)) from None
    recipient, beside = _age_recipient(args)
    try:
        data = fmt.make_card(
            public_key,
            name=args.name,
            jurisdiction=args.jurisdiction,
            website=args.website,
            age_recipient=recipient,
            expires_ms=expires_ms,
            now_ms=now,
        )
    except FormatError as exc:
        raise CliError(_as_option(exc, beside)) from None
    _emit(args.out, data)
    kid, full = kid_of(public_key), fingerprint(public_key)
    if args.json:
        return print_json(
            {
                "out": args.out,
                "kid": kid,
                "fingerprint": full,
                "name": args.name,
                "expires": format_time(expires_ms),
                "age_recipient": recipient,
            }
        )
    say = _say(args.out)
    say(f"Trust card of {args.name} written to {'standard output' if args.out == '-' else args.out}")
    say(f"  key id         {kid}")
    say(f"  fingerprint    {group4(full)}")
    say(f"  expires        {format_time(expires_ms)}")
    if recipient is not None:
        say(f"  age recipient  {recipient}" + (f"  (from {beside})" if beside is not None else ""))
    else:
        say("  age recipient  none: households cannot seal the evidence they share with you")
    say(
        "Publish the card and its fingerprint where households can check them "
        "(your website, a letter, in person)."
    )
    return 0


def sign_request(args: argparse.Namespace) -> int:
    """``agency sign-request --key K --in FILE|- --out F|- [--passphrase-stdin] [--json]``"""
    _no_json_to_stdout(args)
    if args.payload == "-" and args.passphrase_stdin:
        raise CliError("--in - and --passphrase-stdin both read standard input: give the payload as a file")
    pem = read_limited(str(args.key), KEY_MAX_BYTES, "a key file")
    if fmt.is_public(pem):
        raise CliError(f"{args.key} is the public key: sign with the signing key ({fmt.KEY_FILE})")
    key = _load(
        args.key, lambda passphrase: fmt.load_signing_key(pem, passphrase), pem, args.passphrase_stdin
    )
    payload = read_limited(args.payload, REQUEST_MAX_BYTES, "a request payload")
    source = "standard input" if args.payload == "-" else args.payload
    try:
        signed = fmt.sign_request(key, payload, now_ms=_now_ms())
    except FormatError as exc:
        raise CliError(f"{source}: {exc}") from None
    _emit(args.out, signed.text.encode("ascii"))
    request = signed.request
    if args.json:
        return print_json(
            {
                "out": args.out,
                "kid": request.kid,
                "id": request.id,
                "kind": str(request.kind),
                "issued": format_time(request.issued_ms),
                "expires": format_time(request.expires_ms),
                "added": list(signed.added),
            }
        )
    say = _say(args.out)
    say(f"Signed {request.kind.replace('_', ' ')} {request.id} with key {request.kid}")
    if request.case:
        say(f"  case     {request.case}")
    if request.window:
        say(f"  window   {format_time(request.window.start_ms)} → {format_time(request.window.end_ms)}")
    if request.refers_to:
        say(f"  refers   {request.refers_to}")
    say(f"  issued   {format_time(request.issued_ms)}")
    say(f"  expires  {format_time(request.expires_ms)}")
    if signed.added:
        say(f"  added    {', '.join(signed.added)} (not in the payload)")
    if args.out != "-":
        say(f"written to {args.out}")
        if not args.out.endswith(".request.jws"):
            print(
                "porchlight: note: households importing a folder read only *.request.jws files",
                file=sys.stderr,
            )
    return 0


def _as_option(exc: FormatError, beside: Path | None) -> str:
    """A card's FormatError told in terms of the option that gave the member (or the file the age
    recipient was read from)."""
    message, name = str(exc), exc.member or ""
    option = _OPTIONS.get(name)
    if option is None:
        return f"the card: {message}"
    if name == "age_recipient" and beside is not None:
        option = f"the age recipient in {beside}"
    message = message.replace(f"the member {name!r}", option)
    if message.startswith(name):
        message = option + message[len(name) :]
    return message if option in message else f"{option}: {message}"


def _public_key(args: argparse.Namespace) -> bytes:
    pem = read_limited(str(args.key), KEY_MAX_BYTES, "a key file")
    return _load(
        args.key, lambda passphrase: fmt.load_public_key(pem, passphrase), pem, args.passphrase_stdin
    )


def _load(path: Path, load: Callable[[str | None], T], pem: bytes, from_stdin: bool) -> T:
    """``load(passphrase)``, with the passphrase from standard input, asked on the terminal, or none."""
    passphrase = None
    if fmt.is_encrypted(pem):
        if from_stdin:
            passphrase = _stdin_passphrase()
        elif sys.stdin.isatty():
            passphrase = getpass.getpass(f"Passphrase of {path}: ")
        else:
            raise CliError(
                f"{path} is protected by a passphrase: give it with --passphrase-stdin (or run in a terminal)"
            )
    try:
        return load(passphrase)
    except FormatError as exc:
        raise CliError(f"{path}: {exc}") from None


def _age_recipient(args: argparse.Namespace) -> tuple[str | None, Path | None]:
    """(the recipient for the card, the file it was read from when it is the default)."""
    if args.no_age_recipient:
        return None, None
    if args.age_recipient is not None:
        return args.age_recipient, None
    beside = args.key.parent / fmt.AGE_RECIPIENT_FILE
    if not beside.exists():
        return None, None
    text = read_limited(str(beside), 1024, "an age recipient file").decode("utf-8", "replace").strip()
    return text, beside


def _stdin_passphrase() -> str:
    passphrase = stdin_line("--passphrase-stdin")
    if not passphrase:
        raise CliError("--passphrase-stdin given, but the first line of standard input is empty")
    return passphrase


def _new_passphrase() -> str:
    if not sys.stdin.isatty():
        raise CliError("--ask-passphrase needs a terminal; use --passphrase-stdin in a script")
    first = getpass.getpass("New passphrase: ")
    if not first:
        raise CliError("the passphrase is empty")
    if getpass.getpass("The same passphrase again: ") != first:
        raise CliError("the two passphrases differ; nothing was written")
    return first


def _no_json_to_stdout(args: argparse.Namespace) -> None:
    if args.json and args.out == "-":
        raise CliError("--json and --out - both write to standard output: give --out a file")


def _emit(out: str, data: bytes) -> None:
    """``data`` to standard output (``-``) or to the new file ``out`` (never replacing one)."""
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        _write_new(Path(out), data, 0o644)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file created with ``mode`` (so a secret is never readable by others, not
    even for a moment), refusing one that exists; a partly written file is removed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise CliError(f"{path} exists already: not replaced; choose another name or remove it") from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _say(out: str) -> Callable[[str], None]:
    """Print a summary line: to standard output, or to standard error when the file itself went there."""
    stream = sys.stderr if out == "-" else sys.stdout
    return lambda line: print(line, file=stream)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
