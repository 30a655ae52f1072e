"""The request verifier, as pure code: requests signed by an independent agency (tests/support/agency.py:
``cryptography`` and base64url by hand, never the hub's code) are read exactly; forged, tampered,
wrong-key, expired, future-issued, oversize, duplicate-key and NaN files, and every way a member can
break the format, are refused with the reason that names what is wrong (tests/test_request_fuzz.py
lets hypothesis look for the files this table misses)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.community.formats.request import (
    FUTURE_SKEW_MS,
    REQUEST_MAX_BYTES,
    Area,
    Kind,
    LegalBasis,
    Reason,
    Rejection,
    Request,
    TrustedKey,
    Window,
    read_verified,
    verify,
)
from tests.support.agency import Agency, b64url, epoch_ms, zulu

#: The time every check here is made at, and the agencies' clock: fixed when the module is read, so a
#: test that runs minutes later (a busy machine, other workers) checks the same files at the same time.
NOW_MS = int(time.time() * 1000)
NOW_S = NOW_MS / 1000
AGENCY = Agency(clock=lambda: NOW_S)
OTHER = Agency(name="Shelbyville Sheriff", clock=lambda: NOW_S)
YEAR_MS = 365 * 86400 * 1000


def keys(
    *agencies: Agency, expires_ms: int = NOW_MS + YEAR_MS, revoked: bool = False
) -> dict[str, TrustedKey]:
    return {a.kid: TrustedKey(a.raw_public, expires_ms, revoked) for a in agencies or (AGENCY,)}


def accepted(
    token: str | bytes, trusted: dict[str, TrustedKey] | None = None, now_ms: int = NOW_MS
) -> Request:
    result = verify(token, keys() if trusted is None else trusted, now_ms)
    assert isinstance(result, Request), result
    return result


def refused(
    token: str | bytes, trusted: dict[str, TrustedKey] | None = None, now_ms: int = NOW_MS
) -> Rejection:
    result = verify(token, keys() if trusted is None else trusted, now_ms)
    assert isinstance(result, Rejection), result
    assert isinstance(result.reason, Reason) and result.message
    return result


def test_a_request_signed_by_another_tool_is_read_exactly() -> None:
    payload = AGENCY.payload()
    request = accepted(AGENCY.sign(payload))
    assert request == Request(
        kid=AGENCY.kid,
        id=payload["id"],
        kind=Kind.FOOTAGE_REQUEST,
        issued_ms=epoch_ms(payload["issued"]),
        expires_ms=epoch_ms(payload["expires"]),
        agency=AGENCY.name,
        case="26-004512",
        title="Package theft on Elm St",
        message=payload["message"],
        contact="Det. J. Doe, +1-555-0100",
        window=Window(epoch_ms(payload["window"]["start"]), epoch_ms(payload["window"]["end"])),
        area=Area(39.7817, -89.6501, 400.0),
        retention_days=365,
        legal_basis=LegalBasis.VOLUNTARY,
    )
    assert request.uuid == payload["id"].removeprefix("urn:uuid:") and len(request.uuid) == 36
    assert request.window is not None and request.window.end_ms - request.window.start_ms == 90 * 60 * 1000
    # the same file checked again (as bytes, as text, with the newline an editor adds) answers the same
    token = AGENCY.sign(payload)
    assert accepted(token.encode()) == accepted(token + "\n") == accepted(f"  {token}\r\n") == request


def test_what_the_format_allows_is_accepted() -> None:
    minimal = {
        "v": 1,
        "kind": "alert",
        "id": f"urn:uuid:{uuid.uuid4()}",
        "issued": zulu(NOW_S),
        "expires": zulu(NOW_S + 3600),
    }
    alert = accepted(AGENCY.sign(minimal))
    assert (
        alert.kind is Kind.ALERT
        and alert.window is None
        and alert.agency is None
        and alert.legal_basis is None
    )
    # EdDSA names the same algorithm; typ is a media type (case-insensitive, application/ optional)
    for header in (
        AGENCY.header(alg="EdDSA"),
        AGENCY.header(typ="application/porchlight-request+jws"),
        AGENCY.header(typ="Porchlight-Request+JWS"),
        AGENCY.header(cty="json", x_agency_note="unknown headers are ignored"),
    ):
        assert accepted(AGENCY.sign(AGENCY.payload(), header=header)).kid == AGENCY.kid
    # unknown members are ignored; optional members may be null; a UUID's hex digits ignore case
    spelt = str(uuid.uuid4())
    request = accepted(
        AGENCY.sign(
            AGENCY.payload(
                id=f"URN:UUID:{spelt.upper()}",
                future_member={"x": [1, 2]},
                title=None,
                contact=None,
                area=None,
            )
        )
    )
    assert request.id == f"urn:uuid:{spelt}" and request.title is None and request.area is None
    warrant = accepted(AGENCY.sign(AGENCY.payload(legal_basis="warrant", warrant_ref="SW-2026-118")))
    assert warrant.legal_basis is LegalBasis.WARRANT and warrant.warrant_ref == "SW-2026-118"
    earlier = AGENCY.payload()["id"]
    withdrawal = accepted(
        AGENCY.sign(
            AGENCY.payload(
                kind="withdrawal",
                refers_to=earlier.upper().replace("URN:UUID:", "urn:uuid:"),
                case=None,
                window=None,
            )
        )
    )
    assert (
        withdrawal.kind is Kind.WITHDRAWAL and withdrawal.refers_to == earlier and withdrawal.window is None
    )
    # a message keeps its lines; the clock may be up to 5 minutes behind the agency's
    message = "Line one.\nLine two,\tindented.\r\nThree."
    assert accepted(AGENCY.sign(AGENCY.payload(message=message))).message == message
    ahead = NOW_MS + FUTURE_SKEW_MS - 1000
    assert accepted(AGENCY.sign(AGENCY.payload(issued=zulu(ahead / 1000)))).issued_ms == ahead // 1000 * 1000


def test_the_keys_a_file_carries_are_never_used() -> None:
    """jwk, jku, x5u and x5c are ignored: a key comes only from a card the owner trusted."""
    forger = Agency()
    embedded = {
        "jwk": forger.jwk(),
        "jku": "https://forger.example/keys",
        "x5u": "https://forger.example/x5u",
        "x5c": ["MIIB"],
    }
    as_itself = refused(forger.sign(forger.payload(), header=forger.header(**embedded)))
    assert as_itself.reason is Reason.UNKNOWN_KID and as_itself.kid == forger.kid and not as_itself.verified
    posing = refused(forger.sign(forger.payload(), header=AGENCY.header(**embedded)))
    assert posing.reason is Reason.BAD_SIGNATURE and posing.kid == AGENCY.kid and not posing.verified


def base64_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tamper_payload(token: str) -> str:
    head, body, sig = token.split(".")
    payload = json.loads(base64_decode(body))
    payload["window"]["end"] = zulu(NOW_S)
    return f"{head}.{b64url(json.dumps(payload).encode())}.{sig}"


def _swap_header(token: str, header: dict[str, Any]) -> str:
    _, body, sig = token.split(".")
    return f"{b64url(json.dumps(header).encode())}.{body}.{sig}"


def _flip_signature_bit(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64_decode(sig))
    raw[10] ^= 0x01
    return f"{head}.{body}.{b64url(bytes(raw))}"


SIGNED = AGENCY.sign(AGENCY.payload())
H = AGENCY.header
P = AGENCY.payload
KID = AGENCY.kid.encode()
TYP = "porchlight-request+jws"


def _with_member(text: bytes) -> bytes:
    """The default payload's JSON with ``text`` (raw JSON) appended as the last member."""
    return json.dumps(P()).encode()[:-1] + b", " + text + b"}"


