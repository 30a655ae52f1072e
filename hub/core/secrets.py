"""Camera credentials in the OS keyring, behind one small module.

Never in the database, config files, logs, exports or exceptions. When no secure backend exists
(a headless box without Secret Service), say so clearly; never fall back to a plaintext store.
Keyring calls may block (D-Bus): call them off the GUI thread.

Clients (the CLI, the app) take the credential type and the one scrubber from here, so that they
need nothing of ``drivers/``: :func:`redact` masks every secret the process knows of (and any
``user:password@`` or ``?password=`` in a URL); :func:`split_credentials` takes them out of a URL.
"""

from __future__ import annotations

import logging
import time

import keyring
import keyring.backend
import keyring.errors

from drivers.base import Credentials
from drivers.scrub import redact, register_secret, split_credentials
from hub.core.errors import UnavailableError

__all__ = [
    "LOCKED_MESSAGE",
    "NO_BACKEND_MESSAGE",
    "Credentials",
    "SERVICE",
    "SecretsLocked",
    "SecretsUnavailable",
    "backend",
    "delete_camera_credentials",
    "get_camera_credentials",
    "get_index_secret",
    "redact",
    "set_camera_credentials",
    "set_index_secret",
    "split_credentials",
]

logger = logging.getLogger(__name__)

SERVICE = "porchlight"

NO_BACKEND_MESSAGE = (
    "No secure password store (OS keyring) is available, so camera passwords cannot be saved. "
    "Start a Secret Service such as gnome-keyring (headless: `dbus-run-session -- sh -c "
    "'echo -n pw | gnome-keyring-daemon --unlock; porchlight ...'`) or choose a backend with "
    "PYTHON_KEYRING_BACKEND. Porchlight never stores passwords in plain text."
)


#: What a camera waiting for a locked keyring says (its state is ``keyring_locked``).
LOCKED_MESSAGE = "keyring locked — waiting for log-in (the password is read as soon as it is unlocked)"
#: Once the keyring was found locked, it is asked again only after this many seconds: all cameras
#: share one attempt (a desktop keyring may show an unlock prompt for each), not one each.
LOCKED_RECHECK_S = 10.0

_locked_until = 0.0  # monotonic time before which the keyring is taken to be locked still


class SecretsUnavailable(UnavailableError):
    """No secure keyring backend is usable, or the keyring refused to store or read a secret."""


class SecretsLocked(SecretsUnavailable):
    """The keyring is there but locked: before log-in (a user service started at boot), or locked by
    its owner. Secrets can be read again once it is unlocked; nothing is wrong with them."""


def _insecure(backend: keyring.backend.KeyringBackend) -> bool:
    module = type(backend).__module__
    name = type(backend).__name__
    if module.startswith("keyring.backends.fail") or module.startswith("keyring.backends.null"):
        return True
    # keyrings.alt's file backends are plaintext or weakly obfuscated (base64): refuse them.
    return module.startswith("keyrings.alt") and "Encrypted" not in name


def backend() -> keyring.backend.KeyringBackend:
    """The keyring backend in use; raises SecretsUnavailable when it is not a secure one."""
    kr = keyring.get_keyring()
    inner = getattr(kr, "backends", None)  # ChainerBackend: look at what it chains
    candidates = list(inner) if inner else [kr]
    if not candidates or all(_insecure(b) for b in candidates):
        raise SecretsUnavailable(NO_BACKEND_MESSAGE)
    return kr


def _key(scope: str, camera_id: str, field: str) -> str:
    # ``scope`` is the index's own id: two data dirs with a camera of the same name never share.
    return f"{scope}/camera/{camera_id}/{field}"


def set_camera_credentials(scope: str, camera_id: str, username: str, password: str) -> None:
    """Store a camera's username and password in the keyring (``scope``: the index id)."""
    kr = backend()
    try:
        kr.set_password(SERVICE, _key(scope, camera_id, "username"), username)
        kr.set_password(SERVICE, _key(scope, camera_id, "password"), password)
    except keyring.errors.KeyringLocked:
        raise SecretsLocked("the keyring is locked: unlock it (log in), then try again") from None
    except keyring.errors.KeyringError as exc:
        raise SecretsUnavailable(f"the keyring refused to store the password: {exc}") from None
    register_secret(password)


def get_camera_credentials(scope: str, camera_id: str) -> Credentials | None:
    """A camera's credentials, or None when none are stored. SecretsLocked while the keyring is
    locked (asked again at most every LOCKED_RECHECK_S, whoever asks)."""
    global _locked_until
    if time.monotonic() < _locked_until:
        raise SecretsLocked(LOCKED_MESSAGE)
    kr = backend()
    try:
        username = kr.get_password(SERVICE, _key(scope, camera_id, "username"))
        password = kr.get_password(SERVICE, _key(scope, camera_id, "password"))
    except keyring.errors.KeyringLocked:
        _locked_until = time.monotonic() + LOCKED_RECHECK_S
        logger.info("the keyring is locked: camera passwords wait for it to be unlocked")
        raise SecretsLocked(LOCKED_MESSAGE) from None
    except keyring.errors.KeyringError as exc:
        raise SecretsUnavailable(f"the keyring could not be read: {exc}") from None
    if username is None:
        return None
    register_secret(password)
    return Credentials(username, password or "")


def delete_camera_credentials(scope: str, camera_id: str) -> None:
    """Forget a camera's credentials (missing ones are fine)."""
    kr = backend()
    for field in ("username", "password"):
        try:
            kr.delete_password(SERVICE, _key(scope, camera_id, field))
        except keyring.errors.PasswordDeleteError:
            pass


def get_index_secret(scope: str, name: str) -> str | None:
    """A secret of the index ``scope`` (not a camera's: ``name`` says whose, like "audit/key"), or
    None when none is stored. SecretsLocked, SecretsUnavailable as for camera credentials."""
    kr = backend()
    try:
        return kr.get_password(SERVICE, f"{scope}/{name}")
    except keyring.errors.KeyringLocked:
        raise SecretsLocked(LOCKED_MESSAGE) from None
    except keyring.errors.KeyringError as exc:
        raise SecretsUnavailable(f"the keyring could not be read: {exc}") from None


def set_index_secret(scope: str, name: str, value: str) -> None:
    """Store a secret of the index ``scope`` in the keyring."""
    kr = backend()
    try:
        kr.set_password(SERVICE, f"{scope}/{name}", value)
    except keyring.errors.KeyringLocked:
        raise SecretsLocked("the keyring is locked: unlock it (log in), then try again") from None
    except keyring.errors.KeyringError as exc:
        raise SecretsUnavailable(f"the keyring refused to store a secret: {exc}") from None
