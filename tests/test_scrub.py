"""The one credential scrubber (drivers/scrub.py): what it masks and strips, and that no other module
writes its own (a second copy drifts: the RTSP driver's missed query-string passwords)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drivers import scrub

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "drivers", "cli", "ui")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open rtsp://admin:s3cret@cam.local:554/live failed", "open rtsp://***@cam.local:554/live failed"),
        ("two: http://a:b@x/ and rtsp://c@y/", "two: http://***@x/ and rtsp://***@y/"),
        (
            "rtsp://cam.local/realmonitor?channel=1&user=admin&password=s3cret&subtype=0",
            "rtsp://cam.local/realmonitor?channel=1&user=***&password=***&subtype=0",
        ),
        (
            "http://cam.local/snapshot.cgi?USR=admin;PWD=s3cret",
            "http://cam.local/snapshot.cgi?USR=***;PWD=***",
        ),
        ("'rtsp://u:p@h/x' in quotes", "'rtsp://***@h/x' in quotes"),
        # ordinary text and URLs without credentials are left alone
        ("rtsp://cam.local:554/stream?channel=1", "rtsp://cam.local:554/stream?channel=1"),
        ("mail me at owner@example.org", "mail me at owner@example.org"),
        ("the password field is empty", "the password field is empty"),
    ],
)
def test_redact_masks_credentials_in_urls(text, expected):
    assert scrub.redact(text) == expected


def test_redact_masks_a_registered_secret_wherever_it_appears(monkeypatch):
    monkeypatch.setattr(scrub, "_secrets", frozenset())  # this test's secrets end with it
    secret = "Porch Light/42&x"
    scrub.register_secret(secret)
    for where in (secret, "rtsp://cam/?a=" + "Porch%20Light%2F42%26x", "q=Porch+Light%2F42%26x"):
        assert "Porch" not in scrub.redact(f"said: {where}"), where
    scrub.register_secret("ab")  # too short to mask without mangling ordinary words
    assert scrub.redact("absent") == "absent"


@pytest.mark.parametrize(
    ("url", "clean", "had"),
    [
        ("rtsp://cam.local:554/live", "rtsp://cam.local:554/live", False),
        ("rtsp://admin:s3cret@cam.local:554/live", "rtsp://cam.local:554/live", True),
        ("rtsp://admin@cam.local/live", "rtsp://cam.local/live", True),
        (
            "rtsp://cam.local/realmonitor?channel=1&subtype=0&user=admin&password=s3cret",
            "rtsp://cam.local/realmonitor?channel=1&subtype=0",
            True,
        ),
        ("http://cam.local/snapshot.cgi?usr=admin&pwd=s3cret", "http://cam.local/snapshot.cgi", True),
        ("http://cam.local/a?passwordless=1", "http://cam.local/a?passwordless=1", False),
        ("", None, False),
        (None, None, False),
    ],
)
def test_strip_credentials(url, clean, had):
    assert scrub.strip_credentials(url) == (clean, had)


@pytest.mark.parametrize(
    ("url", "has"),
    [
        ("rtsp://cam.local/live", False),
        ("rtsp://admin:s3cret@cam.local/live", True),
        ("rtsp://admin@cam.local/live", True),
        ("rtsp://:s3cret@cam.local/live", True),
        ("rtsp://[::1/x@y", True),  # does not parse: an '@' is enough to refuse it
    ],
)
def test_has_credentials(url, has):
    assert scrub.has_credentials(url) is has


def test_credentials_survive_a_round_trip_through_the_url():
    url = scrub.inject_credentials("rtsp://cam.local:8554/main", "ad min", "s3cret:/@x%")
    assert "s3cret:/@x%" not in url  # percent-encoded, so the URL still parses
    assert scrub.split_credentials(url) == ("rtsp://cam.local:8554/main", "ad min", "s3cret:/@x%")
    assert scrub.inject_credentials("rtsp://cam.local/main", None, "ignored") == "rtsp://cam.local/main"
    assert scrub.redact(url) == "rtsp://***@cam.local:8554/main"


def _url_credential_handling(path: Path) -> list[str]:
    """Places in ``path`` that take URL credentials apart by hand: a regex that reads userinfo
    (``://`` and ``@`` in one pattern) or an ``rpartition('@')``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if node.func.attr in {"compile", "sub", "search", "match", "fullmatch"} and any(
                "://" in a and "@" in a for a in args
            ):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} regex {args[0]!r}")
            if node.func.attr == "rpartition" and args == ["@"]:
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} rpartition('@')")
    return found


def test_no_module_but_the_scrubber_takes_url_credentials_apart():
    scrubber = REPO_ROOT / "drivers" / "scrub.py"
    assert _url_credential_handling(scrubber), "the check no longer recognises the scrubber itself"
    others = [
        hit
        for package in PACKAGES
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        if path != scrubber
        for hit in _url_credential_handling(path)
    ]
    assert not others, "use drivers.scrub instead:\n" + "\n".join(others)
