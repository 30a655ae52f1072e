"""When a request was first found matched, and the owner's rules that hide agency requests, starting with the one that hides overbroad requests
(formats/README.md: hidden unless the owner opts in, which is removing that rule).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``agency_request.matched_ms``; create ``request_rule`` holding the default rule: hide
    overbroad requests."""
    with op.batch_alter_table("agency_request") as batch:
        batch.add_column(sa.Column("matched_ms", sa.BigInteger(), nullable=True))
    rules = op.create_table(
        "request_rule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "value", name="uq_request_rule_kind_value"),
        sqlite_autoincrement=True,
    )
    op.bulk_insert(rules, [{"kind": "overbroad", "value": "", "created_ms": int(time.time() * 1000)}])


def downgrade() -> None:
    """Drop the rules and ``matched_ms`` (the owner's choices are lost: back up the index first)."""
    op.drop_table("request_rule")
    with op.batch_alter_table("agency_request") as batch:
        batch.drop_column("matched_ms")
