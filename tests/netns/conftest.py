"""Tests in this folder run only inside the loopback-only network namespace (scripts/netns-run.sh)."""

from __future__ import annotations

import pytest

from tests.support.netns import in_netns, ipycam, ipycam_auth, require_netns  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _inside_the_namespace() -> None:
    require_netns()
