"""The Hub API: the one way the app and the CLI reach a hub.

Every backend meets this Protocol:

- :class:`hub.api.local.LocalHub`: the live hub in this process (what ``porchlight serve`` runs and
  what hub tests use); a change applies to the running cameras at once;
- :class:`hub.api.client.SocketHub`: a client of the hub that runs on a data dir, over its
  ``hub.sock`` (what the CLI uses when a hub runs); the same answers, from that hub's process;
- :class:`hub.api.index.IndexOnly`: no hub runs; it reads and edits the index of a data dir, never
  records and never takes the hub lock (a hub started later applies what it stored).

Arguments and results are the immutable values of :mod:`hub.api.types`. Every refusal is an error of
the hub's family (:mod:`hub.api.errors`): a :class:`~hub.api.errors.NotFoundError` for a camera that
is not there, a :class:`~hub.api.errors.ValidationError` naming the field (``motion.sensitivity``)
and the rule it broke, and so on; ``str(exc)`` is a message to show as it is.

Calls block (the index, the keyring, a device may be asked): a GUI calls them off its GUI thread.
Every method may be called from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self

from hub.api.subscription import DEFAULT_QUEUE, Subscription
from hub.api.types import (
    AUDIT_PAGE,
    MANUAL_EVENT_S,
    AgencyRequest,
    AuditCheck,
    AuditEntry,
    AuditReport,
    Camera,
    CameraChange,
    Credentials,
    DeviceQuery,
    Discovery,
    Event,
    EventKind,
    ExportProgress,
    ExportRequest,
    ExportResult,
    Lease,
    NewCamera,
    NoticeKind,
    Probe,
    Protection,
    ProtectReason,
    QuarantinedFile,
    Recording,
    RequestDecision,
    RequestImport,
    RequestRule,
    Role,
    RuleChange,
    RuleKind,
    Settings,
    SettingsChange,
    Snapshot,
    Status,
    StorageInfo,
    TrustCard,
    TrustChange,
)


class HubApi(Protocol):
    """Commands and queries of one hub (one data dir)."""

    # -- cameras --------------------------------------------------------------------------------------
    def cameras(self) -> list[Camera]:
        """Every camera (removed ones excluded), ordered by name."""
        ...

    def camera(self, ref: str) -> Camera:
        """The camera with this id or name (case-insensitive); NotFoundError names the cameras there are."""
        ...

    def add_camera(self, new: NewCamera, credentials: Credentials | None = None) -> Camera:
        """Store a new camera (its id comes from its name) and start recording it; returns it as stored.

        ONVIF and USB cameras are asked what they offer first: a refused password is an AuthError, a
        device that does not answer a DeviceError, and nothing is added. Credentials go into the
        OS keyring (UnavailableError when there is no secure one, before anything is stored)."""
        ...

    def update_camera(self, ref: str, change: CameraChange, credentials: Credentials | None = None) -> Camera:
        """Change a camera's fields (and replace its credentials when given); returns it as stored."""
        ...

    def remove_camera(self, ref: str) -> Camera:
        """Remove a camera and forget its credentials; its recordings stay until retention removes them.
        Returns the camera as it was."""
        ...

    # -- recordings and events ------------------------------------------------------------------------
    def recordings(
        self, camera: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[Recording]:
        """The recorded files that overlap the window (either end may be open), oldest first; of one
        camera (its name or id; a removed camera by its id) or of all. A window whose end is not
        after its start is a ValidationError."""
        ...

    def events(
        self,
        camera: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        kinds: Sequence[EventKind] | None = None,
    ) -> list[Event]:
        """The events that overlap the window (ongoing ones included), oldest first; of one camera or
        all; of the ``kinds`` given (None or empty: every kind). An unknown kind is a
        ValidationError."""
        ...

    def export(
        self,
        request: ExportRequest,
        progress: Callable[[ExportProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ExportResult:
        """Write one camera's recordings in a window as one MP4 clip (stream copy) at
        ``request.path``; blocks until it is written.

        ``progress`` is called a few times a second while it runs (from the thread that writes the
        clip: a GUI hands it to its GUI thread). Setting ``cancel`` stops the export with
        CancelledError, and no partial file remains. NotFoundError when nothing was recorded in the
        window; StorageError when the clip cannot be written; ValidationError for a path that is not
        an absolute ``.mp4`` path outside the recordings folder."""
        ...

    # -- keeping footage ----------------------------------------------------------------------------
    def protect(
        self, camera: str, start_ms: int, end_ms: int, reason: ProtectReason = "star", note: str = ""
    ) -> Protection:
        """Keep ``camera``'s footage in ``[start_ms, end_ms)`` from retention, for ``reason``: every
        recording overlapping the window, and footage recorded into it later. Returns the
        protection with its id. Several may cover the same footage; each is released on its own.
        "star" and "evidence" are kept whatever the disk; a "hold" yields to a full disk (recording
        never stops for it). ValidationError for a window that does not end after it starts, a
        reason that is none of these, a note over 1000 characters; NotFoundError for no such
        camera (a removed camera by its id)."""
        ...

    def protections(
        self,
        camera: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        reasons: Sequence[ProtectReason] | None = None,
    ) -> list[Protection]:
        """The protections overlapping the window (either end may be open), ordered by start; of one
        camera or all; of the ``reasons`` given (None or empty: every reason)."""
        ...

    def release(self, protection: int) -> Protection:
        """End one protection and return it; footage that another protection covers stays kept (a
        released star never releases evidence). NotFoundError when there is none of that id."""
        ...

    # -- manual events and pictures ------------------------------------------------------------------
    def start_event(self, camera: str, duration_s: float = MANUAL_EVENT_S) -> Event:
        """Start a manual event on ``camera`` now; it ends by itself after ``duration_s`` (1 …
        3600) unless :meth:`end_event` ends it first. While one is open on that camera, starting
        again extends it and returns it. Returns the event as stored (its id; ``end_ms`` None).
        ConflictError for a disabled camera; index-only: UnavailableError (nothing records)."""
        ...

    def end_event(self, event: int) -> Event:
        """End an open manual event now; returns it as stored. NotFoundError when no manual event
        of that id is going on."""
        ...

    def snapshot(self, camera: str) -> Snapshot:
        """The camera's newest picture as a JPEG (waiting a few seconds for a first one: a camera
        without detection starts decoding for it). UnavailableError when the camera gives none
        (disabled, offline) and for index-only."""
        ...

    # -- community: the audit log ---------------------------------------------------------------------
    def audit_log(self, after: int = 0, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
        """The community audit log's entries numbered above ``after``, oldest first, at most
        ``limit`` (1 … 10000): every trust change, import, refusal, decision and share, each holding
        the hash of the one before it. ValidationError for a limit out of bounds."""
        ...

    def audit_verify(self) -> AuditCheck:
        """Check the whole audit log as stored: each entry against its hash, the numbering, the links
        between entries; every problem found (an entry changed, removed, moved) is named. Then its
        ``seal``: the checkpoints (entry count and last hash, signed with a key in this machine's
        keyring; unsigned when there was none) and the copy of the head in the storage folder, which
        show a log whose tail was cut off ("cut") or an index restored from an older copy
        ("rolled_back"); ``notes`` say what they could not vouch for."""
        ...

    def audit_report(self) -> AuditReport:
        """The transparency report computed from the audit log: footage requests received, alerts,
        requests matched, shared, declined and withdrawn, and files refused, per month and agency
        (its card), per agency, per month and in all; ``intact`` says whether the log verified."""
        ...

    # -- community: trust cards -------------------------------------------------------------------------
    def trust_add(self, card: bytes, replace: bool = False) -> TrustChange:
        """Trust an agency's card (formats/README.md, section 1: the card file's bytes, at most
        TRUST_CARD_MAX_BYTES) and record it in the audit log. The same card again is "unchanged".
        ValidationError (field "card") saying what the format refuses or that it has expired;
        ConflictError when another card of the same key is held, or the key was revoked, unless
        ``replace``. ``same_name`` on the result warns of another card with the same name."""
        ...

    def trust_list(self) -> list[TrustCard]:
        """Every card held, revoked and expired ones too (see ``state``), by name."""
        ...

    def trust_revoke(self, kid: str) -> TrustChange:
        """Stop trusting a card (its key id, a unique prefix of at least 4 hex characters, or its full
        fingerprint, spaces allowed) and record it in the audit log; it then verifies nothing.
        NotFoundError for no such card; ValidationError for a prefix naming several. A revoked card
        is "already_revoked"."""
        ...

    # -- community: agency requests ---------------------------------------------------------------------
    def request_import(self, data: bytes, name: str = "") -> RequestImport:
        """Import one request, alert or withdrawal file (formats/README.md, section 2: its bytes;
        ``name`` is a label kept with a refused file). It is verified against the cards held now:
        stored ("imported", and logged), known already ("duplicate": the same file, nothing
        changes), or refused with its reason and kept in the quarantine ("rejected", logged;
        "already_rejected" when the same file was refused for the same reason before). A file over
        REQUEST_MAX_BYTES is refused as "oversize" without its bytes being kept. A file that
        ``refers_to`` an open request of the same card withdraws or replaces it (``closes``). Never
        raises for what the file holds: a refusal is an answer."""
        ...

    def request_list(self, include_hidden: bool = False) -> list[AgencyRequest]:
        """Every request, alert and withdrawal imported, each re-checked now (``standing``: its card
        revoked or expired since, the request expired, the stored file altered) and matched on this
        machine (``match``: the area against the home location, the footage in the window per
        camera), the most recently issued first. Requests the owner's rules hide (``hidden_by``;
        overbroad ones by default) are left out unless ``include_hidden``."""
        ...

    def request_show(self, ref: str) -> AgencyRequest:
        """One request, re-checked now, named by its id (``urn:uuid:`` optional) or a unique prefix
        of at least 4 characters, optionally after its card's key id and a slash; the owner's
        viewing it is logged ("request.view"), and so is its first match ("request.match"): a
        footage request in force with footage in its window and an area not known to be elsewhere.
        Shown even when a rule hides it. NotFoundError; ValidationError for a malformed or ambiguous
        ``ref``."""
        ...

    def request_rules(self) -> list[RequestRule]:
        """The owner's rules that hide requests from ``request_list``, by number. A new index holds
        one: "overbroad" (remove it to see overbroad requests)."""
        ...

    def request_rule_add(self, kind: RuleKind, value: str = "") -> RuleChange:
        """Hide the requests of a card (``value``: its key id or a unique prefix of at least 4),
        of a legal basis (``value``: "voluntary" or "warrant"), or overbroad ones (no ``value``); the
        same rule again is "exists". Logged ("rule.add"). ValidationError (field "kind" or "value",
        "kid" for a card prefix); NotFoundError for a card not held."""
        ...

    def request_rule_remove(self, rule_id: int) -> RuleChange:
        """Remove a rule by its number; logged ("rule.remove"). NotFoundError."""
        ...

    def request_decline(self, ref: str, note: str = "") -> RequestDecision:
        """Decline a footage request (named as for :meth:`request_show`), with the owner's ``note``
        (at most 500 characters, plain text). Recorded in the index and the audit log only
        ("request.decline"): nothing is written anywhere else and nothing is sent, so the agency
        learns nothing. The footage it held is released. A request declined already is
        "already_declined"; ValidationError for an alert or a withdrawal (nothing to decline) or a
        bad note; ConflictError for a request the agency withdrew or replaced; NotFoundError."""
        ...

    def request_quarantine(self) -> list[QuarantinedFile]:
        """The refused files (at most QUARANTINE_MAX, the least recently seen dropped first), each
        with its reason and what it claims, the most recently refused first."""
        ...

    # -- devices ----------------------------------------------------------------------------------------
    def discover(self, timeout_s: float = 3.0, host: str | None = None) -> Discovery:
        """Look for devices: ONVIF cameras on the network (a WS-Discovery multicast, listening
        ``timeout_s``) and USB cameras on the hub's machine; or ask one address only (``host``,
        "HOST[:PORT]", unicast). Only ever when the owner asks: the hub never discovers by itself. A
        driver that could not look adds a line to ``problems``; the others' devices still come."""
        ...

    def probe(self, ref: str) -> Probe:
        """What a configured camera's device offers now (asked with its stored credentials): profiles
        and their roles, events and clock, or its streams. AuthError, DeviceError when it fails."""
        ...

    def probe_device(self, query: DeviceQuery, credentials: Credentials | None = None) -> Probe:
        """What a device offers before it is added as a camera (the same description as
        :meth:`probe`); ValidationError for a query a camera could not be added with."""
        ...

    # -- hub settings and storage -----------------------------------------------------------------
    def settings(self) -> Settings:
        """The hub-wide settings."""
        ...

    def update_settings(self, change: SettingsChange) -> Settings:
        """Change hub settings; returns them as stored. Refuses a storage folder that would orphan
        recordings (StorageError) and values out of bounds (ValidationError)."""
        ...

    def storage(self) -> StorageInfo:
        """The recordings folder: where, its state, and how full it is."""
        ...

    # -- status ---------------------------------------------------------------------------------------
    def status(self) -> Status:
        """Whether a hub runs, and each camera's state."""
        ...

    # -- what happens, as it happens ----------------------------------------------------------------
    def subscribe(
        self, kinds: Sequence[NoticeKind] | None = None, queue_size: int = DEFAULT_QUEUE
    ) -> Subscription:
        """The hub's notices from now on (of ``kinds``; None or empty: all): recordings closed,
        events started and ended (with their index ids: published once committed), camera states,
        camera and storage changes, retention. At most ``queue_size`` notices wait for this
        subscriber (1 … 65536); when it falls behind, the oldest are dropped and a ``Missed`` says
        how many (the hub never waits for a subscriber). ``close()`` it when done. Index-only:
        UnavailableError (no hub runs to tell anything)."""
        ...

    def watch(self, camera: str, role: Role = "detect") -> Lease:
        """Say that a live view of ``camera``'s ``role`` stream is open (a grid tile: "detect"; a
        single view: "record"); the status shows the streams watched (``CameraStatus.watched``).
        The lease lasts until :meth:`unwatch`, or until this client's connection ends. While it
        lasts, the hub decodes that stream and writes its newest frame into the shared-memory slot
        the lease names (``Lease.frames``; read it with :class:`hub.api.frames.FrameReader`).
        NotFoundError for no such camera; index-only: UnavailableError."""
        ...

    def unwatch(self, lease: int) -> None:
        """End a lease :meth:`watch` gave this client; NotFoundError when it has none of that id."""
        ...

    def stop(self) -> None:
        """Stop the hub: every camera's open segment is finalized, the index flushed and the data
        dir's lock released; returns once it has stopped (a ``porchlight serve`` then exits).
        Index-only: NotFoundError when no hub runs; UnavailableError when one runs but does not
        answer on its socket."""
        ...

    # -- the connection ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Let go of what this client holds (an index connection; an in-process hub it started)."""
        ...

    def __enter__(self) -> Self:
        """``with connect(data_dir) as api:`` closes the API when the block ends."""
        ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
