"""Cameras from ONVIF and USB: where motion comes from, doorbells, driver settings.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add camera.events, camera.doorbell and camera.device_json."""
    with op.batch_alter_table("camera") as batch:
        batch.add_column(sa.Column("events", sa.String(length=8), nullable=False, server_default="local"))
        batch.add_column(sa.Column("doorbell", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("device_json", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    """Remove them again."""
    with op.batch_alter_table("camera") as batch:
        batch.drop_column("device_json")
        batch.drop_column("doorbell")
        batch.drop_column("events")
