"""What every value of the Hub API builds on: the two kinds of values (answers and requests), the
choices they share, and the secret that never shows."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

__all__ = [
    "AudioPolicy",
    "CameraState",
    "Credentials",
    "EventSource",
    "Mode",
    "Point",
    "Request",
    "Secret",
    "StorageState",
    "Value",
    "ZoneKind",
]

Mode = Literal["continuous", "motion"]
AudioPolicy = Literal["keep", "drop"]
EventSource = Literal["local", "camera", "both"]  # motion from the hub's detector, the camera's, or both
ZoneKind = Literal["zone", "mask"]
CameraState = Literal[
    "stopped",  # disabled, or the hub is not running
    "connecting",
    "recording",
    "reconnecting",
    "auth_failed",
    "keyring_locked",  # the camera's password waits for the keyring to be unlocked (log-in)
    "offline",
    "storage_missing",
    "disk_full",
]
#: The storage folder: usable ("ok"), or why not; "not initialized" before a hub first ran on it.
StorageState = Literal["ok", "missing", "foreign", "unwritable", "full", "not initialized"]
Point = tuple[float, float]


class Value(Struct, frozen=True, kw_only=True):
    """Base of what the hub answers with: unknown fields are ignored when decoding."""


class Request(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of what a client sends: unknown fields are refused when decoding."""


# --- secrets ---------------------------------------------------------------------------------------


class Secret(Struct, frozen=True, forbid_unknown_fields=True):
    """A password in transit: its text never shows in ``repr``, ``str``, logs or errors."""

    value: str

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def reveal(self) -> str:
        """The text itself: for the keyring, and nothing else."""
        return self.value


class Credentials(Request, frozen=True, kw_only=True):
    """A camera's username and password, on their way to the hub's keyring."""

    username: str
    password: Secret
