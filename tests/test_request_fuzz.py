"""Hypothesis against the request verifier: any input gets an answer (a request or a reason, never an
exception), and no change to a signed file verifies, apart from whitespace at its ends."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.community.formats.request import Reason, Rejection, Request, TrustedKey, verify
from tests.support.agency import Agency

NOW_MS = int(time.time() * 1000)  # every check is made at this time, and the agency's clock is fixed to it
AGENCY = Agency(clock=lambda: NOW_MS / 1000)
TRUSTED = {AGENCY.kid: TrustedKey(AGENCY.raw_public, NOW_MS + 365 * 86400 * 1000)}
FIXED = AGENCY.payload()
GOOD = AGENCY.sign(FIXED)
GOOD_REQUEST = verify(GOOD, TRUSTED, NOW_MS)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_file_the_fuzzers_start_from_verifies() -> None:
    assert isinstance(GOOD_REQUEST, Request) and GOOD_REQUEST.id == FIXED["id"]


@FUZZ
@given(st.binary(max_size=2000) | st.text(max_size=2000))
def test_any_input_gets_an_answer(data: bytes | str) -> None:
    result = verify(data, TRUSTED, NOW_MS)
    assert (
        isinstance(result, Rejection) and isinstance(result.reason, Reason) and 0 < len(result.message) <= 300
    )


@FUZZ
@given(st.data())
def test_a_changed_file_is_refused_or_reads_as_the_same_request(data: st.DataObject) -> None:
    """Ed25519 in cryptography refuses malleated signatures and base64url is decoded canonically, so a
    change to a signed file is refused, unless it is whitespace at the ends."""
    text = bytearray(GOOD.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip" and where < len(text):
            text[where] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "insert":
            text[where:where] = bytes([data.draw(st.integers(0, 255))])
        elif where < len(text):
            del text[where]
    result = verify(bytes(text), TRUSTED, NOW_MS)
    if isinstance(result, Request):
        assert result == GOOD_REQUEST and bytes(text).strip(b" \t\r\n") == GOOD.encode()
    else:
        assert isinstance(result.reason, Reason) and 0 < len(result.message) <= 300


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
MEMBERS = [
    "v",
    "kind",
    "id",
    "agency",
    "case",
    "title",
    "message",
    "window",
    "area",
    "contact",
    "retention_days",
    "legal_basis",
    "warrant_ref",
    "refers_to",
    "issued",
    "expires",
]


@FUZZ
@given(
    st.dictionaries(st.sampled_from(MEMBERS), JSON, max_size=8), st.sets(st.sampled_from(MEMBERS), max_size=4)
)
def test_any_signed_payload_gets_an_answer(change: dict[str, Any], drop: set[str]) -> None:
    payload = {k: v for k, v in {**AGENCY.payload(), **change}.items() if k not in drop}
    result = verify(AGENCY.sign(json.dumps(payload).encode()), TRUSTED, NOW_MS)
    if isinstance(result, Rejection):
        assert result.verified and result.kid == AGENCY.kid and 0 < len(result.message) <= 300
        assert result.reason not in (Reason.BAD_SIGNATURE, Reason.UNKNOWN_KID, Reason.MALFORMED)
    else:
        assert result.id.startswith("urn:uuid:") and result.kid == AGENCY.kid


@FUZZ
@given(st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jwk", "b64"]), JSON, max_size=5))
def test_any_signed_header_gets_an_answer(change: dict[str, Any]) -> None:
    header = AGENCY.header(**change)
    result = verify(AGENCY.sign(FIXED, header=header), TRUSTED, NOW_MS)
    if isinstance(result, Request):  # only a header the format allows; what else it says is ignored
        assert result == GOOD_REQUEST and header["alg"] in ("Ed25519", "EdDSA") and "crit" not in header
        assert header["kid"] == AGENCY.kid and header["typ"].lower().endswith("porchlight-request+jws")
    else:
        assert isinstance(result.reason, Reason) and 0 < len(result.message) <= 300
