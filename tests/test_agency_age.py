"""The age identity ``porchlight agency keygen`` writes opens, with the standard ``age`` tool, what a
household seals to the recipient on the agency's card: the plain ``age-identity.txt`` given with
``-i``, and the passphrase-sealed ``age-identity.age``, for which ``age`` asks the passphrase on its
terminal (a pseudo-terminal here, as a person would type it). The evidence package issue seals
packages this way; this shows the agency can open them with nothing of Porchlight."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.clitools import cli_json
from tests.support.peers import require_peer

PASSPHRASE = "correct horse battery"


@pytest.fixture(autouse=True)
def _age() -> None:
    require_peer("age (Debian package age)", shutil.which("age") is not None)


def _keygen(tmp_path: Path, *flags: str, passphrase: str | None = None) -> dict[str, object]:
    keys = cli_json(
        tmp_path / "never",
        "agency",
        "keygen",
        "--out",
        str(tmp_path / "keys"),
        *flags,
        input=None if passphrase is None else passphrase + "\n",
    )
    assert not (tmp_path / "never").exists()
    return dict(keys)


def _seal(tmp_path: Path, recipient: str, text: bytes) -> Path:
    sealed = tmp_path / "evidence.age"
    subprocess.run(["age", "-r", recipient, "-o", str(sealed)], input=text, check=True, timeout=60)
    return sealed


def test_age_opens_evidence_with_the_plain_identity(tmp_path: Path) -> None:
    keys = _keygen(tmp_path)
    sealed = _seal(tmp_path, str(keys["age_recipient"]), b"the footage")
    opened = subprocess.run(
        ["age", "-d", "-i", str(keys["age_identity"]), str(sealed)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert (opened.returncode, opened.stdout) == (0, b"the footage"), opened.stderr
    other = tmp_path / "other.txt"  # a test that can fail: another identity opens nothing
    subprocess.run(["age-keygen", "-o", str(other)], capture_output=True, check=True, timeout=60)
    refused = subprocess.run(["age", "-d", "-i", str(other), str(sealed)], capture_output=True, check=False)
    assert refused.returncode != 0 and refused.stdout == b""


def _age_on_a_terminal(args: list[str], answer: str, timeout: float = 60) -> tuple[int, bytes]:
    """Run ``age`` with a pseudo-terminal as its terminal; type ``answer`` when it asks for a
    passphrase. Returns its exit status and what it wrote on the terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: age, whose /dev/tty is the pseudo-terminal
        try:
            os.execvp(args[0], args)
        finally:
            os._exit(127)
    seen, typed, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal: it has ended
                break
            if not chunk:
                break
            seen += chunk
            if not typed and b"passphrase" in seen.lower():
                os.write(fd, answer.encode() + b"\n")
                typed = True
    finally:
        os.close(fd)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen


def test_age_opens_evidence_with_the_identity_sealed_by_the_passphrase(tmp_path: Path) -> None:
    keys = _keygen(tmp_path, "--passphrase-stdin", passphrase=PASSPHRASE)
    identity = Path(str(keys["age_identity"]))
    assert identity.name == "age-identity.age" and b"AGE-SECRET-KEY" not in identity.read_bytes()
    sealed = _seal(tmp_path, str(keys["age_recipient"]), b"the footage")
    args = ["age", "-d", "-i", str(identity), "-o", str(tmp_path / "opened"), str(sealed)]
    status, _ = _age_on_a_terminal(args, PASSPHRASE)
    assert status == 0 and (tmp_path / "opened").read_bytes() == b"the footage"
    status, _ = _age_on_a_terminal([*args[:-2], "-o", str(tmp_path / "wrong"), str(sealed)], "not it")
    assert status != 0 and not (tmp_path / "wrong").exists()


def test_openssl_reads_the_signing_key_sealed_with_600000_rounds(tmp_path: Path) -> None:
    require_peer("openssl", shutil.which("openssl") is not None)
    keys = _keygen(tmp_path, "--passphrase-stdin", passphrase=PASSPHRASE)
    public = Path(str(keys["public_key"])).read_text()
    key = str(keys["key"])
    derived = subprocess.run(
        ["openssl", "pkey", "-in", key, "-passin", f"pass:{PASSPHRASE}", "-pubout"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (derived.returncode, derived.stdout) == (0, public), derived.stderr
    wrong = subprocess.run(
        ["openssl", "pkey", "-in", key, "-passin", "pass:nope", "-pubout"], capture_output=True
    )
    assert wrong.returncode != 0
    parsed = subprocess.run(["openssl", "asn1parse", "-in", key], capture_output=True, text=True, check=True)
    assert "PBES2" in parsed.stdout and "hmacWithSHA256" in parsed.stdout and "aes-256-cbc" in parsed.stdout
    [rounds] = re.findall(r"prim: INTEGER\s+:([0-9A-F]+)", parsed.stdout)
    assert int(rounds, 16) >= 600_000  # not cryptography's own 2048: a passphrase a person chose needs more
