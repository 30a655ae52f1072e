"""``porchlight agency keygen|card|sign-request``, the agency's side of formats/README.md §1 and §2, run
as real subprocesses and checked independently: keys with ``cryptography`` and ``openssl``, age
identities with ``pyrage``, cards and JWS signatures taken apart by hand (hashlib, base64, json), never
with the hub's own format code. Covered: the files keygen writes and their modes, passphrase
protection, refusals that leave everything as it was, every member of a card (and that the hub trusts
it), the JWS and the members sign-request adds, payloads refused before anything is written, a fresh
machine where a household imports, matches, declines and sees a withdrawal of what the agency signed,
and that these commands never make a data dir, write outside the agency's folder or open a socket."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tests.support import netaudit
from tests.support.agency import Agency, b64url, zulu
from tests.support.clitools import assert_one_line_error, cli_json, ok, run_cli
from tests.support.footage import hours_ago, index_footage, porch_and_garage, window
from tests.support.peers import require_peer

Result = subprocess.CompletedProcess[str]
Run = Callable[..., Result]
PASS = "correct horse battery"
FILES = ("agency-key.pem", "agency-key.pub.pem", "age-identity.txt", "age-recipient.txt")
ZULU_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HEADER = {"alg": "Ed25519", "typ": "porchlight-request+jws"}


@pytest.fixture
def agency(tmp_path: Path) -> Iterator[Run]:
    """``porchlight --data-dir <tmp>/never agency ARGS...``; that data dir must never appear."""
    never = tmp_path / "never"

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return run_cli(never, "agency", *args, input=input, env=env)

    yield run
    assert not never.exists(), "an agency command made a data dir"


def strict(text: str | bytes) -> Any:
    """JSON without duplicate keys, NaN or Infinity."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        assert len({k for k, _ in items}) == len(items), f"duplicate key in {items}"
        return dict(items)

    def constant(name: str) -> None:
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def unb64(text: str) -> bytes:
    """Strict base64url without padding."""
    assert re.fullmatch(r"[A-Za-z0-9_-]*", text), text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_of(folder: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key((folder / "agency-key.pub.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    return key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def when(text: str) -> float:
    """An RFC 3339 ``...Z`` time (checked strictly) as epoch seconds."""
    assert ZULU.match(text), text
    return dt.datetime.fromisoformat(text).timestamp()


def keygen(run: Run, out: Path, passphrase: str | None = None) -> dict[str, Any]:
    args = ["keygen", "--out", str(out), "--json"]
    if passphrase is not None:
        args.append("--passphrase-stdin")
    doc: dict[str, Any] = strict(
        ok(run(*args, input=None if passphrase is None else passphrase + "\n")).stdout
    )
    return doc


def payload(**change: Any) -> dict[str, Any]:
    """A footage request as an agency writes it, without ``id`` and ``issued`` unless given."""
    return Agency().payload(**{"id": None, "issued": None, **change})


def write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def verify_jws(text: str, public: Ed25519PublicKey) -> dict[str, Any]:
    """Check the compact serialization by hand; returns its payload."""
    assert text.endswith("\n") and text.count("\n") == 1, repr(text[-40:])
    head_b64, body_b64, sig_b64 = text.strip().split(".")
    kid = hashlib.sha256(raw(public)).hexdigest()[:16]
    assert strict(unb64(head_b64)) == {**HEADER, "kid": kid}
    public.verify(unb64(sig_b64), f"{head_b64}.{body_b64}".encode("ascii"))  # raises when it does not
    body: dict[str, Any] = strict(unb64(body_b64))
    return body


def test_keygen_writes_a_key_pair_and_an_age_identity(agency: Run, tmp_path: Path) -> None:
    out = tmp_path / "spd"
    doc = keygen(agency, out)
    assert set(doc) == {
        "dir", "key", "public_key", "kid", "fingerprint", "age_identity", "age_recipient", "protected"
    }  # fmt: skip
    assert doc["protected"] is False
    for member, name in [
        ("dir", "."),
        ("key", FILES[0]),
        ("public_key", FILES[1]),
        ("age_identity", FILES[2]),
    ]:
        assert Path(doc[member]).resolve() == (out / name).resolve(), member
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert (mode(out), mode(out / FILES[0]), mode(out / FILES[2])) == (0o700, 0o600, 0o600)

    pem = (out / "agency-key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(pem, None)
    assert isinstance(private, Ed25519PrivateKey)
    public = public_of(out)
    assert raw(private.public_key()) == raw(public)
    digest = hashlib.sha256(raw(public)).hexdigest()
    assert doc["kid"] == digest[:16]
    assert re.sub(r"[^0-9a-f]", "", doc["fingerprint"].lower()) == digest

    require_peer("openssl", shutil.which("openssl") is not None)
    by_openssl = subprocess.run(
        ["openssl", "pkey", "-in", str(out / FILES[0]), "-pubout"], capture_output=True, check=True
    )
    assert by_openssl.stdout.strip() == (out / FILES[1]).read_bytes().strip()

    lines = (out / "age-identity.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["# created", "# public key"], lines
    created = dt.datetime.fromisoformat(lines[0].removeprefix("# created: "))
    assert created.tzinfo is not None and abs(created.timestamp() - time.time()) < 300
    [secret] = [line for line in lines if line.startswith("AGE-SECRET-KEY-1")]
    identity = pyrage.x25519.Identity.from_str(secret)
    recipient = str(identity.to_public())
    assert recipient.startswith("age1") and recipient == doc["age_recipient"]
    assert lines[1] == f"# public key: {recipient}"
    assert (out / "age-recipient.txt").read_text() == recipient + "\n"
    sealed = pyrage.encrypt(b"evidence", [pyrage.x25519.Recipient.from_str(doc["age_recipient"])])
    assert pyrage.decrypt(sealed, [identity]) == b"evidence"

    text = ok(agency("keygen", "--out", str(tmp_path / "other"))).stdout
    other = public_of(tmp_path / "other")
    grouped = " ".join(re.findall("....", hashlib.sha256(raw(other)).hexdigest()))
    assert grouped in text and hashlib.sha256(raw(other)).hexdigest()[:16] in text
    assert (tmp_path / "other" / "age-recipient.txt").read_text().strip() in text


def test_a_passphrase_protects_both_keys(agency: Run, tmp_path: Path) -> None:
    out = tmp_path / "spd"
    doc = keygen(agency, out, PASS)
    assert doc["protected"] is True and Path(doc["age_identity"]).name == "age-identity.age"
    assert not (out / "age-identity.txt").exists()
    assert (mode(out / "agency-key.pem"), mode(out / "age-identity.age")) == (0o600, 0o600)
    pem = (out / "agency-key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(pem, PASS.encode())
    assert isinstance(private, Ed25519PrivateKey) and raw(private.public_key()) == raw(public_of(out))
    with pytest.raises((TypeError, ValueError)):
        serialization.load_pem_private_key(pem, None)
    sealed = (out / "age-identity.age").read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1\n-> scrypt ")
    [secret] = [
        x for x in pyrage.passphrase.decrypt(sealed, PASS).decode().splitlines() if x.startswith("AGE-")
    ]
    recipient = str(pyrage.x25519.Identity.from_str(secret).to_public())
    assert recipient == doc["age_recipient"] == (out / "age-recipient.txt").read_text().strip()

    assert_one_line_error(agency("keygen", "--out", str(tmp_path / "e"), "--passphrase-stdin", input="\n"))
    assert not (tmp_path / "e" / "agency-key.pem").exists()

    src, jws = write(tmp_path / "in.json", payload()), tmp_path / "r.request.jws"
    sign = ("sign-request", "--key", str(out / "agency-key.pem"), "--in", str(src), "--out", str(jws))
    assert_one_line_error(agency(*sign), "passphrase")
    assert_one_line_error(agency(*sign, "--passphrase-stdin", input="wrong horse\n"))
    both = agency("sign-request", "--key", str(out / "agency-key.pem"), "--in", "-", "--out", str(jws),
                  "--passphrase-stdin", input=PASS + "\n" + json.dumps(payload()))  # fmt: skip
    assert_one_line_error(both)
    assert not jws.exists()
    ok(agency(*sign, "--passphrase-stdin", input=PASS + "\n"))
    verify_jws(jws.read_text(), public_of(out))


def test_keygen_never_replaces_a_key(agency: Run, tmp_path: Path) -> None:
    out = tmp_path / "spd"
    keygen(agency, out)
    before = {p.name: (p.read_bytes(), p.stat().st_mode) for p in out.iterdir()}
    assert agency("keygen", "--out", str(out)).returncode == 1
    assert_one_line_error(agency("keygen", "--out", str(out), "--passphrase-stdin", input=PASS + "\n"))
    assert {p.name: (p.read_bytes(), p.stat().st_mode) for p in out.iterdir()} == before

    lone = tmp_path / "lone"
    lone.mkdir()
    write(lone / "age-recipient.txt", "mine\n")
    assert_one_line_error(agency("keygen", "--out", str(lone)))
    assert [p.name for p in lone.iterdir()] == ["age-recipient.txt"]
    assert (lone / "age-recipient.txt").read_text() == "mine\n"


def test_card_holds_the_key_and_the_hub_trusts_it(agency: Run, tmp_path: Path) -> None:
    out, card = tmp_path / "spd", tmp_path / "spd.trust.json"
    keygen(agency, out)
    public, recipient = public_of(out), (out / "age-recipient.txt").read_text().strip()
    kid = hashlib.sha256(raw(public)).hexdigest()[:16]
    expires = zulu((time.time() // 86400 + 400) * 86400)
    args = ["card", "--key", str(out / "agency-key.pem"), "--name", "Springfield Police Department",
            "--jurisdiction", "City of Springfield, IL, US", "--website", "https://police.example",
            "--expires", expires]  # fmt: skip
    doc = strict(ok(agency(*args, "--out", str(card), "--json")).stdout)
    assert set(doc) == {"out", "kid", "fingerprint", "name", "expires", "age_recipient"}
    assert Path(doc["out"]).resolve() == card.resolve() and doc["kid"] == kid
    assert (doc["name"], doc["age_recipient"], when(doc["expires"])) == (
        "Springfield Police Department", recipient, when(expires)
    )  # fmt: skip
    found = strict(card.read_bytes())
    assert found == {
        "type": "porchlight.trust.v1",
        "name": "Springfield Police Department",
        "jurisdiction": "City of Springfield, IL, US",
        "website": "https://police.example",
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw(public)), "kid": kid},
        "age_recipient": recipient,
        "expires": expires,
    }
    assert unb64(found["jwk"]["x"]) == raw(public)
    assert strict(ok(agency(*args, "--out", "-")).stdout) == found

    data = tmp_path / "owner"
    ok(run_cli(data, "trust", "add", str(card)))
    [listed] = cli_json(data, "trust", "list")
    assert (listed["kid"], listed["name"], listed["age_recipient"]) == (kid, found["name"], recipient)

    before = card.read_bytes()
    assert_one_line_error(
        agency("card", "--key", str(out / "agency-key.pem"), "--name", "X", "--out", str(card))
    )
    assert card.read_bytes() == before

    by_public = strict(ok(agency("card", "--key", str(out / FILES[1]), "--name", "SPD", "--out", "-")).stdout)
    assert (by_public["jurisdiction"], by_public["website"], by_public["jwk"]) == ("", "", found["jwk"])
    assert by_public["age_recipient"] == recipient
    assert ZULU_S.match(by_public["expires"]), by_public["expires"]
    assert abs(when(by_public["expires"]) - (time.time() + 365 * 86400)) < 120
    bare = ok(
        agency("card", "--key", str(out / FILES[1]), "--name", "SPD", "--no-age-recipient", "--out", "-")
    )
    assert "age_recipient" not in strict(bare.stdout)

    refused = tmp_path / "refused.trust.json"
    base = ("card", "--key", str(out / FILES[1]), "--out", str(refused))
    past = zulu(time.time() - 86400)
    for bad in ("2027-12-31", "2027-12-31T00:00:00+01:00", "20271231T000000Z", past):
        assert_one_line_error(agency(*base, "--name", "SPD", "--expires", bad), "expires")
    for bad in (
        "age1notarecipient",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    ):
        assert_one_line_error(agency(*base, "--name", "SPD", "--age-recipient", bad), "age")
    assert_one_line_error(agency(*base, "--name", "\x1b[31mSPD"), "name")
    assert not refused.exists()


def test_sign_request_signs_what_it_was_given(agency: Run, tmp_path: Path) -> None:
    out = tmp_path / "spd"
    keygen(agency, out)
    public, key = public_of(out), str(out / "agency-key.pem")
    given = payload()
    jws = tmp_path / "r.request.jws"
    src = write(tmp_path / "in.json", given)
    doc = strict(
        ok(agency("sign-request", "--key", key, "--in", str(src), "--out", str(jws), "--json")).stdout
    )
    assert set(doc) == {"out", "kid", "id", "kind", "issued", "expires", "added"}
    body = verify_jws(jws.read_text(), public)
    assert {k: v for k, v in body.items() if k not in ("id", "issued")} == given
    assert sorted(doc["added"]) == ["id", "issued"]
    assert body["id"].startswith("urn:uuid:") and str(uuid.UUID(body["id"][9:])) == body["id"][9:]
    assert abs(when(body["issued"]) - time.time()) < 120
    assert (Path(doc["out"]).resolve(), doc["kid"], doc["id"], doc["kind"]) == (
        jws.resolve(), hashlib.sha256(raw(public)).hexdigest()[:16], body["id"], "footage_request"
    )  # fmt: skip
    assert when(doc["issued"]) == when(body["issued"]) and when(doc["expires"]) == when(given["expires"])

    own = payload(id=f"urn:uuid:{uuid.uuid4()}", issued=zulu(time.time() - 120))
    src2, jws2 = write(tmp_path / "own.json", own), tmp_path / "own.request.jws"
    doc2 = strict(
        ok(agency("sign-request", "--key", key, "--in", str(src2), "--out", str(jws2), "--json")).stdout
    )
    assert doc2["added"] == [] and doc2["id"] == own["id"]
    assert verify_jws(jws2.read_text(), public) == own
    piped = ok(agency("sign-request", "--key", key, "--in", "-", "--out", "-", input=json.dumps(own)))
    assert piped.stdout == jws2.read_text()  # Ed25519 is deterministic: the same bytes


def _bad_payloads() -> list[Any]:
    now = time.time()
    good = json.dumps(payload())
    cases = [
        ("case", payload(case=None), "case"),
        ("window", payload(window=None), "window"),
        ("window order", payload(window={"start": zulu(now - 3600), "end": zulu(now - 3600)}), "start"),
        ("NaN", good.replace('"retention_days": 365', '"retention_days": NaN'), "NaN"),
        ("Infinity", good.replace('"retention_days": 365', '"retention_days": Infinity'), "Infinity"),
        ("duplicate", good.replace('{"v": 1,', '{"v": 1, "v": 1,'), "duplicate"),
        ("not JSON", good[:-1], "JSON"),
        ("array", f"[{good}]", "object"),
        ("expired", payload(expires=zulu(now - 60), issued=zulu(now - 7200)), "expired"),
        (
            "future",
            payload(issued=zulu(now + 6 * 3600)),
            "issued",
        ),  # far ahead: collected long before it runs
        ("kind", payload(kind="meeting"), "kind"),
        ("warrant", payload(legal_basis="warrant"), "warrant_ref"),
        ("version", payload(v=2), "version"),
        # under 64 KiB as given (and each member under its own limit), over it once signed
        ("size", payload(**{f"note_{n}": "x" * 8000 for n in range(7)}), "bytes"),
    ]
    return [pytest.param(doc, needle, id=name) for name, doc, needle in cases]


@pytest.mark.parametrize(("doc", "needle"), _bad_payloads())
def test_a_bad_payload_is_refused_and_nothing_written(
    agency: Run, tmp_path: Path, doc: Any, needle: str
) -> None:
    out = tmp_path / "spd"
    keygen(agency, out)
    src, jws = write(tmp_path / "in.json", doc), tmp_path / "r.request.jws"
    result = agency("sign-request", "--key", str(out / "agency-key.pem"), "--in", str(src), "--out", str(jws))
    assert_one_line_error(result, needle)
    assert result.stdout == "" and not jws.exists()


def _fresh_env(root: Path) -> dict[str, str]:
    """A machine of its own under ``root`` (see test_request_decline_isolation.py)."""
    folders = ("home", "tmp", "xdg_config", "xdg_data", "xdg_cache", "xdg_state", "xdg_runtime", "keyring")
    for name in folders:
        (root / name).mkdir()
    (root / "xdg_runtime").chmod(0o700)
    env = {k: v for k, v in os.environ.items() if k != "PORCHLIGHT_DATA_DIR"}
    return {
        **env,
        "HOME": str(root / "home"),
        "TMPDIR": str(root / "tmp"),
        **{f"{name.upper()}_HOME": str(root / name) for name in folders[2:6]},
        "XDG_RUNTIME_DIR": str(root / "xdg_runtime"),
        "PYTHON_KEYRING_BACKEND": "tests.support.keyring_backend.FileKeyring",
        "PORCHLIGHT_TEST_KEYRING": str(root / "keyring" / "keyring.json"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_a_household_imports_matches_declines_and_sees_a_withdrawal(agency: Run, tmp_path: Path) -> None:
    env = _fresh_env(tmp_path)
    spd, card = tmp_path / "spd", tmp_path / "spd.trust.json"
    keygen_args = ("keygen", "--out", str(spd), "--passphrase-stdin")
    ok(agency(*keygen_args, input=PASS + "\n", env=env))
    key = ("--key", str(spd / "agency-key.pem"), "--passphrase-stdin")
    ok(agency("card", *key, "--name", "Springfield PD", "--out", str(card), input=PASS + "\n", env=env))

    def signed(name: str, doc: dict[str, Any]) -> Path:
        src, jws = write(tmp_path / f"{name}.json", doc), tmp_path / f"{name}.request.jws"
        ok(agency("sign-request", *key, "--in", str(src), "--out", str(jws), input=PASS + "\n", env=env))
        return jws

    data = porch_and_garage(tmp_path)
    index_footage(data, Porch=[(hours_ago(3), hours_ago(2))])
    asked = payload(agency="Springfield PD", window=window(hours_ago(4), hours_ago(1)))
    first = signed("first", asked)

    def owner(*args: str) -> Any:
        return cli_json(data, *args, env=env)

    ok(run_cli(data, "settings", "set", "home", "--lat", "39.7817", "--lon", "-89.6501", env=env))
    ok(run_cli(data, "trust", "add", str(card), env=env))
    ok(run_cli(data, "requests", "import", str(first), env=env))
    [listed] = owner("requests", "list")
    assert listed["card_name"] == "Springfield PD" and listed["status"] == "open"
    match = listed["match"]
    assert (match["matched"], match["area"]) == (True, "inside") and match["footage_s"] > 0
    assert owner("requests", "show", listed["ref"])["id"] == listed["id"]
    declined = owner("requests", "decline", listed["ref"])
    assert declined["outcome"] == "declined" and declined["sent"] is False
    assert owner("audit", "verify")["intact"] is True
    totals = owner("audit", "report")["totals"]
    assert (totals["received"], totals["matched"], totals["declined"]) == (1, 1, 1)

    ok(run_cli(data, "requests", "import", str(signed("second", asked)), env=env))
    second_id = next(r["id"] for r in owner("requests", "list", "--all") if r["id"] != listed["id"])
    withdrawal = {k: v for k, v in asked.items() if k not in ("case", "window", "title", "message")}
    withdrawn_by = signed("withdraw", {**withdrawal, "kind": "withdrawal", "refers_to": second_id})
    ok(run_cli(data, "requests", "import", str(withdrawn_by), env=env))
    by_id = {r["id"]: r for r in owner("requests", "list", "--all")}
    assert by_id[second_id]["status"] == "withdrawn" and by_id[second_id]["closed_by"] in by_id
    assert by_id[listed["id"]]["status"] == "declined"
    totals = owner("audit", "report")["totals"]
    assert (totals["received"], totals["declined"], totals["withdrawn"]) == (2, 1, 1)
    assert owner("audit", "verify")["intact"] is True


def test_agency_commands_make_no_data_dir_write_only_their_folder_and_open_no_socket(
    agency: Run, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PORCHLIGHT_DATA_DIR"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    never, spd, log = tmp_path / "never", tmp_path / "spd", tmp_path / "hook" / "net.jsonl"
    log.parent.mkdir()
    src = write(tmp_path / "in.json", payload())
    key = ("--key", str(spd / "agency-key.pem"))
    steps = [
        ("keygen", "--out", str(spd)),
        ("card", *key, "--name", "SPD", "--out", str(spd / "spd.trust.json")),
        ("sign-request", *key, "--in", str(src), "--out", str(spd / "r.request.jws")),
    ]
    for step in steps:
        done = netaudit.run(log, never, "agency", *step, env=env, full=True)
        assert done.returncode == 0, done.stderr
    assert not never.exists()
    events = netaudit.events(log)
    written = netaudit.writes(events)
    assert any(Path(p).name == "agency-key.pem" for p in written), "the hook saw no write"
    assert [p for p in written if not Path(p).resolve().is_relative_to(spd.resolve())] == []
    assert netaudit.socket_families(events) == set()
    assert netaudit.lookups(events) == []
    assert verify_jws((spd / "r.request.jws").read_text(), public_of(spd))["case"] == "26-004512"
