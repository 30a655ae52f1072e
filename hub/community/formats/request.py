"""Agency requests and alerts (formats/README.md, section 2): a JWS compact serialization (RFC 7515)
signed with Ed25519 by a key the owner trusts.

:func:`verify` reads one file and answers with a :class:`Request` or a :class:`Rejection`, never an
exception: every way a file can fail has a :class:`Reason` and a message an owner can act on. The
checks run in this order, so the reason is the first thing wrong:

1. size (at most 64 KiB, before anything is parsed), then the compact form (three base64url parts);
2. the protected header as strict JSON: ``alg`` Ed25519 or EdDSA and nothing else (``none``, HS256 and
   RS256 are refused by name), ``typ`` porchlight-request+jws, no ``crit`` extension; ``jwk``, ``jku``,
   ``x5u`` and ``x5c`` are never read: a key comes only from a card the owner trusted;
3. ``kid`` names a card the owner holds, which is neither revoked nor expired;
4. the Ed25519 signature over the exact bytes of the first two parts;
5. the payload as strict JSON (no duplicate keys, no NaN) with every member it needs, typed;
6. time: ``issued`` at most 5 minutes ahead of ``now`` (clocks drift), ``now`` before ``expires``.

Nothing here reads a clock, a file or an index: the caller gives the bytes, the cards it trusts and
the time, so the same file checked twice with the same inputs gets the same answer.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.community.formats.fields import FormatError, MissingMemberError, b64url_decode, member
from hub.community.formats.request_payload import (
    Area,
    Kind,
    LegalBasis,
    Request,
    UnsupportedVersionError,
    Window,
    parse_payload,
    uuid_urn,
)
from hub.community.formats.strict_json import DuplicateKeyError, JsonError, NotANumberError, loads

__all__ = [
    "FUTURE_SKEW_MS",
    "REQUEST_MAX_BYTES",
    "REQUEST_TYP",
    "Area",
    "Kind",
    "LegalBasis",
    "Reason",
    "Rejection",
    "Request",
    "TrustedKey",
    "Window",
    "read_verified",
    "verify",
]

#: The largest request or alert file, checked before anything in it is parsed.
REQUEST_MAX_BYTES = 64 * 1024
REQUEST_TYP = "porchlight-request+jws"
#: How far ``issued`` may be ahead of the owner's clock (the agency's clock may run fast).
FUTURE_SKEW_MS = 5 * 60 * 1000
_ALGS = frozenset({"Ed25519", "EdDSA"})
#: RFC 7515 §4.1.9: a ``typ`` without a slash means ``application/…``, and media types ignore case.
_TYPS = frozenset({REQUEST_TYP, "application/" + REQUEST_TYP})
_PART = re.compile(r"[A-Za-z0-9_-]+")
_KID = re.compile(r"[0-9a-f]{16}")


class Reason(enum.StrEnum):
    """Why a file was refused; the value is what the JSON and the quarantine list show."""

    OVERSIZE = "oversize"
    MALFORMED = "malformed"  # not a JWS compact serialization, or not base64url
    MALFORMED_JSON = "malformed_json"
    DUPLICATE_KEY = "duplicate_key"
    NOT_A_NUMBER = "not_a_number"  # NaN, Infinity, 1e999
    UNSUPPORTED_ALG = "unsupported_alg"
    WRONG_TYP = "wrong_typ"
    UNSUPPORTED_HEADER = "unsupported_header"  # crit: an extension this reader does not implement
    UNKNOWN_KID = "unknown_kid"
    CARD_REVOKED = "card_revoked"
    CARD_EXPIRED = "card_expired"
    BAD_SIGNATURE = "bad_signature"
    MISSING_MEMBER = "missing_member"
    INVALID_MEMBER = "invalid_member"
    UNSUPPORTED_VERSION = "unsupported_version"
    ISSUED_IN_FUTURE = "issued_in_future"
    EXPIRED = "expired"
    #: Never given by :func:`verify`, which sees one file: the store gives it to a validly signed file
    #: whose (card, id) is held already with other bytes (formats/README.md, section 2).
    REPLAY = "replay"


@dataclass(frozen=True)
class TrustedKey:
    """What the verifier needs of a card the owner holds."""

    public_key: bytes  # raw 32-byte Ed25519
    expires_ms: int
    revoked: bool = False


@dataclass(frozen=True)
class Rejection:
    """Why a file was refused. ``kid`` is the header's key id when it reads as one; ``claimed_id`` the
    payload's ``id`` when it reads as one. Both are the file's claims: they are vouched for only when
    ``verified`` (the signature verified against a card the owner trusts)."""

    reason: Reason
    message: str
    member: str | None = None
    kid: str | None = None
    claimed_id: str | None = None
    verified: bool = False


class _Refused(Exception):
    def __init__(self, reason: Reason, message: str, member: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.member = member


def verify(data: bytes | str, keys: Mapping[str, TrustedKey], now_ms: int) -> Request | Rejection:
    """Check one request file against the cards the owner trusts (``keys`` by kid) at ``now_ms``."""
    return _checked(data, keys, now_ms)


def read_verified(data: bytes | str, kid: str, public_key: bytes) -> Request | Rejection:
    """Read again a file that :func:`verify` accepted once (a stored request): the same checks of its
    form, signature (with the key of the card ``kid``) and members, but none of time: whether the
    card is still in force and the request still in date is for the caller to judge, now."""
    return _checked(data, {kid: TrustedKey(public_key, expires_ms=0)}, None)


def _checked(data: bytes | str, keys: Mapping[str, TrustedKey], now_ms: int | None) -> Request | Rejection:
    state: dict[str, Any] = {"kid": None, "claimed_id": None, "verified": False}
    try:
        return _verify(data, keys, now_ms, state)
    except _Refused as refused:
        return Rejection(refused.reason, str(refused), refused.member, **state)
    except FormatError as exc:  # a member of the header or the payload: missing, or not as the format says
        return Rejection(_member_reason(exc), str(exc), exc.member, **state)


def _member_reason(exc: FormatError) -> Reason:
    if isinstance(exc, UnsupportedVersionError):
        return Reason.UNSUPPORTED_VERSION
    return Reason.MISSING_MEMBER if isinstance(exc, MissingMemberError) else Reason.INVALID_MEMBER


def _verify(
    data: bytes | str, keys: Mapping[str, TrustedKey], now_ms: int | None, state: dict[str, Any]
) -> Request:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if len(raw) > REQUEST_MAX_BYTES:
        raise _Refused(
            Reason.OVERSIZE, f"a request file is at most {REQUEST_MAX_BYTES} bytes; this one is larger"
        )
    parts = raw.strip(b" \t\r\n").split(b".")
    if len(parts) != 3 or not all(_PART.fullmatch(part.decode("latin-1")) for part in parts):
        raise _Refused(
            Reason.MALFORMED,
            "not a signed request: a request file is a JWS compact serialization, three base64url parts "
            "separated by dots",
        )
    header_b64, payload_b64, signature_b64 = (part.decode("ascii") for part in parts)
    header = _json(_b64(header_b64, "header"), "header")
    payload = _read_payload(payload_b64)  # read once; trusted, and its faults told, only once signed
    state["claimed_id"] = _claimed_id(payload)
    kid = _header(header)
    state["kid"] = kid
    key = _trusted(keys, kid, now_ms)
    signature = _b64(signature_b64, "signature")
    try:  # cryptography refuses a signature of another length, and one whose S is not reduced
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(
            signature, f"{header_b64}.{payload_b64}".encode()
        )
    except InvalidSignature:
        raise _Refused(
            Reason.BAD_SIGNATURE,
            f"the signature does not verify with the key of card {kid}: the file was altered or signed "
            "with another key",
        ) from None
    state["verified"] = True
    if isinstance(payload, _Refused):
        raise payload
    request = parse_payload(payload, kid)
    state["claimed_id"] = request.id
    if now_ms is not None:
        _check_times(request, now_ms)
    return request


def _b64(text: str, what: str) -> bytes:
    try:
        return b64url_decode(text, what)
    except FormatError as exc:
        raise _Refused(Reason.MALFORMED, f"the {what} part is not canonical base64url", exc.member) from None


def _json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = loads(raw)
    except DuplicateKeyError as exc:
        raise _Refused(Reason.DUPLICATE_KEY, f"the {what}: {exc}", what) from None
    except NotANumberError as exc:
        raise _Refused(Reason.NOT_A_NUMBER, f"the {what}: {exc}", what) from None
    except JsonError as exc:
        raise _Refused(Reason.MALFORMED_JSON, f"the {what} is not strict JSON: {exc}", what) from None
    if not isinstance(value, dict):
        raise _Refused(Reason.MALFORMED_JSON, f"the {what} is JSON but not an object", what)
    return value


def _read_payload(payload_b64: str) -> dict[str, Any] | _Refused:
    try:
        return _json(_b64(payload_b64, "payload"), "payload")
    except _Refused as refused:
        return refused


def _claimed_id(payload: dict[str, Any] | _Refused) -> str | None:
    """The payload's ``id``, read before the signature is checked, only to name a refused file."""
    if isinstance(payload, _Refused) or not isinstance(payload.get("id"), str):
        return None
    try:
        return uuid_urn(payload["id"], "id")
    except FormatError:
        return None


