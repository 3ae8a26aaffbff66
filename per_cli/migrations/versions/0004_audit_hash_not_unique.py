"""audit_event.hash: no unique index (the chain, not the index, is what `audit verify` checks)

Revision ID: 0004
Revises: 0003

Each event's hash is a SHA-256 that `audit verify` recomputes from the row and the previous hash, so the unique
index added nothing to tamper evidence and nothing reads by hash. It cost every audited write a random-keyed
B-tree insert: in bulk enrolment it was the largest single cost of each commit. On SQLite dropping it rebuilds
the table (once; the rows, ids and other indexes are kept).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_constraint("uq_audit_event_hash", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.create_unique_constraint("uq_audit_event_hash", ["hash"])
