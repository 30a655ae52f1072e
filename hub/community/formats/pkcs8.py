"""A private key sealed with a passphrase as an encrypted PKCS#8 PEM (RFC 5958, ``ENCRYPTED PRIVATE
KEY``) whose key derivation is strong enough for a passphrase a person chose.

``cryptography`` writes encrypted PKCS#8 with PBKDF2 at a fixed 2048 rounds (OpenSSL's old default),
and lets no caller raise it: a stolen file then yields to a guessing rig in hours, and whoever opens
an agency's key signs requests as the agency. Here the same standard container (PBES2, RFC 8018:
PBKDF2 with HMAC-SHA256, then AES-256-CBC) is written with :data:`ROUNDS` rounds; only the DER
around the primitives is ours, and every reader of the format opens it (``cryptography``'s
``load_pem_private_key``, ``openssl pkey``), which the tests check.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

__all__ = ["ROUNDS", "sealed_pem"]

#: PBKDF2-HMAC-SHA256 rounds: OWASP's figure for it (2023); about 0.3 s to open on a laptop.
ROUNDS = 600_000
#: DER of the object identifiers (RFC 8018 appendix C; NIST's AES arc).
_PBES2 = bytes.fromhex("06092a864886f70d01050d")
_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")
_HMAC_SHA256 = bytes.fromhex("06082a864886f70d0209")
_AES256_CBC = bytes.fromhex("060960864801650304012a")
_NULL = b"\x05\x00"


def sealed_pem(key: Ed25519PrivateKey, passphrase: str, rounds: int = ROUNDS) -> bytes:
    """``key`` as an ``ENCRYPTED PRIVATE KEY`` PEM, sealed with ``passphrase``."""
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    secret = PBKDF2HMAC(hashes.SHA256(), 32, salt, rounds).derive(passphrase.encode("utf-8"))
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES256(secret), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    kdf = _seq(_PBKDF2, _seq(_der(0x04, salt), _der(0x02, _uint(rounds)), _seq(_HMAC_SHA256, _NULL)))
    scheme = _seq(_PBES2, _seq(kdf, _seq(_AES256_CBC, _der(0x04, iv))))
    body = base64.b64encode(_seq(scheme, _der(0x04, encrypted))).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(
        ["-----BEGIN ENCRYPTED PRIVATE KEY-----", *lines, "-----END ENCRYPTED PRIVATE KEY-----", ""]
    ).encode()


def _der(tag: int, value: bytes) -> bytes:
    """One DER element: tag, definite length (short or long form), value."""
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + value


def _seq(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def _uint(number: int) -> bytes:
    """A non-negative INTEGER's content: big-endian, minimal, a leading zero when the top bit is set."""
    return number.to_bytes(number.bit_length() // 8 + 1, "big")