# name, the file, the reason, the member it names (None: the file as a whole)
BAD_FILES: list[tuple[str, Callable[[], str | bytes], Reason, str | None]] = [
    ("oversize", lambda: AGENCY.sign(P(message="x" * REQUEST_MAX_BYTES)), Reason.OVERSIZE, None),
    ("oversize junk is not parsed", lambda: b"\xff" * (REQUEST_MAX_BYTES + 1), Reason.OVERSIZE, None),
    ("two parts", lambda: SIGNED.rsplit(".", 1)[0], Reason.MALFORMED, None),
    ("four parts", lambda: SIGNED + ".e30", Reason.MALFORMED, None),
    ("detached payload", lambda: SIGNED.split(".")[0] + ".." + SIGNED.split(".")[2], Reason.MALFORMED, None),
    ("padding", lambda: SIGNED + "==", Reason.MALFORMED, None),
    ("standard base64", lambda: SIGNED[:-1] + "+", Reason.MALFORMED, None),
    ("not text", lambda: SIGNED.encode() + b"\xc3", Reason.MALFORMED, None),
    ("JSON serialization", lambda: json.dumps({"payload": "e30", "signatures": []}), Reason.MALFORMED, None),
    ("empty", lambda: b"", Reason.MALFORMED, None),
    ("header stray bits", lambda: "e31." + SIGNED.split(".", 1)[1], Reason.MALFORMED, "header"),
    (
        "payload stray bits, signed",
        lambda: AGENCY.sign_parts(SIGNED.split(".")[0], "e31"),
        Reason.MALFORMED,
        "payload",
    ),
    ("header not JSON", lambda: AGENCY.sign(header=b"{alg: Ed25519}"), Reason.MALFORMED_JSON, "header"),
    ("header a list", lambda: AGENCY.sign(header=b'["Ed25519"]'), Reason.MALFORMED_JSON, "header"),
    (
        "header duplicate alg",
        lambda: AGENCY.sign(header=b'{"alg":"none","alg":"Ed25519","kid":"%s"}' % KID),
        Reason.DUPLICATE_KEY,
        "header",
    ),
    (
        "header NaN",
        lambda: AGENCY.sign(header=b'{"alg":"Ed25519","kid":"%s","n":NaN}' % KID),
        Reason.NOT_A_NUMBER,
        "header",
    ),
    ("forged", lambda: AGENCY.sign(key=Ed25519PrivateKey.generate()), Reason.BAD_SIGNATURE, None),
    ("tampered", lambda: _tamper_payload(SIGNED), Reason.BAD_SIGNATURE, None),
    ("header swapped", lambda: _swap_header(SIGNED, H(alg="EdDSA")), Reason.BAD_SIGNATURE, None),
    ("one bit of the signature", lambda: _flip_signature_bit(SIGNED), Reason.BAD_SIGNATURE, None),
    (
        "short signature",
        lambda: SIGNED[: SIGNED.rindex(".") + 1] + b64url(b"\0" * 32),
        Reason.BAD_SIGNATURE,
        None,
    ),
    ("kid unknown", lambda: OTHER.sign(), Reason.UNKNOWN_KID, "header.kid"),
    ("payload not JSON", lambda: AGENCY.sign(b'{"v": 1,'), Reason.MALFORMED_JSON, "payload"),
    ("payload a string", lambda: AGENCY.sign(b'"footage_request"'), Reason.MALFORMED_JSON, "payload"),
    (
        "payload latin-1",
        lambda: AGENCY.sign(json.dumps(P(title="Caf\u00e9"), ensure_ascii=False).encode("latin-1")),
        Reason.MALFORMED_JSON,
        "payload",
    ),
    (
        "payload duplicate id",
        lambda: AGENCY.sign(_with_member(b'"id": "urn:uuid:00000000-0000-4000-8000-000000000000"')),
        Reason.DUPLICATE_KEY,
        "payload",
    ),
    (
        "payload NaN",
        lambda: AGENCY.sign(P(area={"lat": float("nan"), "lon": 0, "radius_m": 5})),
        Reason.NOT_A_NUMBER,
        "payload",
    ),
    ("payload Infinity", lambda: AGENCY.sign(P(retention_days=float("inf"))), Reason.NOT_A_NUMBER, "payload"),
    ("payload 1e999", lambda: AGENCY.sign(_with_member(b'"x": 1e999')), Reason.NOT_A_NUMBER, "payload"),
    (
        "payload 400-digit radius",
        lambda: AGENCY.sign(P(area={"lat": 0, "lon": 0, "radius_m": 10**400})),
        Reason.INVALID_MEMBER,
        "area.radius_m",
    ),
]

