"""The community features as the Hub API shows them: trust cards, agency requests and decisions."""

from __future__ import annotations

from typing import Literal

from hub.api.types.base import Value

__all__ = [
    "AgencyRequest",
    "DecisionOutcome",
    "RequestDecision",
    "AreaCheck",
    "CameraFootage",
    "OVERBROAD_RADIUS_M",
    "OVERBROAD_WINDOW_MS",
    "OverbroadReason",
    "HoldState",
    "HoldWhy",
    "RequestHold",
    "RequestMatch",
    "RequestRule",
    "RuleChange",
    "RuleKind",
    "RuleOutcome",
    "ImportOutcome",
    "LegalBasis",
    "QUARANTINE_MAX",
    "QuarantinedFile",
    "REQUEST_MAX_BYTES",
    "RejectReason",
    "RequestArea",
    "RequestImport",
    "RequestKind",
    "RequestStanding",
    "RequestStatus",
    "TRUST_CARD_MAX_BYTES",
    "TrustCard",
    "TrustChange",
    "TrustOutcome",
    "TrustState",
]

#: The largest trust card ``trust_add`` takes (formats/README.md sets no limit; a real one is < 1 KiB).
TRUST_CARD_MAX_BYTES = 64 * 1024

#: Whether a card verifies requests now: "active", or not since it expired or the owner revoked it.
TrustState = Literal["active", "expired", "revoked"]
#: What ``trust_add`` or ``trust_revoke`` did.
TrustOutcome = Literal["added", "replaced", "unchanged", "revoked", "already_revoked"]


class TrustCard(Value, frozen=True, kw_only=True):
    """An agency's card the owner trusts (or trusted): its key, who it names, until when.

    ``kid`` is the first 16 hex characters of ``fingerprint``, the SHA-256 of the raw Ed25519 key
    (not the RFC 7638 thumbprint). ``same_name`` lists the other cards, not revoked, whose name
    matches this one's apart from case and spacing: the owner is warned, since an agency is known by
    the card's name."""

    kid: str
    fingerprint: str  # 64 lower-case hex characters
    name: str
    jurisdiction: str
    website: str
    age_recipient: str | None = None
    expires_ms: int
    added_ms: int
    updated_ms: int
    revoked_ms: int | None = None
    state: TrustState
    same_name: tuple[str, ...] = ()


class TrustChange(Value, frozen=True, kw_only=True):
    """What ``trust_add`` or ``trust_revoke`` did: the card as stored now and, for "replaced", the
    card it replaced."""

    outcome: TrustOutcome
    card: TrustCard
    previous: TrustCard | None = None


#: The largest request file ``request_import`` takes (formats/README.md: a request or alert ≤ 64 KiB);
#: a larger one is refused as "oversize" and quarantined without its bytes.
REQUEST_MAX_BYTES = 64 * 1024
#: The most refused files the quarantine keeps (the least recently seen are dropped first).
QUARANTINE_MAX = 1000

RequestKind = Literal["footage_request", "alert", "withdrawal"]
#: What the agency claims as its basis: shown as its claim, never as a fact the hub checked.
LegalBasis = Literal["voluntary", "warrant"]
#: "open"; closed by a later file of the same card: "withdrawn", or "replaced" by a new request; or
#: decided by the owner: "declined".
RequestStatus = Literal["open", "withdrawn", "replaced", "declined"]
#: What ``request_decline`` did: "declined", or nothing ("already_declined").
DecisionOutcome = Literal["declined", "already_declined"]
#: Whether a stored request counts now (re-checked each time it is shown): "in_force"; "expired"
#: (its own expiry has passed); its card expired or revoked since; or "altered" (the stored file no
#: longer verifies: the index was edited).
RequestStanding = Literal["in_force", "expired", "card_expired", "card_revoked", "altered"]
#: Why a file was refused (formats/README.md, section 2); "replay" is a different, validly signed file
#: with the (card, id) of one already imported.
RejectReason = Literal[
    "oversize",
    "malformed",
    "malformed_json",
    "duplicate_key",
    "not_a_number",
    "unsupported_alg",
    "wrong_typ",
    "unsupported_header",
    "unknown_kid",
    "card_revoked",
    "card_expired",
    "bad_signature",
    "missing_member",
    "invalid_member",
    "unsupported_version",
    "issued_in_future",
    "expired",
    "replay",
]
#: What importing one file did: "imported"; "duplicate" (the same file is held already: nothing
#: changed); "rejected" (quarantined now, and logged); "already_rejected" (the same file was refused
#: for the same reason before: counted, not logged again).
ImportOutcome = Literal["imported", "duplicate", "rejected", "already_rejected"]


