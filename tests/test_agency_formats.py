"""The agency's side of the formats as pure code (hub/community/formats/agency.py): what it makes is read
back by an independent reader (``cryptography``, ``pyrage`` and base64url by hand, as
tests/support/agency.py writes), it refuses what households would refuse, and hypothesis finds no
payload it signs that the owner's verifier refuses, nor one that crashes it instead of a reason. The
commands themselves, end to end, are tests/test_agency_cli.py."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.community.formats import agency as fmt
from hub.community.formats.fields import FormatError, format_time, parse_time
from hub.community.formats.request import REQUEST_MAX_BYTES, Request, TrustedKey, verify
from hub.community.formats.trust import parse_card
from tests.support.agency import Agency

DAY_MS = 86_400_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _payload(now_ms: int, **change: Any) -> bytes:
    """A footage request as an agency writes it (tests/support/agency.py), without id and issued."""
    payload = Agency(clock=lambda: now_ms / 1000).payload(**{"id": None, "issued": None, **change})
    return json.dumps(payload).encode()


def _read(text: str, key: Ed25519PrivateKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a signed file, checked by hand: three parts, an Ed25519 signature over
    the first two that verifies with ``key``'s public key."""
    header_b64, payload_b64, signature_b64 = text.rstrip("\n").split(".")
    key.public_key().verify(_unb64(signature_b64), f"{header_b64}.{payload_b64}".encode())
    return json.loads(_unb64(header_b64)), json.loads(_unb64(payload_b64))


def test_keys_are_standard_files_that_other_readers_open() -> None:
    now = _now_ms()
    plain = fmt.generate(None, now)
    key = serialization.load_pem_private_key(plain.private_pem, None)
    assert isinstance(key, Ed25519PrivateKey) and not plain.protected
    public = serialization.load_pem_public_key(plain.public_pem)
    assert isinstance(public, Ed25519PublicKey)
    assert public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == _raw(key)
    assert plain.fingerprint == hashlib.sha256(_raw(key)).hexdigest() and plain.kid == plain.fingerprint[:16]
    created, public_line, secret = plain.age_identity.decode().splitlines()
    assert created == f"# created: {format_time(now // 1000 * 1000)}"
    assert public_line == f"# public key: {plain.age_recipient}"
    identity = pyrage.x25519.Identity.from_str(secret)
    assert str(identity.to_public()) == plain.age_recipient
    sealed = pyrage.encrypt(b"evidence", [pyrage.x25519.Recipient.from_str(plain.age_recipient)])
    assert pyrage.decrypt(sealed, [identity]) == b"evidence"

    locked = fmt.generate("correct horse", now)
    assert locked.protected and locked.private_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert isinstance(
        serialization.load_pem_private_key(locked.private_pem, b"correct horse"), Ed25519PrivateKey
    )
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(locked.private_pem, None)
    opened = pyrage.passphrase.decrypt(locked.age_identity, "correct horse").decode()
    assert f"# public key: {locked.age_recipient}" in opened and "AGE-SECRET-KEY-1" in opened
    assert b"AGE-SECRET-KEY" not in locked.age_identity
    with pytest.raises(fmt.PassphraseError):
        fmt.generate("", now)