# name, the protected header, the reason, the member it names
BAD_HEADERS: list[tuple[str, dict[str, Any], Reason, str]] = [
    ("alg none", H(alg="none"), Reason.UNSUPPORTED_ALG, "header.alg"),
    ("alg HS256", H(alg="HS256"), Reason.UNSUPPORTED_ALG, "header.alg"),
    ("alg RS256", H(alg="RS256"), Reason.UNSUPPORTED_ALG, "header.alg"),
    ("alg ES256", H(alg="ES256"), Reason.UNSUPPORTED_ALG, "header.alg"),
    ("alg lower case", H(alg="ed25519"), Reason.UNSUPPORTED_ALG, "header.alg"),
    ("alg missing", {"kid": AGENCY.kid, "typ": TYP}, Reason.MISSING_MEMBER, "header.alg"),
    ("alg a list", H(alg=["Ed25519"]), Reason.INVALID_MEMBER, "header.alg"),
    ("typ JWT", H(typ="JWT"), Reason.WRONG_TYP, "header.typ"),
    ("typ missing", {"alg": "Ed25519", "kid": AGENCY.kid}, Reason.MISSING_MEMBER, "header.typ"),
    ("crit", H(crit=["b64"], b64=False), Reason.UNSUPPORTED_HEADER, "header.crit"),
    ("kid missing", {"alg": "Ed25519", "typ": TYP}, Reason.MISSING_MEMBER, "header.kid"),
    ("kid a number", H(kid=1234), Reason.INVALID_MEMBER, "header.kid"),
    ("kid upper case", H(kid=AGENCY.kid.upper()), Reason.UNKNOWN_KID, "header.kid"),
    ("kid a fingerprint", H(kid=AGENCY.fingerprint), Reason.UNKNOWN_KID, "header.kid"),
]

