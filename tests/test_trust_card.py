"""Trust cards and the formats' strict fields, as pure code: cards written by an independent agency
(tests/support/agency.py) are read exactly; every way a card breaks the format is refused with the
member it is about; hypothesis finds no input that crashes the parser instead of refusing it."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import unicodedata
from typing import Any

import pyrage
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.api.types import TRUST_CARD_MAX_BYTES
from hub.community.formats.fields import FormatError, b64url_decode, group4, parse_time, plain_text
from hub.community.formats.trust import CARD_MAX_BYTES, Card, parse_card
from tests.support.agency import Agency, b64url, epoch_ms, rfc7638_thumbprint

AGENCY = Agency()


def test_a_card_written_by_another_tool_is_read_exactly() -> None:
    data = AGENCY.card_bytes(expires="2027-12-31T00:00:00Z")
    card = parse_card(data)
    assert card == Card(
        name=AGENCY.name,
        jurisdiction=AGENCY.jurisdiction,
        website=AGENCY.website,
        public_key=AGENCY.raw_public,
        kid=AGENCY.kid,
        age_recipient=str(AGENCY.age.to_public()),
        expires_ms=epoch_ms("2027-12-31T00:00:00Z"),
    )
    assert card.fingerprint == AGENCY.fingerprint and len(card.fingerprint) == 64
    assert parse_card(data.decode("utf-8")) == card  # pasted text reads the same
    assert group4(card.fingerprint).split() == [card.fingerprint[i : i + 4] for i in range(0, 64, 4)]


def test_the_api_takes_the_largest_card_the_format_reads() -> None:
    assert (
        TRUST_CARD_MAX_BYTES == CARD_MAX_BYTES
    )  # hub.api.types holds its own copy (it loads no format code)


def test_unknown_members_are_ignored_and_the_age_recipient_is_optional() -> None:
    jwk = {**AGENCY.jwk(), "use": "sig", "alg": "EdDSA", "x5c": ["ignored"]}
    card = parse_card(AGENCY.card_bytes(age=False, jwk=jwk, logo="https://x.example/logo.png", v=2))
    assert card.age_recipient is None and card.kid == AGENCY.kid
    assert parse_card(AGENCY.card_bytes(age=False, age_recipient=None)).age_recipient is None


def _without(card: dict[str, Any], path: str) -> dict[str, Any]:
    if "." in path:
        outer, inner = path.split(".")
        card[outer] = {k: v for k, v in card[outer].items() if k != inner}
    else:
        del card[path]
    return card


@pytest.mark.parametrize(
    "path",
    ["type", "name", "jurisdiction", "website", "jwk", "expires", "jwk.kty", "jwk.crv", "jwk.x", "jwk.kid"],
)
def test_every_required_member_is_required(path: str) -> None:
    data = json.dumps(_without(AGENCY.card(), path)).encode()
    with pytest.raises(FormatError, match="is missing") as caught:
        parse_card(data)
    assert caught.value.member == path


def _last_changed(recipient: str) -> str:
    """``recipient`` with its last character replaced by another one (bech32 catches any one change)."""
    return recipient[:-1] + ("q" if recipient[-1] != "q" else "p")


def _jwk(**change: Any) -> dict[str, Any]:
    return {**AGENCY.jwk(), **change}


SHORT = Agency().raw_public[:31]
BAD_CARDS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, members replaced, the member named, words of the reason)
    ("another type", {"type": "porchlight.post.v1"}, "type", "not 'porchlight.trust.v1'"),
    ("a name that is a number", {"name": 42}, "name", "must be a string"),
    ("a name of only spaces", {"name": "   "}, "name", "empty"),
    ("a name with a newline", {"name": "Springfield PD\nTrusted"}, "name", "U+000A"),
    ("a name turned around", {"name": "Springfield \u202eDP"}, "name", "U+202E"),
    ("a name too long", {"name": "x" * 201}, "name", "longer than 200"),
    ("jwk a list", {"jwk": [1, 2]}, "jwk", "must be an object"),
    ("an EC key", {"jwk": _jwk(kty="EC")}, "jwk.kty", "not Ed25519"),
    ("an X25519 key", {"jwk": _jwk(crv="X25519")}, "jwk.crv", "not Ed25519"),
    ("padding", {"jwk": _jwk(x=AGENCY.jwk()["x"] + "=")}, "jwk.x", "not base64url"),
    ("the standard alphabet", {"jwk": _jwk(x="+/" + AGENCY.jwk()["x"][2:])}, "jwk.x", "not base64url"),
    ("31 bytes", {"jwk": _jwk(x=b64url(SHORT))}, "jwk.x", "31 bytes"),
    ("33 bytes", {"jwk": _jwk(x=b64url(AGENCY.raw_public + b"\0"))}, "jwk.x", "33 bytes"),
    ("stray bits", {"jwk": _jwk(x=AGENCY.jwk()["x"][:-1] + "B")}, "jwk.x", "stray bits"),
    ("another key's kid", {"jwk": _jwk(kid=Agency().kid)}, "jwk.kid", "does not match"),
    ("the RFC 7638 thumbprint as kid", {"jwk": _jwk(kid=rfc7638_thumbprint(AGENCY))}, "jwk.kid", "RFC 7638"),
    ("an upper-case kid", {"jwk": _jwk(kid=AGENCY.kid.upper())}, "jwk.kid", "does not match"),
    ("a private key", {"jwk": _jwk(d=b64url(b"\1" * 32))}, "jwk.d", "private key"),
    ("an SSH recipient", {"age_recipient": "ssh-ed25519 AAAAC3Nza"}, "age_recipient", "age1"),
    (
        "an upper-case recipient",
        {"age_recipient": str(AGENCY.age.to_public()).upper()},
        "age_recipient",
        "age1",
    ),
    (
        "a plugin recipient",
        {"age_recipient": "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0sl"},
        "age_recipient",
        "plugin",
    ),
    (
        "a broken checksum",
        {"age_recipient": _last_changed(str(AGENCY.age.to_public()))},
        "age_recipient",
        "checksum",
    ),
    ("a recipient that is a number", {"age_recipient": 1}, "age_recipient", "must be a string"),
    ("a date without a time", {"expires": "2027-12-31"}, "expires", "RFC 3339 UTC"),
    ("an offset", {"expires": "2027-12-31T00:00:00+00:00"}, "expires", "RFC 3339 UTC"),
    ("a basic format", {"expires": "20271231T000000Z"}, "expires", "RFC 3339 UTC"),
    ("a lower-case z", {"expires": "2027-12-31T00:00:00z"}, "expires", "RFC 3339 UTC"),
    ("a space for the T", {"expires": "2027-12-31 00:00:00Z"}, "expires", "RFC 3339 UTC"),
    ("no seconds", {"expires": "2027-12-31T00:00Z"}, "expires", "RFC 3339 UTC"),
    ("Arabic-Indic digits", {"expires": "٢٠٢٧-12-31T00:00:00Z"}, "expires", "RFC 3339 UTC"),
    ("30 February", {"expires": "2027-02-30T00:00:00Z"}, "expires", "not a real time"),
    ("hour 24", {"expires": "2027-12-31T24:00:00Z"}, "expires", "not a real time"),
    ("a leap second", {"expires": "2027-12-31T23:59:60Z"}, "expires", "leap second"),
    ("year zero", {"expires": "0000-01-01T00:00:00Z"}, "expires", "not a real time"),
    ("a number of seconds", {"expires": 1830297600}, "expires", "must be a string"),
]


@pytest.mark.parametrize(("case", "members", "path", "reason"), BAD_CARDS, ids=[c[0] for c in BAD_CARDS])
def test_a_card_breaking_the_format_is_refused_with_the_member(
    case: str, members: dict[str, Any], path: str, reason: str
) -> None:
    data = json.dumps({**AGENCY.card(), **members}, ensure_ascii=False).encode()
    with pytest.raises(FormatError) as caught:
        parse_card(data)
    assert caught.value.member == path, case
    assert reason in str(caught.value), str(caught.value)


def _card_text() -> str:
    return json.dumps(AGENCY.card(), indent=1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_card_text().replace('"type"', '"name": "Other PD", "type"', 1).encode(), "duplicate"),
        (_card_text().replace('"kty"', '"kty": "OKP", "kty"', 1).encode(), "duplicate"),
        (_card_text()[:-1] + ', "n": NaN}', "NaN"),
        (_card_text()[:-1] + ', "n": 1e999}', "1e999"),
        (b"\xef\xbb\xbf" + _card_text().encode(), "byte-order mark"),
        (_card_text().replace(AGENCY.name, "Springfield P\xe9D").encode("latin-1"), "not UTF-8"),
        (_card_text()[:-3], "not a trust card"),
        (b"[1, 2, 3]", "not an object"),
        (b"", "not a trust card"),
        (_card_text()[:-1] + ', "pad": "' + "x" * CARD_MAX_BYTES + '"}', f"at most {CARD_MAX_BYTES} bytes"),
    ],
    ids=[
        "duplicate top-level key",
        "duplicate jwk key",
        "NaN",
        "1e999",
        "BOM",
        "latin-1",
        "cut short",
        "a list",
        "empty",
        "oversize",
    ],
)
def test_text_that_is_not_strict_json_is_refused(data: bytes | str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason) as caught:
        parse_card(data)
    assert caught.value.member is None


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)))
def test_any_utc_time_reads_back_to_the_millisecond(when: dt.datetime) -> None:
    text = f"{when.year:04d}-{when:%m-%dT%H:%M:%S}.{when.microsecond:06d}Z"  # strftime drops %Y's zeros
    expected = calendar.timegm(when.timetuple()) * 1000 + when.microsecond // 1000
    assert parse_time(text, "t") == expected
    assert parse_time(text[:19] + "Z", "t") == expected - when.microsecond // 1000


@given(st.binary(max_size=48))
def test_base64url_reads_back_exactly_what_was_encoded(raw: bytes) -> None:
    assert b64url_decode(b64url(raw), "x") == raw


def _mutations() -> st.SearchStrategy[bytes]:
    base = AGENCY.card_bytes()
    at = st.integers(0, len(base))
    return st.one_of(
        st.tuples(at, st.binary(min_size=1, max_size=8)).map(lambda t: base[: t[0]] + t[1] + base[t[0] :]),
        st.tuples(at, st.integers(1, 40)).map(lambda t: base[: t[0]] + base[t[0] + t[1] :]),
        st.tuples(at, st.integers(0, 255)).map(
            lambda t: base[: t[0]] + bytes([t[1]]) + base[t[0] + 1 :] if t[0] < len(base) else base
        ),
        st.binary(max_size=300),
    )


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _members() -> st.SearchStrategy[bytes]:
    good = AGENCY.card()
    keys = st.sampled_from([*good, "age_recipient", "d", "kty", "crv", "x", "kid"])
    jwk_keys = st.sampled_from(["kty", "crv", "x", "kid", "d"])

    def build(changes: dict[str, Any], jwk_changes: dict[str, Any], drop: list[str]) -> bytes:
        card = {**good, **changes}
        if isinstance(card.get("jwk"), dict):
            card["jwk"] = {**card["jwk"], **jwk_changes}
        for key in drop:
            card.pop(key, None)
        return json.dumps(card).encode()

    return st.builds(
        build,
        st.dictionaries(keys, JSONISH | st.text(max_size=70).map("age1".__add__), max_size=3),
        st.dictionaries(jwk_keys, JSONISH | st.just(good["jwk"]["x"]), max_size=2),
        st.lists(keys, max_size=2),
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mutations(), _members()))
def test_any_input_is_a_card_or_a_reason(data: bytes) -> None:
    try:
        card = parse_card(data)
    except FormatError as exc:
        assert str(exc)
        return
    assert len(card.public_key) == 32 and card.kid == card.fingerprint[:16]
    assert card.age_recipient is None or pyrage.x25519.Recipient.from_str(card.age_recipient)


def _refused(char: str, *, multiline: bool) -> bool:
    try:
        plain_text(f"a{char}b", "name", max_chars=10, multiline=multiline)
    except FormatError:
        return True
    return False


def test_text_shown_to_a_person_refuses_exactly_the_controls_and_the_bidi_reorderers() -> None:
    """Every code point: refused when Unicode calls it a control (Cc) or it reorders text around it;
    a message of several lines keeps its tabs and line breaks."""
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    expected = {c for c in chars if unicodedata.category(c) == "Cc"} | bidi
    assert {c for c in chars if _refused(c, multiline=False)} == expected
    assert {c for c in chars if _refused(c, multiline=True)} == expected - set("\t\n\r")
    assert len(expected) == 65 + 9
