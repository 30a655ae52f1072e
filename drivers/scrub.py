"""Keep secrets out of every message: URLs with ``user:pass@`` and known passwords.

Everything that can carry a URL (PyAV/FFmpeg errors and log lines included) passes through
:func:`redact` before it is logged, stored as a status or shown.
"""

from __future__ import annotations

import re
import threading
import urllib.parse

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]*)@")
_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register_secret(secret: str | None) -> None:
    """Remember a secret (e.g. a camera password) so it is masked wherever it appears."""
    global _secrets
    if not secret or len(secret) < 3:  # too short to mask without mangling ordinary text
        return
    variants = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    with _lock:
        _secrets = _secrets | frozenset(variants)


def redact(text: object) -> str:
    """Return ``text`` as a string with credentials in URLs and registered secrets masked."""
    s = str(text)
    s = _USERINFO.sub(lambda m: m.group("scheme") + "***@", s)
    for secret in _secrets:
        if secret in s:
            s = s.replace(secret, "***")
    return s


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``scheme://user:pass@host/...`` into (credential-free URL, user, password)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return clean, user, password


def inject_credentials(url: str, username: str | None, password: str | None) -> str:
    """Put credentials into a URL for the moment of connecting (never store or log the result)."""
    if not username:
        return url
    parts = urllib.parse.urlsplit(url)
    userinfo = urllib.parse.quote(username, safe="")
    if password is not None:
        userinfo += ":" + urllib.parse.quote(password, safe="")
    return urllib.parse.urlunsplit(
        (
            parts.scheme,
            f"{userinfo}@{parts.netloc.rpartition('@')[2]}",
            parts.path,
            parts.query,
            parts.fragment,
        )
    )
