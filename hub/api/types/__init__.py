"""The Hub API's data: plain, immutable, typed values, the same in the hub's process and on the wire.

This package imports nothing of the hub and no Qt, only msgspec, so any client (the app, the CLI, a
script) can hold these values without loading the engine. Every value is a msgspec Struct: typed,
strictly decoded from JSON or MessagePack, and encoded the same way. They are grouped by
subject (:mod:`~hub.api.types.config`: cameras, settings, storage, status;
:mod:`~hub.api.types.media`: recordings, events, exports, protections and snapshots;
:mod:`~hub.api.types.devices`: discovery and probes; :mod:`~hub.api.types.community`: the audit log;
:mod:`~hub.api.types.notices`: what a subscriber is told, and live-view leases) and all importable
from here.

Two kinds, by what crosses from whom:

- **Values** the hub answers with (:class:`Camera`, :class:`Status`, …). A decoder ignores fields it
  does not know, so a newer hub may add optional fields without breaking an older client.
- **Requests** a client sends (:class:`NewCamera`, :class:`CameraChange`, …). Unknown fields are
  refused: a hub never silently drops part of what the owner asked for. In a *change*, a field left
  ``UNSET`` keeps its value; ``None`` where the type allows it is a value ("no sub stream").

Times are integers, milliseconds since the Unix epoch, UTC (``*_ms``); durations are seconds
(``*_s``); sizes are bytes. A camera is named in a request by its id or its name (case-insensitive).
Secrets cross only inside a :class:`Secret`, which never shows its text in ``repr``, ``str`` or an
error; only the hub's keyring code calls :meth:`Secret.reveal`.
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from hub.api.types.base import (
    AudioPolicy,
    CameraState,
    Credentials,
    EventSource,
    Mode,
    Point,
    Request,
    Secret,
    StorageState,
    Value,
    ZoneKind,
)
from hub.api.types.community import (
    AUDIT_PAGE,
    AUDIT_PAGE_MAX,
    AUDIT_PROBLEMS_SHOWN,
    QUARANTINE_MAX,
    REQUEST_MAX_BYTES,
    TRUST_CARD_MAX_BYTES,
    AgencyRequest,
    AuditCheck,
    AuditEntry,
    AuditProblem,
    AuditProblemKind,
    ImportOutcome,
    LegalBasis,
    QuarantinedFile,
    RejectReason,
    RequestArea,
    RequestImport,
    RequestKind,
    RequestStanding,
    RequestStatus,
    TrustCard,
    TrustChange,
    TrustOutcome,
    TrustState,
)
from hub.api.types.config import (
    Camera,
    CameraChange,
    CameraStatus,
    HubInfo,
    MotionChange,
    MotionSettings,
    NewCamera,
    Settings,
    SettingsChange,
    Status,
    StorageInfo,
    Zone,
)
from hub.api.types.devices import (
    Device,
    DeviceQuery,
    Discovery,
    Probe,
    ProbeProfile,
    ProbeStream,
    Role,
)
from hub.api.types.media import (
    MANUAL_EVENT_RANGE_S,
    MANUAL_EVENT_S,
    MAX_SNAPSHOT_BYTES,
    Event,
    EventKind,
    ExportProgress,
    ExportRequest,
    ExportResult,
    Gap,
    Protection,
    ProtectReason,
    Recording,
    Snapshot,
)
from hub.api.types.notices import (
    CamerasChanged,
    CameraStateChanged,
    EventEnded,
    EventStarted,
    Lease,
    Missed,
    Notice,
    NoticeBase,
    NoticeKind,
    ProtectionChanged,
    RecordingAdded,
    RecordingsRemoved,
    StorageChanged,
)

__all__ = [
    "AUDIT_PAGE",
    "AUDIT_PAGE_MAX",
    "AUDIT_PROBLEMS_SHOWN",
    "MANUAL_EVENT_RANGE_S",
    "MANUAL_EVENT_S",
    "MAX_SNAPSHOT_BYTES",
    "QUARANTINE_MAX",
    "REQUEST_MAX_BYTES",
    "TRUST_CARD_MAX_BYTES",
    "AuditCheck",
    "AuditEntry",
    "AuditProblem",
    "AuditProblemKind",
    "AgencyRequest",
    "ImportOutcome",
    "LegalBasis",
    "QuarantinedFile",
    "RejectReason",
    "RequestArea",
    "RequestImport",
    "RequestKind",
    "RequestStanding",
    "RequestStatus",
    "AudioPolicy",
    "Camera",
    "CameraChange",
    "CameraState",
    "CameraStateChanged",
    "CameraStatus",
    "CamerasChanged",
    "Credentials",
    "Device",
    "DeviceQuery",
    "Discovery",
    "Event",
    "EventEnded",
    "EventKind",
    "EventSource",
    "EventStarted",
    "ExportProgress",
    "ExportRequest",
    "ExportResult",
    "Gap",
    "HubInfo",
    "Lease",
    "Missed",
    "Mode",
    "MotionChange",
    "MotionSettings",
    "NewCamera",
    "Notice",
    "NoticeBase",
    "NoticeKind",
    "Point",
    "Probe",
    "ProbeProfile",
    "ProtectReason",
    "Protection",
    "ProtectionChanged",
    "ProbeStream",
    "Recording",
    "RecordingAdded",
    "RecordingsRemoved",
    "Request",
    "Role",
    "Secret",
    "Settings",
    "SettingsChange",
    "Snapshot",
    "Status",
    "StorageChanged",
    "StorageInfo",
    "StorageState",
    "TrustCard",
    "TrustChange",
    "TrustOutcome",
    "TrustState",
    "UNSET",
    "UnsetType",
    "Value",
    "Zone",
    "ZoneKind",
]