def _header(header: dict[str, Any]) -> str:
    """Check the protected header; returns its kid."""
    alg = member(header, "alg", str, where="header")
    if alg not in _ALGS:
        raise _Refused(
            Reason.UNSUPPORTED_ALG,
            f"the header's alg is {alg[:40]!r}: only Ed25519 (or EdDSA with an Ed25519 key) is accepted",
            "header.alg",
        )
    typ = member(header, "typ", str, where="header")
    if typ.lower() not in _TYPS:
        raise _Refused(
            Reason.WRONG_TYP, f"the header's typ is {typ[:60]!r}, not {REQUEST_TYP!r}", "header.typ"
        )
    if "crit" in header:
        raise _Refused(
            Reason.UNSUPPORTED_HEADER,
            "the header names critical extensions (crit), which this reader does not implement",
            "header.crit",
        )
    kid = member(header, "kid", str, where="header")
    if not _KID.fullmatch(kid):
        raise _Refused(
            Reason.UNKNOWN_KID,
            f"the header's kid {kid[:40]!r} is not a key id (16 lower-case hex characters)",
            "header.kid",
        )
    return kid


def _trusted(keys: Mapping[str, TrustedKey], kid: str, now_ms: int | None) -> TrustedKey:
    key = keys.get(kid)
    if key is None:
        raise _Refused(
            Reason.UNKNOWN_KID,
            f"no trusted card has the key {kid}: add the agency's card (porchlight trust add) if you trust it",
            "header.kid",
        )
    if key.revoked:
        raise _Refused(Reason.CARD_REVOKED, f"the card {kid} was revoked: it verifies nothing", "header.kid")
    if now_ms is not None and now_ms >= key.expires_ms:
        raise _Refused(Reason.CARD_EXPIRED, f"the card {kid} has expired: it verifies nothing", "header.kid")
    return key


def _check_times(request: Request, now_ms: int) -> None:
    if request.issued_ms > now_ms + FUTURE_SKEW_MS:
        raise _Refused(
            Reason.ISSUED_IN_FUTURE,
            "the request is issued in the future (more than 5 minutes ahead of this computer's clock)",
            "issued",
        )
    if now_ms >= request.expires_ms:
        raise _Refused(Reason.EXPIRED, "the request has expired", "expires")
