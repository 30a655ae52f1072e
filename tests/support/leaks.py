"""What the suite's leak guards (tests/conftest.py) let outlive a test: processes that a
session-scoped fixture starts on purpose, even when a test's setup is what first asks for it (the
PostgreSQL cluster's watchdog). Everything else a test starts, it must end."""

from __future__ import annotations

#: Process ids that live for the whole session; their children are exempt too.
session_pids: set[int] = set()


def lives_for_the_session(pid: int) -> int:
    """Exempt process ``pid`` (and what it starts) from the per-test process guard; returns it."""
    session_pids.add(pid)
    return pid
