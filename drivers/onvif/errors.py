"""Translate onvif-zeep-async / zeep / aiohttp / asyncio / OS exceptions into typed driver errors.

Every ONVIF module funnels its failures through :func:`translate`, so the UI can map the cause
(wrong password, nothing answering, not a usable camera) to a precise message. Messages are one
line, written for a homeowner, and never contain a password or a URL with credentials in it.

Importing this module also imports the ``onvif`` package quietly (see :func:`import_onvif`).
"""

from __future__ import annotations

import errno
import logging
import re
import socket
from typing import Any

import aiohttp
import zeep.exceptions

from drivers.base import AuthError, DriverError, UnreachableError, UnsupportedError
from drivers.scrub import redact

logger = logging.getLogger(__name__)

_AUTH_TEXT = re.compile(
    r"(?i)not\s*authori[sz]ed|unauthori[sz]ed|authenticat|authority\s*failure|access\s*denied"
    r"|permission\s*denied|invalid\s*(?:user|password|credential)|wrong\s*(?:user|password)"
)
_AUTH_STATUS = frozenset({401, 403})
_NOT_SOAP = "{who} answered{during} with something that is not ONVIF (SOAP): is this the camera's ONVIF port?"


def import_onvif() -> Any:
    """Import the ``onvif`` package without its side effects on logging; return the module.

    onvif-zeep-async calls ``logging.basicConfig(level=INFO)`` when imported (which would attach
    a stderr handler to the root logger of a process that has none yet), and its transport logs
    every SOAP body at DEBUG, WS-Security header (password digest, nonce) included.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import onvif
        import onvif.client  # noqa: F401 - the module that calls basicConfig
        import onvif.util  # noqa: F401
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    logging.getLogger("onvif.zeep_aiohttp").setLevel(logging.INFO)  # SOAP bodies carry the digest
    return onvif


_onvif = import_onvif()
from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError  # noqa: E402


def _short(text: object, limit: int = 120) -> str:
    line = " ".join(redact(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _cap(where: str) -> str:
    return where[:1].upper() + where[1:]


def _fault_text(fault: zeep.exceptions.Fault) -> str:
    parts = [str(fault.message or ""), str(fault.code or "")]
    subcodes = fault.subcodes if isinstance(fault.subcodes, list) else [fault.subcodes]
    parts += [getattr(code, "text", None) or str(code) for code in subcodes if code is not None]
    return " ".join(p for p in parts if p)


def is_auth_fault(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the credentials were refused or are missing."""
    for err in _chain(exc):
        if isinstance(err, ONVIFAuthError):
            return True
        if isinstance(err, zeep.exceptions.Fault):
            text = _fault_text(err)
            if "NotAuthorized" in text or _AUTH_TEXT.search(text):
                return True
        if isinstance(err, zeep.exceptions.TransportError) and err.status_code in _AUTH_STATUS:
            return True
        if isinstance(err, aiohttp.ClientResponseError) and err.status in _AUTH_STATUS:
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it wraps (``__cause__`` / ``__context__``), outermost first."""
    seen: list[BaseException] = []
    err: BaseException | None = exc
    while err is not None and err not in seen and len(seen) < 8:
        seen.append(err)
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    return seen


def _root_os_error(exc: BaseException) -> OSError | None:
    for err in _chain(exc):
        if isinstance(err, aiohttp.ClientConnectorError):
            return err.os_error
        if isinstance(err, OSError) and not isinstance(err, aiohttp.ClientError):
            return err
    return None


def translate(
    exc: BaseException,
    where: str,
    *,
    has_credentials: bool | None = None,
    action: str | None = None,
    timeout_s: float | None = None,
) -> DriverError:
    """Map ``exc`` to AuthError / UnreachableError / UnsupportedError / DriverError.

    ``where`` names the device for the message, e.g. ``"the camera at 192.0.2.10:80"``;
    ``has_credentials`` says whether a username/password was sent (None: unknown);
    ``action`` names the ONVIF operation under way (e.g. ``"GetProfiles"``);
    ``timeout_s`` is the deadline that expired, for timeout messages.
    A DriverError is returned unchanged.
    """
    if isinstance(exc, DriverError):
        return exc
    who = _cap(where)
    during = f" ({action})" if action else ""
    if is_auth_fault(exc):
        if has_credentials is False:
            return AuthError(f"{who} requires a username and password")
        if has_credentials is True:
            return AuthError(f"{who} refused the username or password")
        return AuthError(f"{who} refused access: check the username and password")

    chain = _chain(exc)
    # asyncio.TimeoutError is TimeoutError (3.11); aiohttp's timeouts derive from it.
    if any(isinstance(e, ONVIFTimeoutError | TimeoutError) for e in chain):
        within = f" within {timeout_s:g} s" if timeout_s else " in time"
        return UnreachableError(f"{who} did not answer{within}{during}")

    os_error = _root_os_error(exc)
    if any(isinstance(e, aiohttp.ClientConnectorDNSError | socket.gaierror) for e in chain):
        return UnreachableError(f"{who} could not be found: the host name could not be resolved")
    if os_error is not None:
        if isinstance(os_error, ConnectionRefusedError) or os_error.errno == errno.ECONNREFUSED:
            return UnreachableError(f"{who} refused the connection (nothing listens on that port)")
        if os_error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN):
            return UnreachableError(f"{who} is unreachable (no route to the host)")
        if os_error.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
            return UnreachableError(f"{who} closed the connection{during}")
        return UnreachableError(f"{who} could not be reached: {_short(os_error.strerror or os_error)}")
    for err in chain:
        if isinstance(err, aiohttp.ServerDisconnectedError | aiohttp.ClientConnectionError):
            return UnreachableError(f"{who} closed the connection{during}")
        if isinstance(err, aiohttp.InvalidURL):
            return UnreachableError(f"{who} is not a valid network address")

    for err in chain:
        if isinstance(err, zeep.exceptions.Fault):
            text = _fault_text(err)
            if re.search(r"(?i)ActionNotSupported|not\s*supported|not\s*implemented", text):
                return UnsupportedError(f"{who} does not support {action or 'this request'}")
            if str(err.message).startswith(
                "Unknown fault occur"
            ):  # zeep: an error reply without a SOAP Fault
                return UnsupportedError(_NOT_SOAP.format(who=who, during=during))
            return DriverError(f"{who} reported an error{during}: {_short(err.message or text)}")
        if isinstance(err, zeep.exceptions.TransportError):
            if err.status_code == 404:
                return UnsupportedError(
                    f"{who} has no ONVIF service at this address (HTTP 404): check the port"
                )
            if err.status_code in (200, 400, 405, 500, 501) or not err.status_code:
                return UnsupportedError(_NOT_SOAP.format(who=who, during=during))
            return DriverError(f"{who} answered{during} with HTTP error {err.status_code}")
        if isinstance(err, zeep.exceptions.XMLSyntaxError | zeep.exceptions.XMLParseError):
            return UnsupportedError(f"{who} sent a malformed ONVIF reply{during}")
        if isinstance(err, zeep.exceptions.Error):
            return UnsupportedError(f"{who} sent an ONVIF reply Porchlight does not understand{during}")
        if isinstance(err, aiohttp.ClientResponseError):
            return DriverError(f"{who} answered{during} with HTTP error {err.status}")

    if isinstance(exc, ONVIFError):
        text = str(exc)
        if "support service" in text:
            service = text.split("support service:", 1)[-1].split(" with ", 1)[0].strip() or "this"
            return UnsupportedError(f"{who} does not offer the ONVIF {service} service")
        if "doesn`t exist" in text or "No such file" in text:
            return DriverError("Porchlight's ONVIF description files are missing: reinstall Porchlight")
    if isinstance(exc, AttributeError | KeyError | TypeError | ValueError | IndexError):
        logger.debug("unexpected reply from %s%s: %s: %s", where, during, type(exc).__name__, _short(exc))
        return UnsupportedError(f"{who} sent a reply Porchlight does not understand{during}")
    logger.debug("untranslated ONVIF error from %s%s: %s", where, during, type(exc).__name__)
    return DriverError(f"{who} failed{during}: {type(exc).__name__}: {_short(exc)}")


__all__ = [
    "ONVIFAuthError",
    "ONVIFError",
    "ONVIFTimeoutError",
    "import_onvif",
    "is_auth_fault",
    "translate",
]