class RequestArea(Value, frozen=True, kw_only=True):
    """The circle a request is about: WGS 84 degrees, a radius in metres."""

    lat: float
    lon: float
    radius_m: float


#: A request is overbroad (formats/README.md, section 2) when its window is longer than this or its
#: radius larger than this; only a footage request can be.
OVERBROAD_WINDOW_MS = 12 * 3600 * 1000
OVERBROAD_RADIUS_M = 800.0
#: Why a request is overbroad.
OverbroadReason = Literal["window", "radius"]
#: A request's area against the owner's home location: "inside" (the home is within its radius),
#: "outside", "not_checked" (no home location is set) or "no_area" (the request names none).
AreaCheck = Literal["inside", "outside", "not_checked", "no_area"]
#: What an owner's rule hides: one card's requests, one legal basis, or overbroad requests.
RuleKind = Literal["card", "legal_basis", "overbroad"]
#: What ``request_rule_add`` or ``request_rule_remove`` did ("exists": the same rule is held already).
RuleOutcome = Literal["added", "exists", "removed"]


class CameraFootage(Value, frozen=True, kw_only=True):
    """One camera's recorded footage inside a request's window: the time covered (gaps between
    recordings not counted), the recordings it spans, the events overlapping it, and the first and
    last recorded instants inside it."""

    camera_id: str
    camera_name: str
    covered_ms: int
    recordings: int
    events: int
    first_ms: int
    last_ms: int


class RequestMatch(Value, frozen=True, kw_only=True):
    """A request against this hub, worked out on this machine: its area against the home location
    (``distance_m`` from the home to the area's centre, when both are known) and, for a footage
    request, the footage its window covers per camera. ``matched``: footage in the window and an area
    not known to be elsewhere; ``matched_ms``: when that was first found (and logged)."""

    area: AreaCheck
    distance_m: float | None = None
    footage: tuple[CameraFootage, ...] = ()
    covered_ms: int = 0
    matched: bool = False
    matched_ms: int | None = None


class RequestRule(Value, frozen=True, kw_only=True):
    """An owner's rule that hides requests from ``request_list`` (unless ``include_hidden``): those
    of the card ``kid`` (``card_name`` its name, None if the card left the index), of the legal basis
    ``legal_basis``, or overbroad ones."""

    id: int
    kind: RuleKind
    kid: str | None = None
    card_name: str | None = None
    legal_basis: LegalBasis | None = None
    created_ms: int


class RuleChange(Value, frozen=True, kw_only=True):
    """What ``request_rule_add`` or ``request_rule_remove`` did, and the rule."""

    outcome: RuleOutcome
    rule: RequestRule


