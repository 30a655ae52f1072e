"""``audit verify``, beyond the chain: the signed checkpoints and the mirror of the head.

:func:`judge` is pure: given the log's hashes by entry number, the checkpoints stored in the index,
the mirror read from the storage folder and this machine's key, it names what the chain alone cannot
show (each a :class:`~hub.community.formats.audit.Problem`):

- ``cut``: a checkpoint in the index vouches for more entries than the log holds (its tail removed);
- ``rolled_back``: the storage folder's mirror vouches for more entries than the log holds (the tail
  cut, or the index restored from an older copy: its own checkpoints then agree with it);
- ``diverged``: a checkpoint or the mirror names, for an entry the log holds, another hash than the
  entry's (the log rewritten from there on, or replaced by another);
- ``forged``: a checkpoint or the mirror carries this machine's key id but its signature does not
  verify (made or edited without the key).

What it cannot vouch for is said as a note, not a problem: checkpoints written without a keyring
(unsigned) or by another machine's key (a hub sharing a PostgreSQL index), no key on this machine
to check them, entries after the last checkpoint (written by a version without checkpoints), and a
mirror missing, damaged, behind (another hub appended since) or out of reach (no storage folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.community import checkpoints
from hub.community.checkpoints import Mirror, MirrorError, Signer
from hub.community.formats.audit import Problem, format_time
from hub.db import repo_config
from hub.db.schema import AuditCheckpointRow

__all__ = ["MirrorState", "Seal", "judge", "check"]

#: The mirror against the log: "current" (at its last entry), "behind" (at an earlier one), "ahead"
#: (beyond it: a problem), "diverged" (another history: a problem), "missing", "damaged", or
#: "out_of_reach" (the storage folder is not this index's now, or not there).
MirrorState = Literal["current", "behind", "ahead", "diverged", "missing", "damaged", "out_of_reach"]


@dataclass(frozen=True)
class Seal:
    """What the checkpoints and the mirror say about the log."""

    key_id: str | None  # this machine's checkpoint key
    keyring: str | None  # why there is none (None: the key was read)
    checkpoints: int = 0
    signed: int = 0  # verified with this machine's key
    unsigned: int = 0
    other_key: int = 0  # signed with a key this machine does not hold: not checked
    vouched: int = 0  # the entries the last checkpoint vouches for
    mirror_path: str | None = None
    mirror_state: MirrorState = "out_of_reach"
    mirror: Mirror | None = None
    mirror_signed: bool = False  # verified with this machine's key
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()


def check(engine: Engine, hashes: Mapping[int, str], root: Path | None) -> Seal:
    """Judge the stored checkpoints and ``root``'s mirror against the log (``hashes`` by entry
    number, as read for the chain's check)."""
    index = repo_config.index_id(engine)
    key = checkpoints.signer(index, create=False)
    with Session(engine) as session:
        rows = list(session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)))
    path = checkpoints.mirror_path(engine, root) if root is not None else None
    mirror: Mirror | MirrorError | None = None
    if path is not None:
        try:
            mirror = checkpoints.read_mirror(path)
        except MirrorError as exc:
            mirror = exc
    return judge(index, hashes, rows, key, path, mirror)


