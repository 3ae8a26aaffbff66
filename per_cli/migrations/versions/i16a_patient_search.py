"""patient search: the normalised search column and the Swedish sort key, backfilled

Revision ID: i16a
Revises: i17b
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from per_cli.patients.search import search_columns

revision = "i16a"
down_revision = "i17b"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column("patient", sa.Column("search_text", sa.Text(), nullable=True))
    sort_type = sa.String(length=260)
    if op.get_bind().dialect.name == "postgresql":
        sort_type = sa.String(length=260, collation="C")  # byte order, as SQLite compares: the same page on both
    op.add_column("patient", sa.Column("sort_key", sort_type, nullable=True))
    _backfill()
    op.create_index("ix_patient_sort_key", "patient", ["sort_key", "personnummer"])


def _backfill() -> None:
    conn = op.get_bind()
    patient = sa.table(
        "patient",
        sa.column("id", sa.Integer),
        sa.column("personnummer", sa.String),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("email", sa.String),
        sa.column("mobile", sa.String),
        sa.column("search_text", sa.Text),
        sa.column("sort_key", sa.String),
    )
    rows = conn.execute(
        sa.select(
            patient.c.id,
            patient.c.personnummer,
            patient.c.first_name,
            patient.c.last_name,
            patient.c.email,
            patient.c.mobile,
        )
    ).all()
    statement = (
        sa.update(patient)
        .where(patient.c.id == sa.bindparam("pid"))
        .values(search_text=sa.bindparam("st"), sort_key=sa.bindparam("sk"))
    )
    for start in range(0, len(rows), _BATCH):
        values = []
        for row in rows[start : start + _BATCH]:
            columns = search_columns(
                personnummer=row.personnummer,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                mobile=row.mobile,
            )
            values.append({"pid": row.id, "st": columns["search_text"], "sk": columns["sort_key"]})
        conn.execute(statement, values)


def downgrade() -> None:
    op.drop_index("ix_patient_sort_key", table_name="patient")
    # SQLite (3.35 and later) drops a column in place: no copy of the table its foreign keys point at
    op.execute("ALTER TABLE patient DROP COLUMN sort_key")
    op.execute("ALTER TABLE patient DROP COLUMN search_text")
