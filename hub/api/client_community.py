"""The community calls of :class:`hub.api.client.SocketHub` (a mixin: the hub answers them)."""

from __future__ import annotations

from typing import Any

from hub.api.types import (
    AUDIT_PAGE,
    AgencyRequest,
    AuditCheck,
    AuditEntry,
    AuditReport,
    QuarantinedFile,
    RequestDecision,
    RequestImport,
    RequestRule,
    RuleChange,
    RuleKind,
    TrustCard,
    TrustChange,
)


class CommunityCalls:
    """Trust cards, agency requests and the audit log, asked of the running hub."""

    def _call(self, name: str, /, **kw: Any) -> Any:
        raise NotImplementedError  # SocketHub sends the call

    def audit_log(self, after: int = 0, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
        """The audit log's entries numbered above ``after``, oldest first, at most ``limit``."""
        return self._call("audit_log", after=after, limit=limit)  # type: ignore[no-any-return]

    def audit_verify(self) -> AuditCheck:
        """Check the whole audit log as stored (the hub reads it)."""
        return self._call("audit_verify")  # type: ignore[no-any-return]

    def audit_report(self) -> AuditReport:
        """The transparency report (the hub computes it from the log)."""
        return self._call("audit_report")  # type: ignore[no-any-return]

    def trust_add(self, card: bytes, replace: bool = False) -> TrustChange:
        """Trust an agency's card (the hub checks it and records it in the audit log)."""
        return self._call("trust_add", card=card, replace=replace)  # type: ignore[no-any-return]

    def trust_list(self) -> list[TrustCard]:
        """Every card held, revoked and expired ones too."""
        return self._call("trust_list")  # type: ignore[no-any-return]

    def trust_revoke(self, kid: str) -> TrustChange:
        """Stop trusting a card (its key id or a unique prefix)."""
        return self._call("trust_revoke", kid=kid)  # type: ignore[no-any-return]

    def request_import(self, data: bytes, name: str = "") -> RequestImport:
        """Import one request file (the hub verifies, stores or quarantines it, and logs it)."""
        return self._call("request_import", data=data, name=name)  # type: ignore[no-any-return]

    def request_list(self, include_hidden: bool = False) -> list[AgencyRequest]:
        """Every request imported, re-checked and matched now (hidden ones with ``include_hidden``)."""
        return self._call("request_list", include_hidden=include_hidden)  # type: ignore[no-any-return]

    def request_show(self, ref: str) -> AgencyRequest:
        """One request (its id or a unique prefix), re-checked now; the view is logged."""
        return self._call("request_show", ref=ref)  # type: ignore[no-any-return]

    def request_decline(self, ref: str, note: str = "") -> RequestDecision:
        """Decline a footage request (the hub records it in the audit log only; nothing is sent)."""
        return self._call("request_decline", ref=ref, note=note)  # type: ignore[no-any-return]

    def request_quarantine(self) -> list[QuarantinedFile]:
        """The refused files."""
        return self._call("request_quarantine")  # type: ignore[no-any-return]

    def request_rules(self) -> list[RequestRule]:
        """The owner's rules that hide requests."""
        return self._call("request_rules")  # type: ignore[no-any-return]

    def request_rule_add(self, kind: RuleKind, value: str = "") -> RuleChange:
        """Add a rule that hides requests (the hub logs it)."""
        return self._call("request_rule_add", kind=kind, value=value)  # type: ignore[no-any-return]

    def request_rule_remove(self, rule_id: int) -> RuleChange:
        """Remove a rule by its number (the hub logs it)."""
        return self._call("request_rule_remove", rule_id=rule_id)  # type: ignore[no-any-return]
