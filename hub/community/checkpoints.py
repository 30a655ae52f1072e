"""Signed checkpoints of the audit log, and its head mirrored in the storage folder.

A hash chain alone cannot show that its tail was cut off, or that the index was replaced by an older
copy of itself (a backup restored): what is left is still a good chain. So each write transaction
that appends entries also writes a checkpoint, the number of entries and the last one's hash, signed
with an Ed25519 key kept in the OS keyring (not in the index: whoever can edit the index cannot sign
with it); once committed, the checkpoint is copied to ``.porchlight-audit-head`` in the storage
folder (outside the index: restoring an old index leaves it as it was). ``audit verify``
(:mod:`hub.community.seal_check`) then finds a checkpoint or a mirror that vouches for more entries
than the log holds, or for another history.

Without a keyring, checkpoints are written unsigned: the action is recorded all the same and verify
says so. The keyring is read once per process and index (:func:`prepare` reads it before a write
transaction, so a slow keyring never holds the index's write lock); a missing key is created in the
write transaction, so two processes never create two keys for one index on one machine.

The mirror only moves forward along the log: it is replaced by a checkpoint whose log holds the
head it records, never by an older one or one of another history; after a rollback it stays as it
was, and verify keeps saying so. It is written only into a folder whose storage marker is this
index's (never into the empty mount point of a disk that is not there).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community.formats.audit import canonical, format_time
from hub.community.formats.fields import FormatError, b64url_decode, b64url_encode, kid_of, parse_time
from hub.community.formats.strict_json import JsonError, loads
from hub.core import secrets
from hub.db import repo_config
from hub.db.engine import WRITE_OPTION
from hub.db.schema import AuditCheckpointRow, AuditEntryRow
from hub.db.tx import after_commit
from hub.storage.manager import STORAGE_ID_KEY
from hub.storage.marker import check_storage

__all__ = [
    "KEY_NAME",
    "MIRROR_NAME",
    "KeyLookup",
    "Mirror",
    "MirrorError",
    "Signer",
    "message",
    "prepare",
    "read_mirror",
    "seal",
    "signer",
    "verifies",
]

logger = logging.getLogger(__name__)

MIRROR_NAME = ".porchlight-audit-head"
#: The checkpoint key's name in the keyring (after the index's id; service "porchlight").
KEY_NAME = "audit/checkpoint-key"
#: After the keyring could not be read, it is asked again only after this many seconds.
RECHECK_S = 10.0
_PENDING = "porchlight_audit_checkpoint"  # session.info: this transaction's checkpoint row
_NOTE = "The head of Porchlight's audit log, kept here to show a log cut off or restored from an old copy."


@dataclass(frozen=True)
class Signer:
    """This machine's checkpoint key for one index."""

    key: Ed25519PrivateKey
    public: bytes
    kid: str

    @classmethod
    def of(cls, key: Ed25519PrivateKey) -> Signer:
        """The signer of ``key``, with its public key and key id."""
        public = key.public_key().public_bytes_raw()
        return cls(key, public, kid_of(public))

    def sign(self, data: bytes) -> str:
        """The Ed25519 signature of ``data``, base64url."""
        return b64url_encode(self.key.sign(data))


@dataclass(frozen=True)
class KeyLookup:
    """This machine's key, or why there is none (``problem``)."""

    signer: Signer | None
    problem: str | None = None


@dataclass(frozen=True)
class Mirror:
    """What the mirror file says."""

    index: str
    seq: int
    head: str
    time_ms: int
    kid: str | None
    signature: str | None


class MirrorError(ValueError):
    """The mirror file is there but is not a mirror (damaged or edited)."""


_lock = threading.Lock()
_signers: dict[str, Signer] = {}
_down: dict[str, tuple[float, str]] = {}  # index id -> (monotonic time to ask again, why it failed)
_mirrors: dict[str, Path] = {}  # index id -> the storage folder its committed checkpoints go to


def message(index: str, seq: int, head: str, time_ms: int) -> bytes:
    """What a checkpoint's signature is over: RFC 8785 JSON naming the index, the count and the head."""
    return canonical(
        {
            "v": 1,
            "what": "porchlight audit checkpoint",
            "index": index,
            "seq": seq,
            "head": head,
            "time": format_time(time_ms),
        }
    )


def verifies(public: bytes, data: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64url) is ``public``'s Ed25519 signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(b64url_decode(signature, "signature"), data)
    except (InvalidSignature, ValueError):  # FormatError is a ValueError
        return False
    return True


