"""The hub's errors: one family, a subclass per cause, each with a message a person can read as it is.

A client (the CLI today, the Hub API and the desktop app next) catches :class:`HubError` and shows
``str(exc)``; it looks at the subclass only to decide what to do (highlight a form field, offer to
retry, say "restart the hub"). A :class:`ValidationError` names the field it is about and the rule the
value broke, so a form can mark that field.

What a user or a client cannot cause (a bad argument between two parts of the hub, a damaged file the
hub parses and then skips) stays a plain ``ValueError`` or ``TypeError``: those are bugs or internal
signals, not answers to give a person.

Two subclasses keep a built-in base for the code that caught them before the family existed:
:class:`NotFoundError` is a ``LookupError`` and :class:`ValidationError` a ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

#: The rules a value can break, as :attr:`ValidationError.rule` names them.
Rule = Literal[
    "required",  # missing or empty
    "too_long",  # longer than allowed
    "one_of",  # not one of a fixed set of choices
    "min",  # below the lowest allowed value
    "max",  # above the highest allowed value
    "type",  # not the kind of value the field holds
    "format",  # text that does not parse (a time, a size, a URL)
    "unique",  # another item already has this value
    "unknown",  # a field that does not exist
    "immutable",  # a field that never changes once set
    "no_credentials",  # a secret where none may be (it belongs in the keyring)
]


class HubError(Exception):
    """Base of every error the hub reports to a client; ``str(exc)`` is the message to show."""


class NotFoundError(HubError, LookupError):
    """The thing asked for does not exist (or no longer does): a camera, an event, recordings."""


class ConflictError(HubError):
    """The request clashes with the current state: the data folder is in use by another hub."""


class HubLockedError(ConflictError):
    """Another hub process already uses this data folder (``info``: its pid and start, as its lock
    file says)."""

    def __init__(self, data_dir: Path, info: dict[str, Any] | None) -> None:
        self.data_dir = data_dir
        self.info = info or {}
        pid = self.info.get("pid")
        who = f"pid {pid}" if pid else "another process"
        since = f", started {self.info['started']}" if self.info.get("started") else ""
        super().__init__(
            f"Porchlight is already running ({who}{since}) with the data folder {data_dir}; "
            "close it first or use another data folder."
        )


class ValidationError(HubError, ValueError):
    """A value was refused: ``field`` names it (as the data type spells it), ``rule`` what it broke."""

    def __init__(self, message: str, *, field: str, rule: Rule) -> None:
        super().__init__(message)
        self.field = field
        self.rule: Rule = rule


class StorageError(HubError):
    """The recordings folder cannot be used as asked: missing, full, unwritable, another index's, or
    its files cannot be read."""


class StorageUnavailable(StorageError):
    """The storage folder cannot take a new segment now; ``state`` is the storage state ("missing",
    "foreign", "unwritable" or "full")."""

    def __init__(self, message: str, state: str = "missing") -> None:
        super().__init__(message)
        self.state = state


class UnavailableError(HubError):
    """Something the hub needs is not available now (the OS keyring, the database); trying again
    later, once it is, can succeed."""


class HubStoppedError(UnavailableError):
    """The hub stopped on purpose: it was asked to (``porchlight stop``, "Quit and stop recording"), it
    was signalled (Ctrl-C, SIGTERM at shut-down), its data dir was deleted or its lifetime cap came.
    A client waits for it to run again and never starts one in its place; a hub that went away
    without saying this (killed, crashed) may be restarted."""


class DeviceError(HubError):
    """A camera or device failed or refused what was asked of it (unreachable, unsupported, a broken
    stream)."""


class AuthError(DeviceError):
    """A camera refused the stored credentials."""


class CancelledError(HubError):
    """A long task (an export) was cancelled by the client that asked for it; nothing it would have
    written is left behind."""
