"""SQLAlchemy 2 table definitions (the index). Times are BigInteger ms since the epoch, UTC.

Changing anything here needs an Alembic migration in ``hub/db/migrations/versions``.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    # Every model here is mapped to one Table (not a join or a select): say so for the type checker.
    __table__: ClassVar[Table]


class MetaRow(Base):
    """Small key/value facts about this index: ``config_rev`` (bumped by every config write),
    ``storage_id`` (the uuid in the storage marker file)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SettingRow(Base):
    """Typed settings (see hub/core/settings.py), one JSON value per key."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON


class CameraRow(Base):
    __tablename__ = "camera"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # slug; never reused
    name: Mapped[str] = mapped_column(String(200))
    driver: Mapped[str] = mapped_column(String(32), default="rtsp")
    url: Mapped[str | None] = mapped_column(Text)  # credential-free
    sub_url: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16), default="continuous")
    pre_roll_ms: Mapped[int] = mapped_column(Integer, default=5000)
    post_roll_ms: Mapped[int] = mapped_column(Integer, default=10000)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    audio: Mapped[str] = mapped_column(String(8), default="keep")
    detect: Mapped[bool] = mapped_column(Boolean, default=True)
    max_age_days: Mapped[float | None] = mapped_column(Float)
    motion_json: Mapped[str] = mapped_column(Text, default="{}")  # MotionSettings incl. zones
    has_credentials: Mapped[bool] = mapped_column(Boolean, default=False)
    events: Mapped[str] = mapped_column(String(8), default="local", server_default="local")
    doorbell: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    device_json: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    removed_ms: Mapped[int | None] = mapped_column(BigInteger)  # soft delete: recordings stay

    __table_args__ = (Index("ix_camera_name", "name"),)


class CameraStatusRow(Base):
    __tablename__ = "camera_status"
    camera_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("camera.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(24))
    since_ms: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    stats_json: Mapped[str] = mapped_column(Text, default="{}")


class SegmentRow(Base):
    __tablename__ = "segment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), ForeignKey("camera.id"), index=False)
    path: Mapped[str] = mapped_column(String(400), unique=True)  # relative to the storage root
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    unobserved: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_segment_camera_start", "camera_id", "start_ms"),
        Index("ix_segment_start", "start_ms"),
        {"sqlite_autoincrement": True},  # ids are never reused: clips and shares refer to them
    )


class EventRow(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), ForeignKey("camera.id"))
    kind: Mapped[str] = mapped_column(String(24))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    detected_ms: Mapped[int] = mapped_column(BigInteger)  # when the hub learned of it (latency)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    zones_json: Mapped[str] = mapped_column(Text, default="[]")
    thumbnail: Mapped[str | None] = mapped_column(String(400))  # relative to the data dir
    source: Mapped[str] = mapped_column(String(16), default="local")

    __table_args__ = (
        Index("ix_event_camera_start", "camera_id", "start_ms"),
        Index("ix_event_start", "start_ms"),
        {"sqlite_autoincrement": True},
    )


class ProtectionRow(Base):
    """A window of one camera's footage kept from retention, and why (star, evidence, hold).

    A segment is protected while a row of its camera overlaps it; each row is released on its own.
    A hold placed for an agency request names it (``request_seq``; hub/community/holds.py)."""

    __tablename__ = "protection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), ForeignKey("camera.id"))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    request_seq: Mapped[int | None] = mapped_column(Integer)  # the agency request a hold is for

    __table_args__ = (
        Index("ix_protection_camera_start", "camera_id", "start_ms"),
        Index("ix_protection_request", "request_seq"),
        {"sqlite_autoincrement": True},  # an id released is never given again
    )


class AuditEntryRow(Base):
    """One entry of the community audit log: a hash chain (hub/community/formats/audit.py).

    ``seq`` counts from 1 with no gaps; ``data`` is the entry's data as canonical JSON; ``hash`` is the
    SHA-256 of the whole entry's canonical JSON, and ``prev`` the hash of the entry before it."""

    __tablename__ = "audit_entry"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time_ms: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(48))
    data: Mapped[str] = mapped_column(Text)
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A checkpoint of the audit log (hub/community/checkpoints.py): the log held ``seq`` entries, the
    last with the hash ``head``; signed (Ed25519, base64url ``signature``) with the key ``kid`` kept in
    the keyring of the machine that wrote it, or unsigned (both None) when it had no keyring."""

    __tablename__ = "audit_checkpoint"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head: Mapped[str] = mapped_column(String(64))
    time_ms: Mapped[int] = mapped_column(BigInteger)
    kid: Mapped[str | None] = mapped_column(String(16))
    signature: Mapped[str | None] = mapped_column(String(128))


class TrustCardRow(Base):
    """An agency's trust card the owner imported (hub/community/formats/trust.py), keyed by its key id.

    ``card`` is the card's text as imported; the other columns are what it says, for listing.
    A revoked card keeps its row (``revoked_ms``), so its key is never trusted again by accident."""

    __tablename__ = "trust_card"
    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(64))  # base64url of the raw 32 bytes, as on the card
    age_recipient: Mapped[str | None] = mapped_column(String(100))
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    card: Mapped[str] = mapped_column(Text)
    added_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class AgencyRequestRow(Base):
    """An agency's request, alert or withdrawal that verified when imported (hub/community/requests.py).

    Keyed by (card ``kid``, ``request_id``) as the format says; ``jws`` is the signed file as imported
    (whitespace at its ends stripped), read again and re-checked whenever it is shown. ``status`` is
    "open" until a withdrawal from the same card closes it ("withdrawn", or "replaced" by a request
    that ``refers_to`` it; ``closed_by`` is then that file's id) or the owner decides it ("declined",
    with the owner's ``note``). ``hold_state`` says whether its footage
    is held from retention (hub/community/holds.py): None until considered, then "held", "not_held" or
    "released", with ``hold_why`` (why not, or why released) and ``hold_ms`` (since when)."""

    __tablename__ = "agency_request"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kid: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(45))  # urn:uuid:, lower case
    kind: Mapped[str] = mapped_column(String(16))
    refers_to: Mapped[str | None] = mapped_column(String(45))
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    window_start_ms: Mapped[int | None] = mapped_column(BigInteger)
    window_end_ms: Mapped[int | None] = mapped_column(BigInteger)
    jws: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of ``jws``
    imported_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_by: Mapped[str | None] = mapped_column(String(45))
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)
    matched_ms: Mapped[int | None] = mapped_column(
        BigInteger
    )  # first found matched (hub/community/matching.py)
    hold_state: Mapped[str | None] = mapped_column(String(16))
    hold_why: Mapped[str | None] = mapped_column(String(24))
    hold_ms: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)  # the owner's note on a decision ("declined")

    __table_args__ = (
        UniqueConstraint("kid", "request_id", name="uq_agency_request_kid_id"),
        Index("ix_agency_request_refers", "kid", "refers_to"),
        {"sqlite_autoincrement": True},
    )


class QuarantineRow(Base):
    """A request file refused on import, kept for the owner to list (hub/community/quarantine.py).

    One row per distinct content (``sha256`` of what was received); ``data`` is None for a file over
    the size limit (only its first bytes were read). ``kid`` and ``claimed_id`` are what the file
    claims, vouched for only when ``verified``."""

    __tablename__ = "request_quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text)
    member: Mapped[str | None] = mapped_column(String(64))
    kid: Mapped[str | None] = mapped_column(String(16))
    claimed_id: Mapped[str | None] = mapped_column(String(45))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    first_ms: Mapped[int] = mapped_column(BigInteger)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    times: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_request_quarantine_last", "last_ms"), {"sqlite_autoincrement": True})


class RequestRuleRow(Base):
    """An owner's rule that hides agency requests (hub/community/rules.py): those of one card
    (``value`` its kid), of one legal basis (``value`` "voluntary" or "warrant"), or the overbroad ones
    (``value`` empty; the index starts with this rule: overbroad requests are hidden unless the owner
    removes it)."""

    __tablename__ = "request_rule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_request_rule_kind_value"),
        {"sqlite_autoincrement": True},  # a removed rule's number is never given again
    )
