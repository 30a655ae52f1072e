"""Strict JSON, as the community formats demand (formats/README.md, "Common rules").

Python's ``json`` module is lenient where these files must not be: it accepts ``NaN`` and
``Infinity`` (and reads ``1e999`` as infinity), keeps the last of two duplicate keys, lets escapes
make lone surrogates (text that is not Unicode) and decodes several encodings. Here each of those is
a :class:`JsonError` with a reason a person can act on.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["DuplicateKeyError", "JsonError", "NotANumberError", "loads"]

#: Nesting deeper than this is refused (no honest file nests this deep; Python's parser would recurse).
MAX_DEPTH = 64


class JsonError(ValueError):
    """The text is not strict JSON; ``str()`` says why."""


class DuplicateKeyError(JsonError):
    """An object names the same key twice (Python would keep the last silently)."""


class NotANumberError(JsonError):
    """``NaN``, ``Infinity``, or a number too large to be finite (``1e999``)."""


def loads(data: bytes | str) -> Any:
    """Parse ``data`` (UTF-8 bytes, or text) strictly; JsonError says what is wrong."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            raise JsonError("the text starts with a byte-order mark")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(f"not UTF-8 (byte {exc.start})") from None
    else:
        text = data
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
            parse_int=_integer,
        )
    except JsonError:
        raise
    except RecursionError:
        raise JsonError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise JsonError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    _check(value, 0)
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(f"duplicate key {key[:60]!r}")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise NotANumberError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotANumberError(f"the number {text[:24]} is out of range")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # longer than Python converts (4300 digits)
        raise JsonError(f"an integer of {len(text)} digits is out of range") from None


def _check(value: Any, depth: int) -> None:
    """Refuse deep nesting and strings that are not Unicode (lone surrogates made by escapes)."""
    if depth > MAX_DEPTH:
        raise JsonError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        _unicode(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _unicode(key)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonError("a string holds a lone surrogate escape (not Unicode text)") from None