def test_a_signing_key_opens_only_as_it_should() -> None:
    locked = fmt.generate("pass phrase", _now_ms())
    with pytest.raises(fmt.PassphraseError, match="none was given"):
        fmt.load_signing_key(locked.private_pem, None)
    with pytest.raises(fmt.PassphraseError, match="does not open"):
        fmt.load_signing_key(locked.private_pem, "wrong")
    key = fmt.load_signing_key(locked.private_pem, "pass phrase")
    assert hashlib.sha256(fmt.public_bytes(key)).hexdigest()[:16] == locked.kid
    assert fmt.load_public_key(locked.public_pem, None) == fmt.public_bytes(key)  # no passphrase needed
    assert fmt.load_public_key(locked.private_pem, "pass phrase") == fmt.public_bytes(key)

    no = serialization.NoEncryption()
    for other, kind in (
        (rsa.generate_private_key(65537, 2048), "an RSA key"),
        (ec.generate_private_key(ec.SECP256R1()), r"an elliptic-curve \(ECDSA\) key"),
    ):
        pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, no)
        with pytest.raises(FormatError, match=f"{kind}, not Ed25519"):
            fmt.load_signing_key(pem, None)
        spki = other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(FormatError, match="not an Ed25519 key"):
            fmt.load_public_key(spki, None)
    for junk in (b"", b"hello", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"):
        with pytest.raises(FormatError) as caught:
            fmt.load_signing_key(junk, None)
        assert not isinstance(caught.value, fmt.PassphraseError)


def test_a_card_reads_back_as_the_format_says() -> None:
    now, key = _now_ms(), Ed25519PrivateKey.generate()
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    data = fmt.make_card(
        _raw(key), name="Springfield PD", age_recipient=recipient, expires_ms=now + DAY_MS, now_ms=now
    )
    card = json.loads(data)
    assert card == {
        "type": "porchlight.trust.v1",
        "name": "Springfield PD",
        "jurisdiction": "",
        "website": "",
        "jwk": {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": base64.urlsafe_b64encode(_raw(key)).rstrip(b"=").decode(),
            "kid": hashlib.sha256(_raw(key)).hexdigest()[:16],
        },
        "age_recipient": recipient,
        "expires": format_time(now + DAY_MS),
    }
    assert parse_card(data).public_key == _raw(key)
    assert "age_recipient" not in json.loads(
        fmt.make_card(_raw(key), name="x", jurisdiction="y", website="z", expires_ms=now + DAY_MS, now_ms=now)
    )
    for change, member in (
        ({"name": "  "}, "name"),
        ({"name": "a\u202eb"}, "name"),
        ({"website": "x" * 2001}, "website"),
        ({"age_recipient": "age1nope"}, "age_recipient"),
        ({"age_recipient": "ssh-ed25519 AAAA"}, "age_recipient"),
        ({"expires_ms": now}, "expires"),
    ):
        args: dict[str, Any] = {"name": "Springfield PD", "expires_ms": now + DAY_MS, **change}
        with pytest.raises(FormatError) as caught:
            fmt.make_card(_raw(key), now_ms=now, **args)
        assert caught.value.member == member


def test_a_signed_request_verifies_by_hand_and_by_the_owners_verifier() -> None:
    now, key = _now_ms(), Ed25519PrivateKey.generate()
    signed = fmt.sign_request(
        key, _payload(now), now_ms=now, new_id=lambda: "urn:uuid:" + "ab" * 4 + "-1d2c-4e5f-8a9b-0c1d2e3f4a5b"
    )
    header, payload = _read(signed.text, key)
    assert header == {
        "alg": "Ed25519",
        "kid": hashlib.sha256(_raw(key)).hexdigest()[:16],
        "typ": "porchlight-request+jws",
    }
    assert payload == {
        **json.loads(_payload(now)),
        "id": signed.request.id,
        "issued": format_time(now // 1000 * 1000),
    }
    assert (
        signed.added == ("id", "issued")
        and signed.request.id == "urn:uuid:abababab-1d2c-4e5f-8a9b-0c1d2e3f4a5b"
    )
    assert verify(signed.text, {header["kid"]: TrustedKey(_raw(key), now + DAY_MS)}, now) == signed.request

    own = {
        **json.loads(_payload(now)),
        "id": "urn:uuid:5b1c2f9e-1d2c-4e5f-8a9b-0c1d2e3f4a5b",
        "issued": format_time(now - 60_000),
    }
    kept = fmt.sign_request(key, json.dumps(own).encode(), now_ms=now)
    assert kept.added == () and _read(kept.text, key)[1] == own


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"case": None}, "'case' is missing"),
        ({"window": None}, "'window' is missing"),
        ({"window": {"start": "2026-11-20T03:00:00Z", "end": "2026-11-20T01:30:00Z"}}, "start is not before"),
        ({"kind": "subpoena"}, "'kind'"),
        ({"v": 2}, "version 2"),
        ({"legal_basis": "warrant"}, "'warrant_ref' is missing"),
        ({"expires": "2020-01-01T00:00:00Z"}, "expires"),
        (
            {"issued": "2099-01-01T00:00:00Z", "expires": "2099-02-01T00:00:00Z"},
            "ahead of this computer's clock",
        ),
        ({"id": "5b1c2f9e"}, "urn:uuid"),
        ({"id": None, "refers_to": None, "kind": "withdrawal"}, "'refers_to' is missing"),
        ({"message": "x" * 60_000}, "longer than"),
        ({"title": "\x1b[2J"}, "control character"),
    ],
)
def test_a_payload_households_would_refuse_is_not_signed(change: dict[str, Any], says: str) -> None:
    now = _now_ms()
    obj = json.loads(_payload(now))
    obj.update(change)
    obj = {k: v for k, v in obj.items() if v is not None}
    with pytest.raises(FormatError, match=says):
        fmt.sign_request(Ed25519PrivateKey.generate(), json.dumps(obj).encode(), now_ms=now)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'{"v": 1, "v": 1}', "duplicate key"),
        (b'{"v": NaN}', "NaN"),
        (b"[1, 2]", "not an object"),
        (b"not json", "malformed JSON"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
    ],
)
def test_a_payload_that_is_not_strict_json_is_not_signed(data: bytes, says: str) -> None:
    with pytest.raises(FormatError, match=says):
        fmt.sign_request(Ed25519PrivateKey.generate(), data, now_ms=_now_ms())


