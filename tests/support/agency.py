"""An agency's side written independently of the hub, for tests: keys from ``cryptography``, cards
as JSON written by hand (hashlib and base64 only), requests signed as JWS compact serializations by
hand (RFC 7515: base64url of the header, a dot, base64url of the payload, signed with Ed25519), never
the hub's own format code. What the hub accepts from here, another tool following formats/README.md
would produce too."""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def b64url(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def zulu(epoch_s: float) -> str:
    """``epoch_s`` as RFC 3339 UTC, whole seconds, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def epoch_ms(text: str) -> int:
    """``2027-12-31T00:00:00Z`` as ms since the epoch (whole seconds only)."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


def _lettered_key() -> Ed25519PrivateKey:
    """A new key whose kid has a hex letter in it.

    Tests refuse a known kid written in upper case; a kid of digits only (about one key in
    1 800) is the same in either case, and such a test would then pass the file it means to refuse.
    """
    while True:
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if not hashlib.sha256(raw).hexdigest()[:16].isdigit():
            return key


@dataclass
class Agency:
    """An agency: its Ed25519 key, its age identity, what its card says."""

    name: str = "Springfield Police Department"
    jurisdiction: str = "City of Springfield, IL, US"
    website: str = "https://police.springfield.example"
    key: Ed25519PrivateKey = field(default_factory=_lettered_key)
    age: pyrage.x25519.Identity = field(default_factory=pyrage.x25519.Identity.generate)
    #: The agency's clock, which dates what it issues (a test that checks at a fixed time fixes it too).
    clock: Callable[[], float] = time.time

    @property
    def raw_public(self) -> bytes:
        """The raw 32-byte public key."""
        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, hex."""
        return hashlib.sha256(self.raw_public).hexdigest()

    @property
    def kid(self) -> str:
        """The format's key id: the fingerprint's first 16 hex characters."""
        return self.fingerprint[:16]

    def jwk(self) -> dict[str, Any]:
        """The card's ``jwk`` member."""
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.raw_public), "kid": self.kid}

    def card(self, *, expires: str | None = None, age: bool = True, **extra: Any) -> dict[str, Any]:
        """The card as a dict (``expires`` default: a year from now); ``extra`` adds or overrides members."""
        card: dict[str, Any] = {
            "type": "porchlight.trust.v1",
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "website": self.website,
            "jwk": self.jwk(),
            "expires": expires or zulu(self.clock() + 365 * 86400),
        }
        if age:
            card["age_recipient"] = str(self.age.to_public())
        card.update(extra)
        return card

    def card_bytes(self, **kw: Any) -> bytes:
        """The card as the file's bytes."""
        return json.dumps(self.card(**kw), indent=2, ensure_ascii=False).encode("utf-8")

    def write_card(self, path: Path, **kw: Any) -> Path:
        """Write the card to ``path``; returns it."""
        path.write_bytes(self.card_bytes(**kw))
        return path

    def payload(self, **change: Any) -> dict[str, Any]:
        """A footage request issued a minute ago, expiring in two weeks, asking about last night from
        01:30 to 03:00 UTC; ``change`` adds or overrides members (a value of ``None`` drops one)."""
        now = self.clock()
        night = (now // 86400 - 1) * 86400
        payload: dict[str, Any] = {
            "v": 1,
            "kind": "footage_request",
            "id": f"urn:uuid:{uuid.uuid4()}",
            "agency": self.name,
            "case": "26-004512",
            "title": "Package theft on Elm St",
            "message": "Seeking video of a person on foot near 5th & Main between 01:30 and 03:00.",
            "window": {"start": zulu(night + 5400), "end": zulu(night + 10800)},
            "area": {"lat": 39.7817, "lon": -89.6501, "radius_m": 400},
            "contact": "Det. J. Doe, +1-555-0100",
            "retention_days": 365,
            "legal_basis": "voluntary",
            "issued": zulu(now - 60),
            "expires": zulu(now + 14 * 86400),
        }
        payload.update(change)
        return {k: v for k, v in payload.items() if v is not None}

    def header(self, **change: Any) -> dict[str, Any]:
        """The protected header the format asks for; ``change`` adds or overrides members."""
        return {"alg": "Ed25519", "kid": self.kid, "typ": "porchlight-request+jws", **change}

    def sign(
        self,
        payload: dict[str, Any] | bytes | None = None,
        *,
        header: dict[str, Any] | bytes | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> str:
        """A JWS compact serialization of ``payload`` (a dict, or the exact JSON bytes) under
        ``header`` (default :meth:`header`), signed with ``key`` (default the agency's)."""
        head = (
            header if isinstance(header, bytes) else json.dumps(self.header() if header is None else header)
        )
        body = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(self.payload() if payload is None else payload)
        )
        return self.sign_parts(b64url(_utf8(head)), b64url(_utf8(body)), key=key)

    def sign_parts(self, header_b64: str, payload_b64: str, *, key: Ed25519PrivateKey | None = None) -> str:
        """Sign the two encoded parts exactly as given (even when they are not canonical base64url)."""
        signing_input = f"{header_b64}.{payload_b64}"
        signature = (key or self.key).sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(signature)}"


def _utf8(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def rfc7638_thumbprint(agency: Agency) -> str:
    """The RFC 7638 JWK thumbprint (what JOSE tools call a key's id), base64url: NOT the format's kid."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(agency.raw_public)}
    return b64url(
        hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    )
