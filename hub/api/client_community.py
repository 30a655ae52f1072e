"""The community calls of :class:`hub.api.client.SocketHub` (a mixin: the hub answers them)."""

from __future__ import annotations

from typing import Any

from hub.api.types import AUDIT_PAGE, AuditCheck, AuditEntry


class CommunityCalls:
    """Trust cards, agency requests and the audit log, asked of the running hub."""

    def _call(self, name: str, **kw: Any) -> Any:
        raise NotImplementedError  # SocketHub sends the call

    def audit_log(self, after: int = 0, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
        """The audit log's entries numbered above ``after``, oldest first, at most ``limit``."""
        return self._call("audit_log", after=after, limit=limit)  # type: ignore[no-any-return]

    def audit_verify(self) -> AuditCheck:
        """Check the whole audit log as stored (the hub reads it)."""
        return self._call("audit_verify")  # type: ignore[no-any-return]