def test_a_request_too_large_for_households_is_not_signed() -> None:
    now = _now_ms()
    fits = fmt.sign_request(Ed25519PrivateKey.generate(), _payload(now, message="x" * 9000), now_ms=now)
    assert len(fits.text) < REQUEST_MAX_BYTES
    big = json.loads(_payload(now))
    big["extra"] = "x" * 50_000  # unknown members are allowed, but the file passes 64 KiB once encoded
    with pytest.raises(FormatError, match=f"over {REQUEST_MAX_BYTES}"):
        fmt.sign_request(Ed25519PrivateKey.generate(), json.dumps(big).encode(), now_ms=now)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_MEMBERS = (
    "v",
    "kind",
    "id",
    "case",
    "window",
    "area",
    "expires",
    "issued",
    "legal_basis",
    "refers_to",
    "title",
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drop=st.sets(st.sampled_from(_MEMBERS)),
    replace=st.dictionaries(st.sampled_from(_MEMBERS), _JSON, max_size=3),
)
def test_whatever_is_signed_verifies_and_whatever_is_refused_has_a_reason(
    drop: set[str], replace: dict[str, Any]
) -> None:
    now, key = _now_ms(), Ed25519PrivateKey.generate()
    obj = {
        k: v
        for k, v in json.loads(_payload(now, id="urn:uuid:5b1c2f9e-1d2c-4e5f-8a9b-0c1d2e3f4a5b")).items()
        if k not in drop
    }
    obj.update(replace)
    try:
        signed = fmt.sign_request(key, json.dumps(obj).encode(), now_ms=now)
    except FormatError as exc:
        assert str(exc)
        return
    kid = hashlib.sha256(_raw(key)).hexdigest()[:16]
    assert isinstance(verify(signed.text, {kid: TrustedKey(_raw(key), now + DAY_MS)}, now), Request)


@given(st.integers(min_value=0, max_value=253402300799999))
def test_times_are_written_as_they_are_read(ms: int) -> None:
    assert parse_time(format_time(ms), "t") == ms
