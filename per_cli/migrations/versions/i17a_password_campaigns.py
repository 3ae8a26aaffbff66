"""password_campaigns: pending passwords, delivery times, campaigns and their patients

Revision ID: i17a
Revises: i14a
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i17a"
down_revision = "i14a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_credential") as batch:
        batch.add_column(sa.Column("pending_hash", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pending_campaign", sa.String(length=32), nullable=True))
    with op.batch_alter_table("password_delivery") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_password_delivery_batch_id"), "password_delivery", ["batch_id"])
    op.create_table(
        "campaign",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_digest", sa.String(length=64), nullable=True),
        sa.Column("channels", sa.String(length=40), nullable=False),
        sa.Column("channel_rule", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
    )
    op.create_index(op.f("ix_campaign_file_digest"), "campaign", ["file_digest"])
    op.create_table(
        "campaign_target",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channels", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name=op.f("fk_campaign_target_campaign_id_campaign")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_campaign_target_patient_id_patient")),
        sa.PrimaryKeyConstraint("campaign_id", "patient_id", name=op.f("pk_campaign_target")),
    )
    op.create_index(op.f("ix_campaign_target_patient_id"), "campaign_target", ["patient_id"])
    op.create_index("ix_campaign_target_campaign_status", "campaign_target", ["campaign_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_campaign_target_campaign_status", table_name="campaign_target")
    op.drop_index(op.f("ix_campaign_target_patient_id"), table_name="campaign_target")
    op.drop_table("campaign_target")
    op.drop_index(op.f("ix_campaign_file_digest"), table_name="campaign")
    op.drop_table("campaign")
    op.drop_index(op.f("ix_password_delivery_batch_id"), table_name="password_delivery")
    with op.batch_alter_table("password_delivery") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("sent_at")
    with op.batch_alter_table("patient_credential") as batch:
        batch.drop_column("pending_campaign")
        batch.drop_column("pending_since")
        batch.drop_column("pending_hash")
