"""transport_rate: the next free sending slot per channel, shared by the campaign workers

Revision ID: i17b
Revises: i13b
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i17b"
down_revision = "i13b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transport_rate",
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_transport_rate")),
    )


def downgrade() -> None:
    op.drop_table("transport_rate")
