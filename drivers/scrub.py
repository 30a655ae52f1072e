"""The one place that knows how credentials hide in URLs and text, and keeps them out.

A URL carries a secret in its userinfo (``rtsp://user:pass@host/``) or, on some cameras, in query
fields (``?user=admin&password=...``). Everything that can carry a URL (driver and PyAV/FFmpeg errors,
log lines, statuses) passes through :func:`redact` before it is logged, stored or shown; URLs a
device hands out are cleaned with :func:`strip_credentials` before they are stored; the owner's own
URL is split with :func:`split_credentials` so the password goes to the keyring.
"""

from __future__ import annotations

import re
import threading
import urllib.parse

#: Query fields that carry a username or password on the cameras that put them in URLs.
SECRET_QUERY_KEYS = frozenset({"user", "username", "usr", "login", "password", "passwd", "pass", "pwd"})
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]*)@")
_SECRET_QUERY = re.compile(r"(?i)(?P<key>[?&;](?:" + "|".join(sorted(SECRET_QUERY_KEYS)) + r")=)[^&;#\s'\"]*")
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
    """``text`` as a string with URL credentials (userinfo, secret query fields) and registered
    secrets masked."""
    s = str(text)
    s = _USERINFO.sub(lambda m: m.group("scheme") + "***@", s)
    s = _SECRET_QUERY.sub(lambda m: m.group("key") + "***", s)
    for secret in _secrets:
        if secret in s:
            s = s.replace(secret, "***")
    return s


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a username or password in its userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "@" in url
    return parts.username is not None or parts.password is not None


def strip_credentials(url: str | None) -> tuple[str | None, bool]:
    """``url`` without userinfo or secret query fields, and whether it had any (None for no URL)."""
    if not url:
        return None, False
    parts = urllib.parse.urlsplit(url.strip())
    netloc = parts.netloc.rpartition("@")[2]
    fields = [f for f in parts.query.split("&") if f]
    kept = [f for f in fields if f.split("=", 1)[0].lower() not in SECRET_QUERY_KEYS]
    found = netloc != parts.netloc or len(kept) != len(fields)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "&".join(kept), parts.fragment)), found


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
