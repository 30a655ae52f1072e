"""The agency's side of the formats (formats/README.md, sections 1 and 2): its keys, its trust card and
its signed requests, so an agency can issue requests with Porchlight and nothing else.

Pure code, bytes in and bytes out: the CLI's ``agency`` commands read and write the files and ask
for passphrases. What is made here is checked by the same parsers that read it on the owner's side
(:func:`~hub.community.formats.trust.parse_card`, :func:`~hub.community.formats.request.verify`), so
the agency learns that a file is wrong when it signs it, not when households refuse it.

The keys are standard files other tools read: the Ed25519 signing key as PKCS#8 PEM (``openssl
pkey`` reads it; encrypted with the passphrase when there is one), its public key as
SubjectPublicKeyInfo PEM, and the age X25519 identity in ``age-keygen``'s text format (with a
passphrase, that text sealed with age's own passphrase encryption, which ``age -d -i`` opens).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyrage
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.community.formats.fields import (
    FormatError,
    b64url_encode,
    fingerprint,
    format_time,
    json_object,
    kid_of,
)
from hub.community.formats.pkcs8 import sealed_pem
from hub.community.formats.request import (
    FUTURE_SKEW_MS,
    REQUEST_MAX_BYTES,
    REQUEST_TYP,
    Rejection,
    Request,
    TrustedKey,
    verify,
)
from hub.community.formats.request_payload import parse_payload
from hub.community.formats.trust import CARD_TYPE, parse_card

__all__ = [
    "AGE_IDENTITY_FILE",
    "AGE_IDENTITY_SEALED_FILE",
    "AGE_RECIPIENT_FILE",
    "KEYGEN_FILES",
    "KEY_FILE",
    "PUBLIC_KEY_FILE",
    "KeySet",
    "PassphraseError",
    "Signed",
    "generate",
    "is_encrypted",
    "is_public",
    "load_public_key",
    "load_signing_key",
    "make_card",
    "public_bytes",
    "sign_request",
]

KEY_FILE = "agency-key.pem"
PUBLIC_KEY_FILE = "agency-key.pub.pem"
AGE_IDENTITY_FILE = "age-identity.txt"
AGE_IDENTITY_SEALED_FILE = "age-identity.age"
AGE_RECIPIENT_FILE = "age-recipient.txt"
#: Every file ``agency keygen`` may write in its folder (one of the two identities).
KEYGEN_FILES = (KEY_FILE, PUBLIC_KEY_FILE, AGE_IDENTITY_FILE, AGE_IDENTITY_SEALED_FILE, AGE_RECIPIENT_FILE)
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_PUBLIC_PEM = b"-----BEGIN PUBLIC KEY-----"


class PassphraseError(FormatError):
    """The signing key is protected by a passphrase, and none or a wrong one was given."""


@dataclass(frozen=True)
class KeySet:
    """A new agency's files, as bytes, and what to tell it about them."""

    private_pem: bytes
    public_pem: bytes
    age_identity: bytes  # age-keygen's text, or that text sealed with the passphrase
    age_recipient: str
    kid: str
    fingerprint: str
    protected: bool  # the signing key and the age identity are sealed with a passphrase


@dataclass(frozen=True)
class Signed:
    """A signed request file (its text, with a final newline), the request as households will read
    it, and the members the signer added (``id``, ``issued``)."""

    text: str
    request: Request
    added: tuple[str, ...]


