"""Trust cards (formats/README.md, section 1): an agency's Ed25519 public key, its name and expiry.

```json
{"type": "porchlight.trust.v1", "name": "...", "jurisdiction": "...", "website": "...",
 "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "<base64url raw key>", "kid": "<kid>"},
 "age_recipient": "age1...", "expires": "2027-12-31T00:00:00Z"}
```

:func:`parse_card` reads one strictly: strict JSON, every member present with its type (only
``age_recipient`` is optional; ``jurisdiction`` and ``website`` may be empty), the key exactly 32
bytes, ``kid`` the first 16 hex characters of the SHA-256 of those bytes (not the RFC 7638 thumbprint
JOSE tools compute), an X25519 age recipient (``age1…`` with a valid Bech32 checksum) and ``expires``
a strict RFC 3339 UTC time. Unknown members are ignored; a card that carries a private key (``jwk.d``)
is refused, since that key is no longer the agency's alone. Whether the card has expired is for the
caller to judge: parsing takes no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyrage

from hub.community.formats.fields import (
    FormatError,
    b64url_decode,
    fingerprint,
    json_object,
    kid_of,
    member,
    optional,
    parse_time,
    plain_text,
)

__all__ = ["CARD_MAX_BYTES", "CARD_TYPE", "Card", "parse_card"]

CARD_TYPE = "porchlight.trust.v1"
#: The largest card accepted (a real one is well under 1 KiB), checked before the text is parsed.
CARD_MAX_BYTES = 64 * 1024
NAME_MAX = 200
WEBSITE_MAX = 2000


@dataclass(frozen=True)
class Card:
    """A trust card as parsed: who, their key, and until when."""

    name: str
    jurisdiction: str
    website: str
    public_key: bytes  # the raw 32-byte Ed25519 key
    kid: str
    age_recipient: str | None
    expires_ms: int

    @property
    def fingerprint(self) -> str:
        """The key's full fingerprint (64 hex characters) for the owner to compare."""
        return fingerprint(self.public_key)


def parse_card(data: bytes | str) -> Card:
    """Parse and check one card; FormatError (with the member) says what is wrong."""
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > CARD_MAX_BYTES:
        raise FormatError(f"a trust card is at most {CARD_MAX_BYTES} bytes; this is {size}")
    obj = json_object(data, "not a trust card")
    kind = member(obj, "type", str)
    if kind != CARD_TYPE:
        raise FormatError(f"not a trust card: its type is {kind[:60]!r}, not {CARD_TYPE!r}", member="type")
    name = plain_text(member(obj, "name", str), "name", max_chars=NAME_MAX)  # in the format's order
    # Both must be there, but may be empty: an agency may have no website (the owner is told so).
    jurisdiction = plain_text(
        member(obj, "jurisdiction", str), "jurisdiction", max_chars=NAME_MAX, empty=True
    )
    website = plain_text(member(obj, "website", str), "website", max_chars=WEBSITE_MAX, empty=True)
    public_key, kid = _jwk(member(obj, "jwk", dict))
    age_recipient = _age_recipient(obj)
    expires_ms = parse_time(member(obj, "expires", str), "expires")
    return Card(name, jurisdiction, website, public_key, kid, age_recipient, expires_ms)


def _jwk(jwk: dict[str, Any]) -> tuple[bytes, str]:
    if "d" in jwk:
        raise FormatError(
            "the card holds a private key (jwk.d): the agency's key is no longer secret, "
            "so it cannot be trusted; ask the agency for a new card",
            member="jwk.d",
        )
    for name, expected in (("kty", "OKP"), ("crv", "Ed25519")):
        found = member(jwk, name, str, where="jwk")
        if found != expected:
            raise FormatError(
                f"the card's key is not Ed25519: jwk.{name} is {found[:40]!r}, not {expected!r}",
                member=f"jwk.{name}",
            )
    public_key = b64url_decode(member(jwk, "x", str, where="jwk"), "jwk.x")
    if len(public_key) != 32:
        raise FormatError(f"jwk.x is {len(public_key)} bytes; an Ed25519 public key is 32", member="jwk.x")
    kid = member(jwk, "kid", str, where="jwk")
    if kid != kid_of(public_key):
        raise FormatError(
            f"jwk.kid {kid[:40]!r} does not match the key (its kid is {kid_of(public_key)}: the first "
            "16 hex characters of the SHA-256 of the raw key, not the RFC 7638 thumbprint)",
            member="jwk.kid",
        )
    return public_key, kid


def _age_recipient(obj: dict[str, Any]) -> str | None:
    text = optional(obj, "age_recipient", str)
    if text is None:
        return None
    if not text.startswith("age1"):
        raise FormatError(
            "age_recipient must be an X25519 age recipient (age1…), not "
            f"{text[:20]!r}{'…' if len(text) > 20 else ''}",
            member="age_recipient",
        )
    try:
        pyrage.x25519.Recipient.from_str(text)
    except pyrage.RecipientError:
        raise FormatError(
            "age_recipient is not a valid X25519 age recipient (its Bech32 checksum or length is wrong; "
            "plugin recipients such as age1yubikey1… are not accepted)",
            member="age_recipient",
        ) from None
    return text
