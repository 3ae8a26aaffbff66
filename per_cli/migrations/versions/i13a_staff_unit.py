"""staff_unit: the care units each staff login may act for (row-level security reads it on PostgreSQL)

Revision ID: i13a
Revises: i18a
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i13a"
down_revision = "i18a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_unit",
        sa.Column("login", sa.String(length=63), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["care_unit.id"], name=op.f("fk_staff_unit_unit_id_care_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("login", "unit_id", name=op.f("pk_staff_unit")),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from per_cli.db.roles import drop_policies

        drop_policies(op.get_bind())
    op.drop_table("staff_unit")
