"""patient_erasure: the tombstone a patient's erasure leaves (personnummer, when, why)

Revision ID: i18a
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i18a"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_erasure",
        sa.Column("patient_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("personnummer", sa.String(length=12), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("erased_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_erasure")),
    )
    op.create_index(op.f("ix_patient_erasure_personnummer"), "patient_erasure", ["personnummer"])
    op.create_index(op.f("ix_patient_erasure_erased_at"), "patient_erasure", ["erased_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_patient_erasure_erased_at"), table_name="patient_erasure")
    op.drop_index(op.f("ix_patient_erasure_personnummer"), table_name="patient_erasure")
    op.drop_table("patient_erasure")