WINDOW = {"start": "2026-11-20T01:30:00Z", "end": "2026-11-20T03:00:00Z"}
ID = "urn:uuid:5b1c2f9e-1d2c-4e5f-8a9b-0c1d2e3f4a5b"
# name, members changed in a default footage request (None drops one), the reason, the member named
BAD_PAYLOADS: list[tuple[str, dict[str, Any], Reason, str]] = [
    ("version 2", {"v": 2}, Reason.UNSUPPORTED_VERSION, "v"),
    ("version 10**400", {"v": 10**400}, Reason.UNSUPPORTED_VERSION, "v"),
    ("version as text", {"v": "1"}, Reason.INVALID_MEMBER, "v"),
    ("version true", {"v": True}, Reason.INVALID_MEMBER, "v"),
    ("kind unknown", {"kind": "subpoena"}, Reason.INVALID_MEMBER, "kind"),
    ("id a bare uuid", {"id": str(uuid.uuid4())}, Reason.INVALID_MEMBER, "id"),
    ("id not a uuid", {"id": "urn:uuid:26-004512"}, Reason.INVALID_MEMBER, "id"),
    ("id, Arabic-Indic digits", {"id": ID.replace("5", "\u0665")}, Reason.INVALID_MEMBER, "id"),
    ("case blank", {"case": "  "}, Reason.INVALID_MEMBER, "case"),
    ("case a number", {"case": 26004512}, Reason.INVALID_MEMBER, "case"),
    ("window start = end", {"window": {**WINDOW, "end": WINDOW["start"]}}, Reason.INVALID_MEMBER, "window"),
    (
        "window backwards",
        {"window": {"start": WINDOW["end"], "end": WINDOW["start"]}},
        Reason.INVALID_MEMBER,
        "window",
    ),
    (
        "window with an offset",
        {"window": {**WINDOW, "start": "2026-11-20T01:30:00+01:00"}},
        Reason.INVALID_MEMBER,
        "window.start",
    ),
    ("window a date", {"window": {**WINDOW, "end": "2026-11-21"}}, Reason.INVALID_MEMBER, "window.end"),
    ("window a list", {"window": list(WINDOW.values())}, Reason.INVALID_MEMBER, "window"),
    ("area lat 91", {"area": {"lat": 91, "lon": 0, "radius_m": 5}}, Reason.INVALID_MEMBER, "area.lat"),
    (
        "area lon -180.5",
        {"area": {"lat": 0, "lon": -180.5, "radius_m": 5}},
        Reason.INVALID_MEMBER,
        "area.lon",
    ),
    (
        "area lat as text",
        {"area": {"lat": "39.78", "lon": 0, "radius_m": 5}},
        Reason.INVALID_MEMBER,
        "area.lat",
    ),
    ("area radius 0", {"area": {"lat": 0, "lon": 0, "radius_m": 0}}, Reason.INVALID_MEMBER, "area.radius_m"),
    (
        "area radius true",
        {"area": {"lat": 0, "lon": 0, "radius_m": True}},
        Reason.INVALID_MEMBER,
        "area.radius_m",
    ),
    ("retention negative", {"retention_days": -1}, Reason.INVALID_MEMBER, "retention_days"),
    ("retention a fraction", {"retention_days": 1.5}, Reason.INVALID_MEMBER, "retention_days"),
    ("retention 10**400", {"retention_days": 10**400}, Reason.INVALID_MEMBER, "retention_days"),
    ("legal basis unknown", {"legal_basis": "subpoena"}, Reason.INVALID_MEMBER, "legal_basis"),
    ("title, a control character", {"title": "Theft\x1b[2J"}, Reason.INVALID_MEMBER, "title"),
    ("agency, a bidi override", {"agency": "Police \u202eDPS"}, Reason.INVALID_MEMBER, "agency"),
    ("title on two lines", {"title": "one\ntwo"}, Reason.INVALID_MEMBER, "title"),
    ("message too long", {"message": "m" * 10_001}, Reason.INVALID_MEMBER, "message"),
    (
        "refers to itself",
        {"kind": "withdrawal", "id": ID, "refers_to": ID.upper()},
        Reason.INVALID_MEMBER,
        "refers_to",
    ),
    (
        "expires before issued",
        {"issued": zulu(NOW_S), "expires": zulu(NOW_S - 60)},
        Reason.INVALID_MEMBER,
        "expires",
    ),
    ("issued a date", {"issued": "2026-11-20"}, Reason.INVALID_MEMBER, "issued"),
    ("v missing", {"v": None}, Reason.MISSING_MEMBER, "v"),
    ("kind missing", {"kind": None}, Reason.MISSING_MEMBER, "kind"),
    ("id missing", {"id": None}, Reason.MISSING_MEMBER, "id"),
    ("issued missing", {"issued": None}, Reason.MISSING_MEMBER, "issued"),
    ("expires missing", {"expires": None}, Reason.MISSING_MEMBER, "expires"),
    ("case missing", {"case": None}, Reason.MISSING_MEMBER, "case"),
    ("window missing", {"window": None}, Reason.MISSING_MEMBER, "window"),
    ("window end missing", {"window": {"start": WINDOW["start"]}}, Reason.MISSING_MEMBER, "window.end"),
    ("area radius missing", {"area": {"lat": 0, "lon": 0}}, Reason.MISSING_MEMBER, "area.radius_m"),
    ("refers_to missing", {"kind": "withdrawal"}, Reason.MISSING_MEMBER, "refers_to"),
    ("warrant_ref missing", {"legal_basis": "warrant"}, Reason.MISSING_MEMBER, "warrant_ref"),
    ("issued in the future", {"issued": zulu(NOW_S + 6 * 60)}, Reason.ISSUED_IN_FUTURE, "issued"),
    ("expired", {"issued": zulu(NOW_S - 7200), "expires": zulu(NOW_S - 3600)}, Reason.EXPIRED, "expires"),
]


