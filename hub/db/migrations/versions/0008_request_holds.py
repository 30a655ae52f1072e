"""Holds for agency requests: a hold protection names the request it keeps footage for, and a request
records whether its footage is held; the unused ``segment.protected`` flag is dropped.

Revision 0003 moved protection into its own table and left the flag always false; it goes now, with
``ALTER TABLE … DROP COLUMN`` (SQLite 3.35 and later drop it in place, without copying the table).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``protection.request_seq`` and the request's hold state; drop ``segment.protected``."""
    with op.batch_alter_table("protection") as batch:
        batch.add_column(sa.Column("request_seq", sa.Integer(), nullable=True))
        batch.create_index("ix_protection_request", ["request_seq"])
    with op.batch_alter_table("agency_request") as batch:
        batch.add_column(sa.Column("hold_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("hold_why", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("hold_ms", sa.BigInteger(), nullable=True))
    op.execute(sa.text("ALTER TABLE segment DROP COLUMN protected"))


def downgrade() -> None:
    """Put the flag back (false: the protections keep saying what is kept), then drop the holds'
    columns; the holds themselves stay as plain holds."""
    with op.batch_alter_table("segment") as batch:
        batch.add_column(sa.Column("protected", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("agency_request") as batch:
        batch.drop_column("hold_ms")
        batch.drop_column("hold_why")
        batch.drop_column("hold_state")
    with op.batch_alter_table("protection") as batch:
        batch.drop_index("ix_protection_request")
        batch.drop_column("request_seq")