def generate(passphrase: str | None, now_ms: int) -> KeySet:
    """A new Ed25519 signing key and age X25519 identity; sealed with ``passphrase`` when given."""
    if passphrase is not None and not passphrase:
        raise PassphraseError("the passphrase is empty")
    key = Ed25519PrivateKey.generate()
    private_pem = (
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        if passphrase is None
        else sealed_pem(key, passphrase)
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    text = f"# created: {format_time(now_ms // 1000 * 1000)}\n# public key: {recipient}\n{identity}\n"
    sealed = (
        text.encode("ascii") if passphrase is None else pyrage.passphrase.encrypt(text.encode(), passphrase)
    )
    raw = public_bytes(key)
    return KeySet(
        private_pem, public_pem, sealed, recipient, kid_of(raw), fingerprint(raw), passphrase is not None
    )


def is_encrypted(pem: bytes) -> bool:
    """Whether a PEM private key is sealed with a passphrase (PKCS#8 ``ENCRYPTED PRIVATE KEY``)."""
    return _ENCRYPTED_PEM in pem


def is_public(pem: bytes) -> bool:
    """Whether ``pem`` is a public key (SubjectPublicKeyInfo PEM), not a signing key."""
    return _PUBLIC_PEM in pem


def load_signing_key(pem: bytes, passphrase: str | None) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``pem`` (opened with ``passphrase`` when it is sealed)."""
    if is_encrypted(pem) and passphrase is None:
        raise PassphraseError("the signing key is protected by a passphrase; none was given")
    try:
        key = serialization.load_pem_private_key(
            pem, passphrase.encode() if is_encrypted(pem) and passphrase else None
        )
    except ValueError as exc:
        if is_encrypted(pem):
            raise PassphraseError("the passphrase does not open the signing key") from None
        raise FormatError(f"not a PEM private key: {_first_line(exc)}") from None
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise FormatError(f"not a usable private key: {_first_line(exc)}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise FormatError(f"the key is {_kind(key)}, not Ed25519: make one with porchlight agency keygen")
    return key


def load_public_key(pem: bytes, passphrase: str | None) -> bytes:
    """The raw 32-byte Ed25519 public key of ``pem``: a public key (SubjectPublicKeyInfo PEM, which
    needs no passphrase) or the signing key itself."""
    if not is_public(pem):
        return public_bytes(load_signing_key(pem, passphrase))
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise FormatError(f"not a PEM public key: {_first_line(exc)}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise FormatError("the public key is not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``key`` (what the card's ``jwk.x`` and the kid are made from)."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def make_card(
    public_key: bytes,
    *,
    name: str,
    jurisdiction: str = "",
    website: str = "",
    age_recipient: str | None = None,
    expires_ms: int,
    now_ms: int,
) -> bytes:
    """A trust card for ``public_key``, as the file's bytes, checked as the owner's side will check it."""
    if expires_ms <= now_ms:
        raise FormatError(
            f"the card would have expired already ({format_time(expires_ms)})", member="expires"
        )
    card: dict[str, Any] = {
        "type": CARD_TYPE,
        "name": name,
        "jurisdiction": jurisdiction,
        "website": website,
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key), "kid": kid_of(public_key)},
    }
    if age_recipient is not None:
        card["age_recipient"] = age_recipient
    card["expires"] = format_time(expires_ms)
    data = (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    parse_card(data)  # a name with control characters, a recipient that is not age1…, too long a text
    return data


def sign_request(
    key: Ed25519PrivateKey,
    payload: bytes,
    *,
    now_ms: int,
    new_id: Callable[[], str] = lambda: f"urn:uuid:{uuid.uuid4()}",
) -> Signed:
    """Sign the request or alert ``payload`` (JSON), after checking it as households will: strict JSON,
    every member the format asks of its kind, in date. An absent ``id`` gets a new ``urn:uuid:`` and an
    absent ``issued`` the time now (the two members an agency would otherwise make up by hand)."""
    obj = json_object(payload, "the payload")
    added = tuple(name for name in ("id", "issued") if name not in obj)
    if "id" in added:
        obj["id"] = new_id()
    if "issued" in added:
        obj["issued"] = format_time(now_ms // 1000 * 1000)
    raw = public_bytes(key)
    kid = kid_of(raw)
    request = parse_payload(obj, kid)
    if request.expires_ms <= now_ms:
        raise FormatError(f"the request has expired already ({obj['expires']})", member="expires")
    if request.issued_ms > now_ms + FUTURE_SKEW_MS:
        raise FormatError(
            "the member 'issued' is more than 5 minutes ahead of this computer's clock: households "
            "would refuse the request",
            member="issued",
        )
    header = b64url_encode(_compact({"alg": "Ed25519", "kid": kid, "typ": REQUEST_TYP}))
    body = b64url_encode(_compact(obj))
    signing_input = f"{header}.{body}"
    text = f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}\n"
    if len(text) > REQUEST_MAX_BYTES:
        raise FormatError(
            f"the signed request would be {len(text)} bytes; households refuse files over {REQUEST_MAX_BYTES}"
        )
    checked = verify(text, {kid: TrustedKey(raw, expires_ms=now_ms + 1)}, now_ms)
    if isinstance(checked, Rejection):  # would be a fault of this module: never hand out such a file
        raise FormatError(f"the signed request does not verify: {checked.message}", member=checked.member)
    return Signed(text, checked, added)


def _compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _kind(key: object) -> str:
    """What kind of private key ``key`` is, as a person names it."""
    kinds = (
        (rsa.RSAPrivateKey, "an RSA key"),
        (ec.EllipticCurvePrivateKey, "an elliptic-curve (ECDSA) key"),
        (ed448.Ed448PrivateKey, "an Ed448 key"),
        (x25519.X25519PrivateKey, "an X25519 key (for encryption, not signing)"),
        (dsa.DSAPrivateKey, "a DSA key"),
    )
    return next((name for kind, name in kinds if isinstance(key, kind)), "another kind of key")


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