def _cases(table: list[tuple[Any, ...]]) -> Any:
    return pytest.mark.parametrize(
        ("file", "reason", "member"), [t[1:] for t in table], ids=[t[0] for t in table]
    )


@_cases(BAD_FILES)
def test_every_bad_file_is_refused_with_its_reason(
    file: Callable[[], str | bytes], reason: Reason, member: str | None
) -> None:
    rejection = refused(file())
    assert (rejection.reason, rejection.member) == (reason, member), rejection.message


@_cases(BAD_HEADERS)
def test_every_bad_header_is_refused_with_its_reason(
    file: dict[str, Any], reason: Reason, member: str
) -> None:
    rejection = refused(AGENCY.sign(header=file))
    assert (rejection.reason, rejection.member) == (reason, member), rejection.message
    assert not rejection.verified


@_cases(BAD_PAYLOADS)
def test_every_bad_payload_is_refused_with_its_reason(
    file: dict[str, Any], reason: Reason, member: str
) -> None:
    """Signed as it is: the verifier reads the payload only once the signature vouches for it."""
    rejection = refused(AGENCY.sign(P(**file)))
    assert (rejection.reason, rejection.member) == (reason, member), rejection.message
    assert len(rejection.message) <= 300, rejection.message  # a line a person reads, whatever the file holds
    assert rejection.verified and rejection.kid == AGENCY.kid


