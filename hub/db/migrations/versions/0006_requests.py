"""Agency requests: the signed requests, alerts and withdrawals the owner imported, and the
quarantine of the files refused.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``agency_request`` and ``request_quarantine``."""
    op.create_table(
        "agency_request",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=45), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("refers_to", sa.String(length=45), nullable=True),
        sa.Column("issued_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("window_start_ms", sa.BigInteger(), nullable=True),
        sa.Column("window_end_ms", sa.BigInteger(), nullable=True),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_by", sa.String(length=45), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("kid", "request_id", name="uq_agency_request_kid_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_agency_request_refers", "agency_request", ["kid", "refers_to"])
    op.create_table(
        "request_quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("kid", sa.String(length=16), nullable=True),
        sa.Column("claimed_id", sa.String(length=45), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_request_quarantine_last", "request_quarantine", ["last_ms"])


def downgrade() -> None:
    """Drop them (every imported request and the quarantine are lost: back up the index first)."""
    op.drop_index("ix_request_quarantine_last", table_name="request_quarantine")
    op.drop_table("request_quarantine")
    op.drop_index("ix_agency_request_refers", table_name="agency_request")
    op.drop_table("agency_request")