def judge(
    index: str,
    hashes: Mapping[int, str],
    rows: Sequence[AuditCheckpointRow],
    key: checkpoints.KeyLookup,
    path: Path | None,
    mirror: Mirror | MirrorError | None,
) -> Seal:
    """See the module docstring."""
    last = max(hashes, default=0)
    problems: list[Problem] = []
    notes: list[str] = []
    signed = unsigned = other = 0
    beyond: AuditCheckpointRow | None = None
    for row in rows:
        verdict = _signature(index, row.seq, row.head, row.time_ms, row.kid, row.signature, key.signer)
        if verdict == "forged":
            problems.append(
                Problem(
                    row.seq,
                    "forged",
                    f"the checkpoint at entry {row.seq} carries this machine's key id "
                    "but its signature does not verify: it was made or edited without the key",
                )
            )
        signed += verdict == "signed"
        unsigned += verdict == "unsigned"
        other += verdict == "other"
        if row.seq > last:
            beyond = row
        elif row.seq in hashes and hashes[row.seq] != row.head:
            problems.append(
                Problem(
                    row.seq,
                    "diverged",
                    f"the checkpoint written {format_time(row.time_ms)} records "
                    f"another hash for entry {row.seq} than the log holds: the log was rewritten from "
                    "there on",
                )
            )
    if beyond is not None:
        problems.append(
            Problem(
                last + 1,
                "cut",
                f"the log ends at entry {last}, but the checkpoint written "
                f"{format_time(beyond.time_ms)} vouches for {beyond.seq} entries: "
                f"{_span(last + 1, beyond.seq)} cut off",
            )
        )
    vouched = max((row.seq for row in rows), default=0)
    if last > vouched:
        notes.append(
            f"{_span(vouched + 1, last)} not covered by a checkpoint (written before this version "
            "wrote checkpoints, or added outside Porchlight)"
        )
    if unsigned:
        notes.append(
            f"{_count(unsigned, 'checkpoint')} unsigned: no keyring was available when "
            f"{'it was' if unsigned == 1 else 'they were'} written, so nothing vouches that Porchlight wrote "
            f"{'it' if unsigned == 1 else 'them'}"
        )
    if other and key.signer is not None:
        notes.append(f"{_count(other, 'checkpoint')} signed with another machine's key: not checked here")
    if key.signer is None and rows:
        notes.append(f"signatures not checked: {key.problem}")
    state, shown, mirror_signed = _mirror(index, hashes, last, key.signer, path, mirror, problems, notes)
    return Seal(
        key_id=key.signer.kid if key.signer is not None else None,
        keyring=key.problem,
        checkpoints=len(rows),
        signed=signed,
        unsigned=unsigned,
        other_key=other,
        vouched=vouched,
        mirror_path=str(path) if path is not None else None,
        mirror_state=state,
        mirror=shown,
        mirror_signed=mirror_signed,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _mirror(
    index: str,
    hashes: Mapping[int, str],
    last: int,
    key: Signer | None,
    path: Path | None,
    mirror: Mirror | MirrorError | None,
    problems: list[Problem],
    notes: list[str],
) -> tuple[MirrorState, Mirror | None, bool]:
    if path is None:
        notes.append(
            "the storage folder is not there (or not this index's): its copy of the head was not read"
        )
        return "out_of_reach", None, False
    if isinstance(mirror, MirrorError):
        notes.append(f"{mirror}; it is replaced at the next entry")
        return "damaged", None, False
    if mirror is None or mirror.index != index:
        if last:
            notes.append(
                f"no copy of the head in {path} (the storage folder was changed, or it was deleted): "
                "the log's checkpoints alone vouch for its length"
            )
        return "missing", None, False
    verdict = _signature(index, mirror.seq, mirror.head, mirror.time_ms, mirror.kid, mirror.signature, key)
    if verdict == "forged":
        problems.append(
            Problem(
                mirror.seq,
                "forged",
                f"the copy of the head in {path} carries this machine's key id but "
                "its signature does not verify: it was made or edited without the key",
            )
        )
    when = format_time(mirror.time_ms)
    if mirror.seq > last:
        problems.append(
            Problem(
                last + 1,
                "rolled_back",
                f"the copy of the head in the storage folder says the log held "
                f"{mirror.seq} entries on {when}, but it holds {last}: its tail was cut off, or the index "
                "was restored from an older copy",
            )
        )
        return "ahead", mirror, verdict == "signed"
    if hashes.get(mirror.seq, mirror.head) != mirror.head:
        problems.append(
            Problem(
                mirror.seq,
                "diverged",
                f"the copy of the head in the storage folder records another hash "
                f"for entry {mirror.seq} (on {when}) than the log holds: the log was rewritten or replaced",
            )
        )
        return "diverged", mirror, verdict == "signed"
    if mirror.seq < last:
        notes.append(
            f"the copy of the head in the storage folder is at entry {mirror.seq}: later entries were "
            "written by another hub sharing the index, or while the storage folder was away"
        )
        return "behind", mirror, verdict == "signed"
    return "current", mirror, verdict == "signed"


Verdict = Literal["signed", "unsigned", "other", "unchecked", "forged"]


def _signature(
    index: str, seq: int, head: str, time_ms: int, kid: str | None, signature: str | None, key: Signer | None
) -> Verdict:
    if kid is None or signature is None:
        return "unsigned"
    if key is None:
        return "unchecked"
    if kid != key.kid:
        return "other"
    ok = checkpoints.verifies(key.public, checkpoints.message(index, seq, head, time_ms), signature)
    return "signed" if ok else "forged"


def _span(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first} to {last} are"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)} {'is' if n == 1 else 'are'}"
