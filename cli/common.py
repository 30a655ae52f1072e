"""What every command group shares: the error that becomes exit status 1, argument types, the Hub API of
the data dir, credentials (from the URL or standard input) to send with a command, and row output."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from hub.api import HubApi, connect
from hub.api.client import SocketHub
from hub.api.errors import ValidationError
from hub.api.types import Credentials, Secret
from hub.api.util import parse_rfc3339, split_credentials

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A refused command: printed as one line (``porchlight: error: ...``), exit status 1.

    The hub's own errors (hub.core.errors.HubError) end the same way; raise CliError only for what the
    CLI itself checks, or to add the command's context to a hub error's message."""


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (``porchlight cameras add: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def command(parser: argparse.ArgumentParser, handler: Handler) -> argparse.ArgumentParser:
    """Bind ``handler`` to the (sub-)command ``parser``; ``cli.main`` calls it with the parsed args."""
    parser.set_defaults(handler=handler)
    return parser


def yes_no(text: str) -> bool:
    """Argument type: yes/no, y/n, true/false, on/off, 1/0."""
    if text.lower() in ("yes", "y", "true", "on", "1"):
        return True
    if text.lower() in ("no", "n", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError("expected yes or no")


def positive(text: str) -> float:
    """Argument type: a number that is not negative."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def hub_api(args: argparse.Namespace) -> HubApi:
    """The Hub API of the data dir named by --data-dir/--db-url (``with hub_api(args) as api:``)."""
    return connect(Path(args.data_dir), args.db_url)


def applied(api: HubApi) -> None:
    """After a change: a note on stderr when the running hub applied it (stdout stays as documented)."""
    if isinstance(api, SocketHub):
        print(f"porchlight: the running hub (pid {api.hub_pid}) applied the change", file=sys.stderr)


def stdin_line(option: str) -> str:
    """The first line of standard input, without its line break, for ``option`` (a secret that must
    never be on the command line); CliError when standard input is empty."""
    line = sys.stdin.readline()
    if not line:
        raise CliError(f"{option} given but standard input is empty")
    return line.rstrip("\r\n")


def _read_password(args: argparse.Namespace) -> str | None:
    return stdin_line("--password-stdin") if args.password_stdin else None


def credentials(args: argparse.Namespace, url: str | None) -> tuple[str | None, str | None, str | None]:
    """(credential-free URL, username, password) from the URL and/or --username/--password-stdin."""
    clean, url_user, url_pass = split_credentials(url) if url else (None, None, None)
    password = _read_password(args)
    if args.password_stdin and not args.username and not url_user:
        raise CliError("--password-stdin needs --username")
    if (url_user or url_pass) and (args.username or password is not None):
        raise CliError("give the credentials once: either in the URL or with --username/--password-stdin")
    return clean, args.username or url_user, password if password is not None else url_pass


def api_credentials(username: str | None, password: str | None) -> Credentials | None:
    """The credentials to send with a command (None when there is no username)."""
    return None if username is None else Credentials(username=username, password=Secret(password or ""))


def time_arg(text: str | None, what: str) -> int | None:
    """An RFC 3339 time argument in ms since the epoch (None when not given)."""
    if text is None:
        return None
    try:
        return parse_rfc3339(text, field=what)
    except ValidationError as exc:
        raise CliError(f"{what}: {exc}") from None


def time_window(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """(--start, --end) in ms; refuses an end at or before the start."""
    start, end = time_arg(args.start, "--start"), time_arg(args.end, "--end")
    if start is not None and end is not None and end <= start:
        raise CliError("--end must be after --start")
    return start, end


def print_json(value: Any) -> int:
    """Print ``value`` as indented JSON (the README's shapes); exit status 0."""
    print(json.dumps(value, indent=2))
    return 0


def print_rows(
    args: argparse.Namespace, rows: list[dict[str, Any]], line: Callable[[dict[str, Any]], str], empty: str
) -> int:
    """``--json``: the rows as a JSON array; else one line per row (``empty`` on stderr when none)."""
    if args.json:
        return print_json(rows)
    for r in rows:
        print(line(r))
    if not rows:
        print(empty, file=sys.stderr)
    return 0


def read_limited(path: str, limit: int, what: str) -> bytes:
    """The bytes of the file at ``path`` (``-``: standard input), refused with a CliError once they
    pass ``limit`` (read no further) or when ``path`` is not a regular file (a FIFO or a device would
    block or never end)."""
    data = read_prefix(path, limit)
    if len(data) > limit:
        raise CliError(
            f"{'standard input' if path == '-' else path}: {what} is at most {limit} bytes; this is larger"
        )
    return data


def read_prefix(path: str, limit: int, *, follow: bool = True) -> bytes:
    """At most ``limit`` + 1 bytes of the file at ``path`` (``-``: standard input): more than ``limit``
    tells the caller the file is larger, without reading it all. CliError when ``path`` cannot be
    read, is not a regular file, or (unless ``follow``) is a symbolic link."""
    if path == "-":
        return sys.stdin.buffer.read(limit + 1)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags if follow else flags | os.O_NOFOLLOW)
    except OSError as exc:
        if not follow and os.path.islink(path):
            raise CliError(f"{path} is a link: not followed") from None
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CliError(f"{path} is not a file")
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read(limit + 1)
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