def test_a_null_counts_as_missing_where_a_member_is_required() -> None:
    rejection = refused(AGENCY.sign(json.dumps({**P(), "window": None}).encode()))
    assert (rejection.reason, rejection.member) == (Reason.MISSING_MEMBER, "window")


def test_a_card_that_is_revoked_or_expired_verifies_nothing() -> None:
    revoked = refused(SIGNED, keys(revoked=True))
    assert revoked.reason is Reason.CARD_REVOKED and "revoked" in revoked.message
    expired = refused(SIGNED, keys(expires_ms=NOW_MS))
    assert expired.reason is Reason.CARD_EXPIRED and "expired" in expired.message
    # the signature is only checked with the card the kid names: another trusted card does not help
    assert refused(SIGNED, keys(OTHER)).reason is Reason.UNKNOWN_KID
    assert accepted(SIGNED, keys(OTHER, AGENCY)).kid == AGENCY.kid


def test_a_refusal_says_what_it_knows_and_whether_the_signature_vouches_for_it() -> None:
    payload = P()
    forged = refused(AGENCY.sign(payload, key=Ed25519PrivateKey.generate()))
    assert (forged.kid, forged.claimed_id, forged.verified) == (AGENCY.kid, payload["id"], False)
    late = refused(AGENCY.sign(P(id=payload["id"], issued=zulu(NOW_S - 7200), expires=zulu(NOW_S - 1))))
    assert (late.reason, late.kid, late.claimed_id, late.verified) == (
        Reason.EXPIRED,
        AGENCY.kid,
        payload["id"],
        True,
    )
    garbled = refused(b"not a jws at all")
    assert (garbled.kid, garbled.claimed_id, garbled.verified) == (None, None, False)
    # a request expires at its expires time, to the millisecond; a card the same
    request = accepted(SIGNED)
    assert refused(SIGNED, now_ms=request.expires_ms).reason is Reason.EXPIRED
    assert accepted(SIGNED, now_ms=request.expires_ms - 1) == request


def test_a_stored_request_is_read_again_whatever_the_time_but_only_with_its_key() -> None:
    late = AGENCY.sign(P(issued=zulu(NOW_S - 7200), expires=zulu(NOW_S - 1)))
    assert refused(late).reason is Reason.EXPIRED
    again = read_verified(late, AGENCY.kid, AGENCY.raw_public)  # no clock: the caller judges time
    assert isinstance(again, Request) and again.expires_ms < NOW_MS
    wrong_key = read_verified(late, AGENCY.kid, OTHER.raw_public)
    assert isinstance(wrong_key, Rejection) and wrong_key.reason is Reason.BAD_SIGNATURE
    wrong_kid = read_verified(late, OTHER.kid, AGENCY.raw_public)  # the header names another card
    assert isinstance(wrong_kid, Rejection) and wrong_kid.reason is Reason.UNKNOWN_KID
    assert read_verified(late[:-2], AGENCY.kid, AGENCY.raw_public).reason is Reason.BAD_SIGNATURE  # type: ignore[union-attr]