def signer(index: str, *, create: bool) -> KeyLookup:
    """This machine's checkpoint key for ``index`` (read from the keyring once, then kept); with
    ``create``, made and stored when the keyring holds none."""
    with _lock:
        if index in _signers:
            return KeyLookup(_signers[index])
        until, why = _down.get(index, (0.0, ""))
        if time.monotonic() < until:
            return KeyLookup(None, why)
    try:
        text = secrets.get_index_secret(index, KEY_NAME)
        if text is None and create:
            new = Ed25519PrivateKey.generate().private_bytes_raw()
            secrets.set_index_secret(index, KEY_NAME, b64url_encode(new))
            text = secrets.get_index_secret(index, KEY_NAME)
            logger.info("made this machine's key for signing the audit log's checkpoints")
    except secrets.SecretsUnavailable as exc:
        why = "the keyring is locked" if isinstance(exc, secrets.SecretsLocked) else "no keyring is available"
        with _lock:
            _down[index] = (time.monotonic() + RECHECK_S, why)
        return KeyLookup(None, why)
    if text is None:
        return KeyLookup(None, "this machine's keyring holds no checkpoint key for this index")
    try:
        found = Signer.of(Ed25519PrivateKey.from_private_bytes(b64url_decode(text, KEY_NAME)))
    except ValueError:  # not base64url (FormatError), or not 32 bytes
        return KeyLookup(None, "the checkpoint key in the keyring is damaged")
    with _lock:
        _signers[index] = found
    return KeyLookup(found)


def prepare(engine: Engine, root: Path | None) -> str:
    """Before a write that may append entries: the index's id, this machine's key read from the
    keyring (outside the write transaction), and ``root``, the storage folder, remembered as where
    committed checkpoints are mirrored (None: nowhere)."""
    index = repo_config.index_id(engine)
    signer(index, create=False)
    with _lock:
        if root is None:
            _mirrors.pop(index, None)
        else:
            _mirrors[index] = root
    return index


def seal(session: Session, seq: int, head: str, time_ms: int) -> None:
    """Vouch for the log as it stands after entry ``seq`` (whose hash is ``head``), in the write
    transaction that appended it (:func:`hub.community.audit.append` calls this): the transaction
    has one checkpoint, moved to its last entry; once committed, it is mirrored."""
    index = repo_config.index_id_in(session)
    found = signer(index, create=True).signer
    row = session.info.get(_PENDING)
    if row is None or row not in session:
        row = AuditCheckpointRow(seq=seq, head=head, time_ms=time_ms)
        session.add(row)
        session.info[_PENDING] = row
        after_commit(session, lambda: _committed(session, index, row))
    row.seq, row.head, row.time_ms = seq, head, time_ms
    row.kid = found.kid if found is not None else None
    row.signature = found.sign(message(index, seq, head, time_ms)) if found is not None else None
    session.flush()


def _committed(session: Session, index: str, row: AuditCheckpointRow) -> None:
    session.info.pop(_PENDING, None)
    with _lock:
        root = _mirrors.get(index)
    if root is not None:  # read through the session's own engine (a read view of its pool)
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        write_mirror(engine.execution_options(**{WRITE_OPTION: False}), root, index, row)


def read_mirror(path: Path) -> Mirror | None:
    """The mirror at ``path``; None when there is none. MirrorError when it is not one."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise MirrorError(f"the mirror {path} could not be read: {exc.strerror}") from None
    try:
        obj = loads(data[: 64 * 1024])
        found = Mirror(
            index=obj["index"],
            seq=obj["seq"],
            head=obj["head"],
            time_ms=parse_time(obj["time"], "time"),
            kid=obj.get("kid"),
            signature=obj.get("signature"),
        )
    except (JsonError, FormatError, KeyError, TypeError) as exc:
        raise MirrorError(f"the mirror {path} is damaged ({exc})") from None
    if not (
        isinstance(found.index, str)
        and isinstance(found.seq, int)
        and isinstance(found.head, str)
        and isinstance(found.time_ms, int)
        and isinstance(found.kid, str | None)
        and isinstance(found.signature, str | None)
    ):
        raise MirrorError(f"the mirror {path} is damaged (a member of the wrong type)")
    return found


def mirror_path(engine: Engine, root: Path) -> Path | None:
    """Where the mirror of the index lives: in ``root`` if its storage marker is this index's."""
    wanted = repo_config.get_meta(engine, STORAGE_ID_KEY)
    if wanted is None or check_storage(root, wanted, probe_write=False).state != "ok":
        return None
    return root / MIRROR_NAME


def write_mirror(engine: Engine, root: Path, index: str, row: AuditCheckpointRow) -> bool:
    """Copy the committed checkpoint ``row`` to the mirror, if it moves the mirror forward along the
    log (see the module docstring); whether it was written."""
    path = mirror_path(engine, root)
    if path is None:
        logger.debug("audit head not mirrored: %s is not this index's storage folder (now)", root)
        return False
    try:
        held = read_mirror(path)
    except MirrorError as exc:
        logger.warning("%s: replacing it", exc)
        held = None
    if held is not None and held.index == index:
        if held.seq >= row.seq:
            return False
        with Session(engine) as session:
            then = session.scalar(select(AuditEntryRow.hash).where(AuditEntryRow.seq == held.seq))
        if then != held.head:
            logger.warning(
                "the audit log's mirror in %s records entry %d of another history: kept as it is "
                "(porchlight audit verify says why)",
                root,
                held.seq,
            )
            return False
    text = json.dumps(
        {
            "v": 1,
            "index": index,
            "seq": row.seq,
            "head": row.head,
            "time": format_time(row.time_ms),
            "kid": row.kid,
            "signature": row.signature,
            "note": _NOTE,
        },
        indent=1,
    )
    try:
        _replace(path, text + "\n")
    except OSError as exc:
        logger.warning("the audit log's head could not be mirrored to %s: %s", path, exc.strerror or exc)
        return False
    return True


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