#: Whether a request's footage is held from retention: "held" until it ends, "not_held" (``why``
#: not), or "released" (``why``).
HoldState = Literal["held", "not_held", "released"]
#: Why a request's footage is not held, or why its hold was released.
HoldWhy = Literal[
    "off",  # not held: the owner's setting hold_requests is off
    "not_footage",  # not held: an alert or a withdrawal asks for no footage
    "not_in_force",  # not held: expired, its card expired or revoked, or it no longer verifies
    "closed",  # not held: withdrawn, replaced or decided before it could be
    "area_outside",  # not held: its area does not include the home location
    "hidden",  # not held: the owner's rules hide it
    "no_footage",  # not held: nothing recorded in its window
    "cap",  # not held: it would pass the cap on held footage (hold_cap_percent)
    "withdrawn",  # released: the agency withdrew the request
    "replaced",  # released: the agency replaced it
    "expired",  # released: the request expired
    "card_expired",  # released: its card expired
    "card_revoked",  # released: the owner revoked its card
    "declined",  # released: the owner declined it
    "shared",  # released: the owner shared footage for it
    "disk_full",  # released: the disk was full and recording needed the space (oldest hold first)
    "owner",  # released: the owner released it
]


class RequestHold(Value, frozen=True, kw_only=True):
    """Whether a request's footage is kept from retention while the owner decides (``since_ms``: when
    it came to this state); ``bytes``: the recordings its holds keep now."""

    state: HoldState
    why: HoldWhy | None = None
    since_ms: int
    bytes: int = 0


class AgencyRequest(Value, frozen=True, kw_only=True):
    """A request, alert or withdrawal that verified when imported, as read again now.

    ``card_name`` names the agency: the card the owner trusted, never the payload's own ``agency``
    text (``agency_differs`` warns when they differ; ``same_name`` lists other cards in force with
    the card's name). All text is the agency's, as plain text: show it as such, never as rich text.
    The content fields are None when ``standing`` is "altered" (``problem`` says why)."""

    id: str  # urn:uuid:…, lower case
    ref: str  # the part after urn:uuid:, what the owner types
    kid: str
    card_name: str | None
    same_name: tuple[str, ...] = ()
    agency: str | None = None
    agency_differs: bool = False
    kind: RequestKind
    case: str | None = None
    title: str | None = None
    message: str | None = None
    contact: str | None = None
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    area: RequestArea | None = None
    retention_days: int | None = None
    legal_basis: LegalBasis | None = None
    warrant_ref: str | None = None
    refers_to: str | None = None
    issued_ms: int
    expires_ms: int
    imported_ms: int
    sha256: str  # of the signed file as stored
    status: RequestStatus
    closed_by: str | None = None
    closed_ms: int | None = None  # when it was withdrawn, replaced or decided
    note: str | None = None  # the owner's note on the decision
    standing: RequestStanding
    problem: str | None = None
    overbroad: tuple[OverbroadReason, ...] = ()
    hidden_by: tuple[int, ...] = ()  # the owner's rules that hide it from the list
    match: RequestMatch | None = None  # None when the stored file no longer verifies
    hold: RequestHold | None = None  # None until considered (alerts and withdrawals: "not_held")


class QuarantinedFile(Value, frozen=True, kw_only=True):
    """A request file refused on import. ``kid`` and ``claimed_id`` are what the file claims: vouched
    for only when ``verified`` (its signature verified with a card the owner trusts)."""

    id: int
    name: str  # the file's name when it arrived (a label)
    size: int  # bytes received (for "oversize", only the first were read)
    sha256: str
    reason: RejectReason
    message: str
    member: str | None = None
    kid: str | None = None
    claimed_id: str | None = None
    verified: bool = False
    first_ms: int
    last_ms: int
    times: int  # how often it arrived


class RequestImport(Value, frozen=True, kw_only=True):
    """What ``request_import`` did with one file: the request (imported, or held already) or the
    file's place in the quarantine; ``closes`` names the requests it withdrew or replaced now."""

    outcome: ImportOutcome
    request: AgencyRequest | None = None
    refused: QuarantinedFile | None = None
    closes: tuple[str, ...] = ()


class RequestDecision(Value, frozen=True, kw_only=True):
    """What ``request_decline`` did, and the request as it stands now."""

    outcome: DecisionOutcome
    request: AgencyRequest
