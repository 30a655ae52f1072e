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
    NotFoundError,
    Rule,
    StorageError,
    UnavailableError,
    ValidationError,
)

__all__ = [
    "AuthError",
    "CancelledError",
    "ConflictError",
    "DeviceError",
    "HubError",
    "NotFoundError",
    "Rule",
    "StorageError",
    "UnavailableError",
    "ValidationError",
]
