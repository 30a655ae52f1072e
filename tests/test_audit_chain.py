"""The audit log's entries and their check, as pure code (hub/community/formats/audit.py), and the
strict JSON they are read back with.

Hashes are recomputed here independently of the hub (hashlib over JSON the test writes itself), so
the documented entry format is what the hub really hashes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.community.formats.audit import (
    GENESIS,
    StoredEntry,
    canonical,
    check_chain,
    entry_hash,
    format_time,
    next_entry,
)
from hub.community.formats.strict_json import JsonError, loads

T0 = 1_763_602_200_000  # 2025-11-20T01:30:00.000Z


def _chain(datas: list[dict]) -> list[StoredEntry]:
    """A chain written by the hub's code, as it would be stored (data as canonical text)."""
    stored, head = [], None
    for i, data in enumerate(datas):
        e = next_entry(head, T0 + 1000 * i, "request.import", data)
        stored.append(StoredEntry(e.seq, e.time_ms, e.action, canonical(data).decode(), e.prev, e.hash))
        head = (e.seq, e.hash)
    return stored


def _independent_hash(seq: int, time: str, action: str, data: dict, prev: str) -> str:
    """The documented hash, computed without the hub: for ASCII text and integers, RFC 8785 is JSON
    with sorted keys and no whitespace."""
    body = {"v": 1, "seq": seq, "time": time, "action": action, "data": data, "prev": prev}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _kinds(stored: list[StoredEntry]) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in check_chain(stored).problems]


def test_entries_hash_the_documented_json_and_link_to_the_one_before():
    datas = [{"kid": "0123456789abcdef", "n": 1}, {"id": "urn:uuid:5b1c", "reason": "bad signature"}]
    stored = _chain(datas)
    assert stored[0].prev == GENESIS == "0" * 64
    assert stored[0].hash == _independent_hash(
        1, "2025-11-20T01:30:00.000Z", "request.import", datas[0], GENESIS
    )
    assert stored[1].prev == stored[0].hash
    assert stored[1].hash == _independent_hash(
        2, "2025-11-20T01:30:01.000Z", "request.import", datas[1], stored[0].hash
    )
    check = check_chain(stored)
    assert check.intact and (check.entries, check.head_seq, check.head_hash) == (2, 2, stored[1].hash)


def test_canonical_json_is_rfc_8785():
    # Keys sorted by UTF-16 code units, numbers in their shortest ECMAScript form, text as UTF-8.
    assert canonical({"b": 1, "a": [1.0, 1e21, 0.1], "é": "ü", "\U0001f600": 0, "\ufb01": 0}) == (
        '{"a":[1,1e+21,0.1],"b":1,"é":"ü","\U0001f600":0,"\ufb01":0}'.encode()
    )


def test_times_are_exact_milliseconds():
    assert format_time(T0 + 7) == "2025-11-20T01:30:00.007Z"
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert format_time(253402300799999) == "9999-12-31T23:59:59.999Z"


@pytest.mark.parametrize(
    ("action", "data"),
    [("Trust.Add", {}), ("trust..add", {}), ("", {}), ("a" * 49, {}), ("trust.add", {"x": math.nan})],
)
def test_an_entry_that_json_cannot_hold_exactly_is_refused(action, data):
    with pytest.raises(ValueError):
        next_entry(None, T0, action, data)


def test_an_edited_entry_is_changed():
    stored = _chain([{"n": i} for i in range(5)])
    stored[2] = dataclasses.replace(stored[2], data='{"n":99}')
    assert _kinds(stored) == [(3, "changed")]
    stored = _chain([{"n": i} for i in range(5)])
    stored[4] = dataclasses.replace(stored[4], time_ms=stored[4].time_ms + 1)
    assert _kinds(stored) == [(5, "changed")]


@pytest.mark.parametrize("time_ms", [10**18, -(10**18)])
def test_a_time_no_calendar_holds_is_changed_not_a_crash(time_ms):
    stored = _chain([{"n": i} for i in range(3)])
    stored[1] = dataclasses.replace(stored[1], time_ms=time_ms)
    assert _kinds(stored) == [(2, "changed")]


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link():
    stored = _chain([{"n": i} for i in range(5)])
    e = stored[1]
    forged = {"n": 99}
    stored[1] = dataclasses.replace(
        e, data=json.dumps(forged), hash=entry_hash(2, e.time_ms, e.action, forged, e.prev)
    )
    assert _kinds(stored) == [(3, "unlinked")]
    # Rewriting every later entry as well leaves a consistent chain that only checkpoints can catch.


@pytest.mark.parametrize(
    ("removed", "expected"),
    [([2], [(3, "missing")]), ([0, 1], [(1, "missing")]), ([1, 2, 3], [(2, "missing")])],
)
def test_removed_entries_are_missing(removed, expected):
    stored = [e for i, e in enumerate(_chain([{"n": i} for i in range(6)])) if i not in removed]
    assert _kinds(stored) == expected


