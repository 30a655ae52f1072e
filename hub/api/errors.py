"""The errors a Hub API call raises: the hub's one family (see :mod:`hub.core.errors`).

A client catches :class:`HubError` and shows ``str(exc)``; it looks at the subclass only to decide
what to do (mark a form field: :attr:`ValidationError.field`; offer to retry; say "restart the hub").
"""

from __future__ import annotations

from hub.core.errors import (
    AuthError,
    CancelledError,
    ConflictError,
    DeviceError,
    HubError,
    HubLockedError,
    HubStoppedError,
    NotFoundError,
    Rule,
    StorageError,
    StorageUnavailable,
    UnavailableError,
    ValidationError,
)

__all__ = [
    "AuthError",
    "CancelledError",
    "ConflictError",
    "DeviceError",
    "HubError",
    "HubLockedError",
    "HubStoppedError",
    "NotFoundError",
    "Rule",
    "HubVersionError",
    "ProtocolError",
    "StorageError",
    "StorageUnavailable",
    "UnavailableError",
    "ValidationError",
]


class ProtocolError(HubError):
    """A message on ``hub.sock`` broke the wire's rules (malformed, oversized, cut off, out of turn);
    the connection that carried it is closed."""


class HubVersionError(ProtocolError):
    """The running hub speaks another version of the Hub API than this client: restart the hub
    (``porchlight stop``, then ``porchlight serve``) so that both run the same Porchlight."""
