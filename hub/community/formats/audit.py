"""The audit log's entries (formats/README.md, section 5): canonical JSON, the hash chain, its check.

An entry is the JSON object ``{"v": 1, "seq": N, "time": "<RFC 3339 UTC, ms, Z>", "action": "...",
"data": {...}, "prev": "<hex>"}``; its hash is the SHA-256 (lower-case hex) of that object's
canonical JSON, RFC 8785 (JCS: keys sorted by UTF-16 code units, no whitespace, ECMAScript number
forms, UTF-8). ``prev`` is the hash of entry ``N - 1``, 64 zeros for entry 1. Anyone can recompute a
chain with a JCS library and ``sha256`` alone.

:func:`check_chain` reads a stored chain and names each problem it finds: an entry whose content no
longer matches its hash (``changed``), one stored at another position than it was written at
(``moved``: entries reordered), numbers missing (``missing``: entries removed), an entry that does
not follow the one before it (``unlinked``: an entry before it rewritten with a fresh hash) and data
that is not strict JSON (``unreadable``). A chain alone cannot show a cut-off tail or an older copy
of the whole log; the signed checkpoints and the head's mirror do (``hub.community.audit``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785

from hub.community.formats import fields
from hub.community.formats.strict_json import JsonError, loads

__all__ = [
    "GENESIS",
    "VERSION",
    "ChainCheck",
    "Entry",
    "Problem",
    "ProblemKind",
    "StoredEntry",
    "canonical",
    "check_chain",
    "entry_body",
    "entry_hash",
    "format_time",
    "next_entry",
    "stored_data",
]

VERSION = 1
GENESIS = "0" * 64
ACTION_RE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*$")
#: What :func:`check_chain` finds; the last four are found by checkpoints and the mirror
#: (:mod:`hub.community.seal_check`).
ProblemKind = Literal[
    "changed", "moved", "missing", "unlinked", "unreadable", "cut", "rolled_back", "diverged", "forged"
]
_SAFE_INT = 2**53 - 1


@dataclass(frozen=True)
class Entry:
    """One entry of the log, as written."""

    seq: int
    time_ms: int
    action: str
    data: Mapping[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class StoredEntry:
    """One entry as read back from storage, its data still text (which may have been tampered with)."""

    seq: int
    time_ms: int
    action: str
    data: str
    prev: str
    hash: str


@dataclass(frozen=True)
class Problem:
    """Something wrong with the stored chain, at entry ``seq``."""

    seq: int
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`check_chain` found: how many entries, the last one, and every problem."""

    entries: int
    head_seq: int
    head_hash: str | None
    problems: tuple[Problem, ...]

    @property
    def intact(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of ``value`` (ValueError for what JSON cannot hold exactly)."""
    return rfc8785.dumps(value)


def format_time(ms: int) -> str:
    """``ms`` since the epoch as RFC 3339 UTC with milliseconds and ``Z`` (exact: integer arithmetic)."""
    return fields.format_time(ms, millis=True)


def entry_body(seq: int, time_ms: int, action: str, data: Mapping[str, Any], prev: str) -> dict[str, Any]:
    """The JSON object an entry's hash is taken over."""
    return {
        "v": VERSION,
        "seq": seq,
        "time": format_time(time_ms),
        "action": action,
        "data": dict(data),
        "prev": prev,
    }


def entry_hash(seq: int, time_ms: int, action: str, data: Mapping[str, Any], prev: str) -> str:
    """The SHA-256 (hex) of the entry's canonical JSON."""
    return hashlib.sha256(canonical(entry_body(seq, time_ms, action, data, prev))).hexdigest()


def next_entry(head: tuple[int, str] | None, time_ms: int, action: str, data: Mapping[str, Any]) -> Entry:
    """The entry that follows ``head`` (its seq and hash; None for an empty log).

    ValueError for an action that is not dotted lower-case words, or data JSON cannot hold exactly."""
    if not ACTION_RE.match(action) or len(action) > 48:
        raise ValueError(f"an audit action is dotted lower-case words, not {action!r}")
    if not isinstance(data, Mapping):
        raise ValueError("an audit entry's data is a JSON object")
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    return Entry(seq, time_ms, action, data, prev, entry_hash(seq, time_ms, action, data, prev))


def check_chain(stored: Sequence[StoredEntry]) -> ChainCheck:
    """Check a stored chain (ordered by ``seq``): each entry's hash, the numbering, the links."""
    problems: list[Problem] = []
    datas = {id(e): stored_data(e) for e in stored}
    origins = _origins(stored, datas)
    before: StoredEntry | None = None
    before_moved = False
    for entry in stored:
        expected_seq = before.seq + 1 if before else 1
        if entry.seq > expected_seq:
            first, last = expected_seq, entry.seq - 1
            span = f"entry {first} is" if first == last else f"entries {first} to {last} are"
            problems.append(Problem(first, "missing", f"{span} missing (removed from the log)"))
        origin = origins.get(id(entry))
        moved = origin is not None and origin != entry.seq
        if datas[id(entry)] is None:
            problems.append(Problem(entry.seq, "unreadable", f"entry {entry.seq}'s data is not strict JSON"))
        elif moved:
            problems.append(
                Problem(entry.seq, "moved", f"entry {origin} is stored as entry {entry.seq} (reordered)")
            )
        elif origin is None:
            problems.append(
                Problem(
                    entry.seq, "changed", f"entry {entry.seq} was changed (it no longer matches its hash)"
                )
            )
        if not moved and not before_moved and entry.seq == expected_seq:
            link = before.hash if before else GENESIS
            if entry.prev != link:
                after = f"entry {before.seq}" if before else "the start of the log"
                problems.append(
                    Problem(
                        entry.seq,
                        "unlinked",
                        f"entry {entry.seq} does not follow {after} (an entry before it was rewritten)",
                    )
                )
        before, before_moved = entry, moved
    head = stored[-1] if stored else None
    return ChainCheck(
        entries=len(stored),
        head_seq=head.seq if head else 0,
        head_hash=head.hash if head else None,
        problems=tuple(problems),
    )


def stored_data(entry: StoredEntry) -> dict[str, Any] | None:
    """An entry's data read back as JCS sees numbers (IEEE doubles); None when it is not a JSON object
    that can be hashed (tampered with)."""
    try:
        data = _as_doubles(loads(entry.data))
    except (JsonError, OverflowError):
        return None
    return data if isinstance(data, dict) else None


def _as_doubles(value: Any) -> Any:
    """Integers beyond the doubles' exact range as floats: a float written as ``2**53`` reads back
    as that integer, which RFC 8785 (numbers are doubles) writes the same as the float."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > _SAFE_INT:
        return float(value)
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_doubles(v) for v in value]
    return value


def _origins(stored: Sequence[StoredEntry], datas: Mapping[int, Mapping[str, Any] | None]) -> dict[int, int]:
    """The position each intact entry was written at (by ``id()``): its own, or, for an entry
    reordered, the one after the entry its ``prev`` names (found by walking back along the links)."""
    by_hash = {e.hash: e for e in stored}
    found: dict[int, int | None] = {}

    def matches(entry: StoredEntry, seq: int) -> bool:
        data = datas[id(entry)]
        if data is None:
            return False
        try:
            return entry_hash(seq, entry.time_ms, entry.action, data, entry.prev) == entry.hash
        except (ValueError, OverflowError):  # a time no calendar holds: tampered with
            return False

    for start in stored:
        trail: list[StoredEntry] = []
        seen: set[int] = set()
        entry: StoredEntry | None = start
        while entry is not None and id(entry) not in found and id(entry) not in seen:
            if matches(entry, entry.seq):
                found[id(entry)] = entry.seq
                break
            trail.append(entry)
            seen.add(id(entry))
            entry = None if trail[-1].prev == GENESIS else by_hash.get(trail[-1].prev)
        for moved in reversed(trail):  # the earliest link first
            if moved.prev == GENESIS:
                seq: int | None = 1
            else:
                linked = by_hash.get(moved.prev)
                origin = found.get(id(linked)) if linked is not None else None
                seq = origin + 1 if origin is not None else None
            found[id(moved)] = seq if seq is not None and matches(moved, seq) else None
    return {key: seq for key, seq in found.items() if seq is not None}