def test_reordered_entries_are_moved():
    stored = _chain([{"n": i} for i in range(6)])
    a, b = stored[2], stored[3]
    stored[2], stored[3] = dataclasses.replace(b, seq=3), dataclasses.replace(a, seq=4)
    check = check_chain(stored)
    assert [(p.seq, p.kind) for p in check.problems] == [(3, "moved"), (4, "moved")]
    assert "entry 4 is stored as entry 3" in check.problems[0].message
    # A rotation of three, including the first.
    stored = _chain([{"n": i} for i in range(4)])
    rotated = [stored[1], stored[2], stored[0], stored[3]]
    stored = [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(rotated)]
    assert _kinds(stored) == [(1, "moved"), (2, "moved"), (3, "moved")]


@pytest.mark.parametrize(
    "text", ['{"n":1,"n":2}', '{"n":NaN}', '{"n":1', "[1]", '"x"', '{"n":1e400}', '{"n":' + "9" * 400 + "}"]
)
def test_data_that_is_not_a_strict_json_object_is_unreadable(text):
    stored = _chain([{"n": i} for i in range(3)])
    stored[1] = dataclasses.replace(stored[1], data=text)
    assert _kinds(stored) == [(2, "unreadable")]


def test_a_cut_off_tail_is_not_visible_in_the_chain_alone():
    # What checkpoints and the head's mirror are for: the chain itself stays consistent.
    assert check_chain(_chain([{"n": i} for i in range(5)])[:3]).intact
    assert check_chain([]).intact and check_chain([]).head_hash is None


# -- hypothesis: any data, any single tampering ------------------------------------------------------

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_datas = st.lists(st.dictionaries(st.text(max_size=8), _json, max_size=4), min_size=2, max_size=8)


@settings(max_examples=150, deadline=None)
@given(datas=_datas, how=st.sampled_from(["edit", "remove", "swap", "retime", "relink"]), data=st.data())
def test_any_single_tampering_is_found(datas, how, data):
    stored = _chain(datas)
    assert check_chain(stored).intact
    i = data.draw(
        st.integers(0, len(stored) - 2), label="entry"
    )  # not the last: a cut tail is checkpoints' job
    e = stored[i]
    if how == "edit":
        changed = dict(json.loads(e.data))
        changed["tampered"] = data.draw(_json, label="value")
        stored[i] = dataclasses.replace(e, data=json.dumps(changed))
    elif how == "remove":
        del stored[i]
    elif how == "swap":
        stored[i], stored[i + 1] = (
            dataclasses.replace(stored[i + 1], seq=e.seq),
            dataclasses.replace(e, seq=e.seq + 1),
        )
    elif how == "retime":
        stored[i] = dataclasses.replace(e, time_ms=e.time_ms + data.draw(st.integers(1, 10**6)))
    else:
        stored[i] = dataclasses.replace(e, prev=hashlib.sha256(e.prev.encode()).hexdigest())
    assert not check_chain(stored).intact


# -- strict JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a":1,"a":2}', "duplicate key 'a'"),
        (b'{"a":NaN}', "NaN is not a JSON number"),
        (b'{"a":-Infinity}', "-Infinity is not a JSON number"),
        (b'{"a":1e999}', "out of range"),
        (b'{"a":' + b"9" * 5000 + b"}", "out of range"),
        (b'\xef\xbb\xbf{"a":1}', "byte-order mark"),
        (b'{"a":"\xff"}', "not UTF-8"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"a":1', "malformed JSON"),
        (b"", "malformed JSON"),
    ],
)
def test_strict_json_refuses_what_lenient_parsers_take(raw, reason):
    with pytest.raises(JsonError, match=reason.replace("(", r"\(")):
        loads(raw)


def test_strict_json_takes_plain_json():
    assert loads(b'{"a":[1,2.5,"\\u00e9",null,true],"b":{"c":"\xc3\xbc"}}') == {
        "a": [1, 2.5, "é", None, True],
        "b": {"c": "ü"},
    }


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_strict_json_only_ever_raises_json_error(raw):
    try:
        loads(raw)
    except JsonError as exc:
        assert str(exc)


_stored_rows = st.lists(
    st.builds(
        StoredEntry,
        seq=st.integers(-3, 12),
        time_ms=st.integers(-(10**19), 10**19),
        action=st.text(max_size=10),
        data=st.text(max_size=40) | _json.map(lambda v: json.dumps({"v": v})),
        prev=st.sampled_from([GENESIS, "", "x" * 64]) | st.text(max_size=64),
        hash=st.sampled_from([GENESIS, "", "x" * 64]) | st.text(max_size=64),  # prev == hash: a loop
    ),
    max_size=10,
).map(lambda rows: sorted(rows, key=lambda r: r.seq))


@settings(max_examples=300, deadline=None)
@given(_stored_rows)
def test_whatever_is_stored_the_check_names_problems_and_never_crashes(rows):
    check = check_chain(rows)
    assert check.entries == len(rows)
    assert all(
        p.message and p.kind in {"changed", "moved", "missing", "unlinked", "unreadable"}
        for p in check.problems
    )
