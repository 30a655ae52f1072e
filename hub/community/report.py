"""The transparency report: what agencies asked of this household and what came of it, computed from
the audit log alone (formats/README.md, section 5), so that anyone holding the log can recompute it.

Each request is counted once per count, in the month (UTC) of the entry that first says so:
``request.import`` (a footage request received, or an alert), ``request.match`` (footage here in
its window, its area not elsewhere), ``request.share``, ``request.decline``, ``request.withdraw``
(withdrawn or replaced by the agency) and ``request.reject`` (a file refused: not verified, so not
counted against any agency). An agency is its card's key id, named as the log's latest
``trust.add`` entry for that key names it. Pure code: entries in, counts out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.community.formats.audit import StoredEntry, format_time, stored_data

__all__ = ["COUNTS", "Counts", "Line", "Report", "compute"]

_ACTIONS = {"request.match": "matched", "request.share": "shared", "request.decline": "declined",
            "request.withdraw": "withdrawn"}  # fmt: skip


@dataclass
class Counts:
    """Requests counted by what happened to them (see the module docstring)."""

    received: int = 0
    alerts: int = 0
    matched: int = 0
    shared: int = 0
    declined: int = 0
    withdrawn: int = 0
    refused: int = 0

    def add(self, other: Counts) -> None:
        """Add ``other``'s counts to these."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


#: The counts, in the order a report shows them (the order of Counts' fields).
COUNTS = tuple(f.name for f in dataclasses.fields(Counts))


@dataclass(frozen=True)
class Line:
    """The counts of one month (None: all) and one agency's key id (None: all, or refused files)."""

    month: str | None
    kid: str | None
    agency: str | None
    counts: Counts


@dataclass(frozen=True)
class Report:
    """The report: per month and agency, per agency, per month, in all."""

    entries: int
    first_ms: int | None
    last_ms: int | None
    lines: tuple[Line, ...] = ()
    agencies: tuple[Line, ...] = ()
    months: tuple[Line, ...] = ()
    totals: Counts = field(default_factory=Counts)
    skipped: int = 0


def compute(entries: Sequence[StoredEntry]) -> Report:
    """The report of ``entries`` (the whole log, oldest first)."""
    names: dict[str, str] = {}
    seen: set[tuple[str, str, str]] = set()  # (count, kid, id): each request counted once per count
    cells: defaultdict[tuple[str, str | None], Counts] = defaultdict(Counts)
    skipped = 0
    for entry in entries:
        data = stored_data(entry)
        if data is None:
            skipped += 1
            continue
        kid = data.get("kid") if isinstance(data.get("kid"), str) else None
        if entry.action == "trust.add" and kid is not None and isinstance(data.get("name"), str):
            names[kid] = data["name"]
        count = _count(entry.action, data)
        if count is None:
            continue
        month = format_time(entry.time_ms)[:7]
        if count == "refused":
            cells[(month, None)].refused += 1
            continue
        key = (count, str(kid), str(data.get("id")))
        if kid is None or key in seen:
            continue
        seen.add(key)
        cell = cells[(month, kid)]
        setattr(cell, count, getattr(cell, count) + 1)
    return _report(entries, cells, names, skipped)


def _count(action: str, data: dict[str, object]) -> str | None:
    if action == "request.import":
        return {"footage_request": "received", "alert": "alerts"}.get(str(data.get("kind")))
    if action == "request.reject":
        return "refused"
    return _ACTIONS.get(action)


def _report(
    entries: Sequence[StoredEntry],
    cells: dict[tuple[str, str | None], Counts],
    names: dict[str, str],
    skipped: int,
) -> Report:
    by_agency: defaultdict[str | None, Counts] = defaultdict(Counts)
    by_month: defaultdict[str, Counts] = defaultdict(Counts)
    totals = Counts()
    lines = []
    for (month, kid), counts in sorted(
        cells.items(), key=lambda kv: (kv[0][0], _agency_order(kv[0][1], names))
    ):
        lines.append(Line(month, kid, names.get(kid) if kid else None, counts))
        by_agency[kid].add(counts)
        by_month[month].add(counts)
        totals.add(counts)
    return Report(
        entries=len(entries),
        first_ms=entries[0].time_ms if entries else None,
        last_ms=entries[-1].time_ms if entries else None,
        lines=tuple(lines),
        agencies=tuple(
            Line(None, kid, names.get(kid) if kid else None, dataclasses.replace(counts))
            for kid, counts in sorted(by_agency.items(), key=lambda kv: _agency_order(kv[0], names))
        ),
        months=tuple(Line(month, None, None, counts) for month, counts in sorted(by_month.items())),
        totals=totals,
        skipped=skipped,
    )


def _agency_order(kid: str | None, names: dict[str, str]) -> tuple[int, str, str]:
    """Agencies by name, then key id; the refused files (no agency) last."""
    if kid is None:
        return (1, "", "")
    return (0, names.get(kid, "").casefold(), kid)
