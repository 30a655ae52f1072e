"""Protection with reasons: a table of kept windows (star, evidence, hold) instead of a flag per segment.

Segments flagged ``protected`` before this revision become one "star" protection each (their own
window), so nothing that was kept is lost; the flag is then cleared and no longer used.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NOTE = "protected before protections had reasons"


def upgrade() -> None:
    """Create ``protection`` and move the flagged segments into it."""
    op.create_table(
        "protection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["camera.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_protection_camera_start", "protection", ["camera_id", "start_ms"])
    op.execute(
        sa.text(
            "INSERT INTO protection (camera_id, start_ms, end_ms, reason, note, created_ms) "
            "SELECT camera_id, start_ms, CASE WHEN end_ms > start_ms THEN end_ms ELSE start_ms + 1 END, "
            "'star', :note, start_ms FROM segment WHERE protected ORDER BY start_ms, id"
        ).bindparams(note=NOTE)
    )
    op.execute(sa.text("UPDATE segment SET protected = :no WHERE protected").bindparams(no=False))


def downgrade() -> None:
    """Flag every covered segment again, then drop the table."""
    op.execute(
        sa.text(
            "UPDATE segment SET protected = :yes WHERE EXISTS (SELECT 1 FROM protection p "
            "WHERE p.camera_id = segment.camera_id AND p.start_ms < segment.end_ms "
            "AND p.end_ms > segment.start_ms)"
        ).bindparams(yes=True)
    )
    op.drop_index("ix_protection_camera_start", table_name="protection")
    op.drop_table("protection")
