"""The payload of an agency request or alert (formats/README.md, section 2), as typed values.

:func:`parse_payload` checks a payload that has already been read as strict JSON (and whose signature
:mod:`hub.community.formats.request` has verified): every member the format requires for its kind,
each of its type and in its range. Unknown members are ignored, and an optional member that is null
counts as absent.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from hub.community.formats.fields import (
    FormatError,
    MissingMemberError,
    member,
    optional,
    parse_time,
    plain_text,
)

__all__ = [
    "Area",
    "Kind",
    "LegalBasis",
    "Request",
    "UnsupportedVersionError",
    "Window",
    "parse_payload",
    "uuid_urn",
]

_UUID_URN = re.compile(
    r"urn:uuid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.I | re.A
)
_TEXT_MAX = 300
_MESSAGE_MAX = 10_000
_RETENTION_DAYS_MAX = 1_000_000
_RADIUS_MAX_M = 20_040_000  # half the Earth's circumference: a radius past it covers everything


class Kind(enum.StrEnum):
    """What a request file is."""

    FOOTAGE_REQUEST = "footage_request"
    ALERT = "alert"  # a safety notice: nothing to reply
    WITHDRAWAL = "withdrawal"  # withdraws or replaces ``refers_to``, an earlier request of the same card


class LegalBasis(enum.StrEnum):
    """The basis the agency claims (a claim, shown as one; not a fact the hub checked)."""

    VOLUNTARY = "voluntary"
    WARRANT = "warrant"


@dataclass(frozen=True)
class Window:
    """The time the agency asks about: ``start`` ≤ t < ``end``, ms since the epoch (UTC)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Area:
    """A circle on the Earth: WGS 84 degrees and a radius in metres."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Request:
    """A verified request: signed by the card ``kid``, in date, every member checked.

    ``id`` and ``refers_to`` are kept as ``urn:uuid:`` and lower-case hex whatever case the file used
    (a UUID's hex digits are case-insensitive), so a duplicate is found however it was spelt.
    Optional text members are None when absent or null."""

    kid: str
    id: str
    kind: Kind
    issued_ms: int
    expires_ms: int
    agency: str | None = None
    case: str | None = None
    title: str | None = None
    message: str | None = None
    contact: str | None = None
    window: Window | None = None
    area: Area | None = None
    retention_days: int | None = None
    legal_basis: LegalBasis | None = None
    warrant_ref: str | None = None
    refers_to: str | None = None

    @property
    def uuid(self) -> str:
        """The part after ``urn:uuid:``: what the owner types as a request's ID."""
        return self.id.removeprefix("urn:uuid:")


class UnsupportedVersionError(FormatError):
    """The payload is of a version (``v``) this reader does not know."""


def parse_payload(obj: dict[str, Any], kid: str) -> Request:
    """The payload of a request signed by the card ``kid``, checked; FormatError says what is wrong."""
    version = member(obj, "v", int)
    if version != 1:
        raise UnsupportedVersionError(
            f"the request is version {_short(version)}; this reader knows 1", member="v"
        )
    kind_text = member(obj, "kind", str)
    try:
        kind = Kind(kind_text)
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise FormatError(
            f"the member 'kind' is {kind_text[:40]!r}, not one of {kinds}", member="kind"
        ) from None
    request_id = uuid_urn(member(obj, "id", str), "id")
    issued_ms = parse_time(member(obj, "issued", str), "issued")
    expires_ms = parse_time(member(obj, "expires", str), "expires")
    if expires_ms <= issued_ms:
        raise FormatError("the request expires before it was issued", member="expires")
    needs = {Kind.FOOTAGE_REQUEST: ("case", "window"), Kind.WITHDRAWAL: ("refers_to",), Kind.ALERT: ()}[kind]
    for name in needs:
        if obj.get(name) is None:  # a null counts as missing
            raise MissingMemberError(f"the member {name!r} is missing (required in a {kind})", member=name)
    legal_basis = optional(obj, "legal_basis", str)
    if legal_basis is not None and legal_basis not in set(LegalBasis):
        raise FormatError(
            f"the member 'legal_basis' is {legal_basis[:40]!r}, not 'voluntary' or 'warrant'",
            member="legal_basis",
        )
    basis = None if legal_basis is None else LegalBasis(legal_basis)
    warrant_ref = _text(obj, "warrant_ref")
    if basis is LegalBasis.WARRANT and warrant_ref is None:
        raise MissingMemberError(
            "the member 'warrant_ref' is missing (required with legal_basis 'warrant')", member="warrant_ref"
        )
    refers_to = optional(obj, "refers_to", str)
    if refers_to is not None:
        refers_to = uuid_urn(refers_to, "refers_to")
        if refers_to == request_id:
            raise FormatError("the member 'refers_to' names the request itself", member="refers_to")
    case = _text(obj, "case")
    if kind is Kind.FOOTAGE_REQUEST and not case:
        raise FormatError("the member 'case' is empty", member="case")
    return Request(
        kid=kid,
        id=request_id,
        kind=kind,
        issued_ms=issued_ms,
        expires_ms=expires_ms,
        agency=_text(obj, "agency"),
        case=case,
        title=_text(obj, "title"),
        message=_text(obj, "message", max_chars=_MESSAGE_MAX, multiline=True),
        contact=_text(obj, "contact", multiline=True),
        window=_window(obj),
        area=_area(obj),
        retention_days=_retention_days(obj),
        legal_basis=basis,
        warrant_ref=warrant_ref,
        refers_to=refers_to,
    )


def _short(number: int) -> str:
    """A whole number as text for a message, even one of thousands of digits."""
    text = str(number)
    return text if len(text) <= 20 else f"{text[:12]}… ({len(text)} digits)"


def _text(
    obj: dict[str, Any], name: str, *, max_chars: int = _TEXT_MAX, multiline: bool = False
) -> str | None:
    value = optional(obj, name, str)
    if value is None:
        return None
    text = plain_text(value, name, max_chars=max_chars, empty=True, multiline=multiline)
    return text if text.strip() else None


def uuid_urn(text: str, path: str) -> str:
    """A ``urn:uuid:`` in the one spelling kept: prefix and hex digits in lower case."""
    match = _UUID_URN.fullmatch(text)
    if match is None:
        raise FormatError(
            f"the member {path!r} is not a urn:uuid: (like urn:uuid:5b1c2f9e-1d2c-4e5f-8a9b-0c1d2e3f4a5b): "
            f"{text[:60]!r}",
            member=path,
        )
    return "urn:uuid:" + match.group(1).lower()


def _number(obj: dict[str, Any], name: str, where: str) -> float:
    value = member(obj, name, float, where=where)
    try:
        return float(value)
    except OverflowError:  # a whole number of hundreds of digits
        raise FormatError(f"the member '{where}.{name}' is out of range", member=f"{where}.{name}") from None


def _window(obj: dict[str, Any]) -> Window | None:
    window = optional(obj, "window", dict)
    if window is None:
        return None
    start_ms = parse_time(member(window, "start", str, where="window"), "window.start")
    end_ms = parse_time(member(window, "end", str, where="window"), "window.end")
    if start_ms >= end_ms:
        raise FormatError("the window's start is not before its end", member="window")
    return Window(start_ms, end_ms)


def _area(obj: dict[str, Any]) -> Area | None:
    area = optional(obj, "area", dict)
    if area is None:
        return None
    lat, lon, radius_m = (_number(area, name, "area") for name in ("lat", "lon", "radius_m"))
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if not -limit <= value <= limit:
            raise FormatError(
                f"the member 'area.{name}' is {value}, outside ±{limit:g}°", member=f"area.{name}"
            )
    if not 0 < radius_m <= _RADIUS_MAX_M:
        raise FormatError(
            f"the member 'area.radius_m' is {radius_m:g}: a radius is more than 0 and at most {_RADIUS_MAX_M} m",
            member="area.radius_m",
        )
    return Area(lat, lon, radius_m)


def _retention_days(obj: dict[str, Any]) -> int | None:
    days = optional(obj, "retention_days", int)
    if days is not None and not 0 <= days <= _RETENTION_DAYS_MAX:
        raise FormatError(
            f"the member 'retention_days' is {_short(days)}: it is 0 to {_RETENTION_DAYS_MAX} days",
            member="retention_days",
        )
    return int(days) if days is not None else None
