"""What every community format shares (formats/README.md, "Common rules"): the error a refused file
gets, strict base64url, strict RFC 3339 UTC times, key ids and fingerprints, and typed members.

Strict means what a lenient parser lets through is refused here with a reason: ``datetime``'s
``fromisoformat`` takes dates without a time, basic formats (``20261120T013000Z``) and offsets; the
``base64`` module skips characters it does not know and ignores stray bits; ``\\d`` in a pattern
matches Arabic-Indic and other digits. Each of those is a :class:`FormatError` naming the member.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from hub.community.formats.strict_json import JsonError, loads

__all__ = [
    "FormatError",
    "MissingMemberError",
    "b64url_decode",
    "b64url_encode",
    "fingerprint",
    "format_time",
    "group4",
    "json_object",
    "kid_of",
    "member",
    "optional",
    "parse_time",
    "plain_text",
    "printable",
]

T = TypeVar("T")

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Refused in text shown to a person: the control characters (Unicode category Cc, which is exactly
#: C0, DEL and C1) and the characters that reorder the text around them (bidi embeddings, overrides
#: and isolates), which can make a name read as another. The second pattern lets a message keep its
#: line breaks and tabs.
_CONTROLS = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_REFUSED = re.compile(f"[{_CONTROLS}]")
_REFUSED_MULTILINE = re.compile(f"(?![\\t\\n\\r])[{_CONTROLS}]")
_TYPE_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    dict: "an object",
    list: "a list",
    bool: "true or false",
}


class FormatError(ValueError):
    """A file the format refuses; ``str()`` says why, ``member`` names the JSON member (or None for
    the file as a whole: its size, its encoding, its JSON)."""

    def __init__(self, message: str, *, member: str | None = None) -> None:
        super().__init__(message)
        self.member = member


class MissingMemberError(FormatError):
    """A required member is not there at all (as opposed to there with a wrong value)."""


def json_object(data: bytes | str, what: str) -> dict[str, Any]:
    """``data`` read as strict JSON that must be an object; a FormatError starting with ``what``
    (``"not a trust card"``, ``"the payload"``) says what is wrong."""
    try:
        obj = loads(data)
    except JsonError as exc:
        raise FormatError(f"{what}: {exc}") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: the text is JSON but not an object")
    return obj


def member(obj: Mapping[str, Any], name: str, kind: type[T], *, where: str = "") -> T:
    """``obj[name]``, which must be present and of ``kind``. A bool is not a number: not for ``int``
    (a whole number), nor for ``float``, which takes any JSON number (``400`` as well as ``400.5``)."""
    path = f"{where}.{name}" if where else name
    if name not in obj:
        raise MissingMemberError(f"the member {path!r} is missing", member=path)
    value = obj[name]
    if not _of_kind(value, kind):
        raise FormatError(
            f"the member {path!r} must be {_TYPE_NAMES.get(kind, kind.__name__)}, not {_json_type(value)}",
            member=path,
        )
    return cast(T, value)  # of kind, as _of_kind checked (for float: an int or a float)


def optional(obj: Mapping[str, Any], name: str, kind: type[T], *, where: str = "") -> T | None:
    """``obj[name]`` checked as :func:`member` does, or None when it is absent or null."""
    return None if obj.get(name) is None else member(obj, name, kind, where=where)


def plain_text(value: str, path: str, *, max_chars: int, empty: bool = False, multiline: bool = False) -> str:
    """``value`` checked as text to show a person: not empty (unless ``empty``), at most ``max_chars``,
    no control characters (but line breaks and tabs when ``multiline``) and no characters that
    reorder the text around them."""
    if not value.strip() and not empty:
        raise FormatError(f"the member {path!r} is empty", member=path)
    if len(value) > max_chars:
        raise FormatError(f"the member {path!r} is longer than {max_chars} characters", member=path)
    found = (_REFUSED_MULTILINE if multiline else _REFUSED).search(value)
    if found is not None:
        raise FormatError(
            f"the member {path!r} holds the control character U+{ord(found.group()):04X}", member=path
        )
    return value


def printable(value: str, max_chars: int) -> str:
    """``value`` made safe to show on one line, never refused: each character :func:`plain_text`
    refuses becomes U+FFFD, and text past ``max_chars`` is cut with an ellipsis (for labels such as
    a received file's name, which are shown but are not part of any format)."""
    text = _REFUSED.sub("\ufffd", value)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def b64url_encode(raw: bytes) -> str:
    """``raw`` as base64url without padding (RFC 7515, section 2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, path: str) -> bytes:
    """Strict base64url without padding: only the URL-safe alphabet, no ``=``, no stray bits."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise FormatError(f"the member {path!r} is not base64url (RFC 4648 §5, no padding)", member=path)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:  # the last character carries bits that are not part of the bytes
        raise FormatError(f"the member {path!r} is not canonical base64url (stray bits)", member=path)
    return raw


def parse_time(text: str, path: str) -> int:
    """An RFC 3339 time in UTC with a ``Z`` (``2026-11-20T01:30:00Z``, fractions allowed) as ms since
    the epoch; a date without a time, a basic format, an offset or a lower-case ``t``/``z`` is refused."""
    m = _TIME.fullmatch(text)
    if m is None:
        raise FormatError(
            f"the member {path!r} is not an RFC 3339 UTC time like 2026-11-20T01:30:00Z: {text[:40]!r}",
            member=path,
        )
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if second == 60:
        raise FormatError(f"the member {path!r} is a leap second, which is not accepted", member=path)
    try:
        when = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as exc:
        raise FormatError(f"the member {path!r} is not a real time: {text!r} ({exc})", member=path) from None
    ms = int((m.group(7) or ".0")[1:].ljust(3, "0")[:3])
    return (when - _EPOCH) // dt.timedelta(seconds=1) * 1000 + ms


def format_time(ms: int, *, millis: bool = False) -> str:
    """``ms`` since the epoch as the formats write a time: RFC 3339 UTC with ``Z``, in whole seconds
    (``2026-11-20T01:30:00Z``) or with milliseconds when there are any, or always with ``millis``
    (as audit entries are); :func:`parse_time` reads it back exactly. Integer arithmetic: exact."""
    when = _EPOCH + dt.timedelta(milliseconds=ms)
    fraction = f".{ms % 1000:03d}" if millis or ms % 1000 else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def fingerprint(public_key: bytes) -> str:
    """The full fingerprint of a raw public key: SHA-256, 64 lower-case hex characters."""
    return hashlib.sha256(public_key).hexdigest()


def kid_of(public_key: bytes) -> str:
    """A key's id: the first 16 hex characters of the SHA-256 of its raw bytes (not RFC 7638)."""
    return fingerprint(public_key)[:16]


def group4(hex_text: str) -> str:
    """``"0a1b2c3d…"`` as ``"0a1b 2c3d …"``, for comparing by eye."""
    return " ".join(hex_text[i : i + 4] for i in range(0, len(hex_text), 4))


def _of_kind(value: Any, kind: type) -> bool:
    if kind in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, (int, float) if kind is float else kind)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return _TYPE_NAMES.get(type(value), type(value).__name__)
