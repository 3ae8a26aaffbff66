"""indexes for a national register: patient search and unit lists, the access log by time, the review's events

Revision ID: i19a
Revises: i16a

- ``patient (unit_id, sort_key, personnummer)``: a unit's list is read in its order, not sorted whole;
- ``patient.search_text`` by trigrams: ``pg_trgm``'s GIN index on PostgreSQL (``per_cli.db.trigram``), an FTS5
  ``trigram`` table kept by triggers on SQLite (``patient_search``, external content: it stores only the index);
- ``audit_event (at, id)`` in place of ``(at)``: a period is a range of the index, in id order within an instant;
- ``audit_event (id)`` for the events a review always takes (proxy logins, refusals): a small partial index;
- ``audit_event (id)`` for the events that name a patient: the review counts its population in it, index only.
"""

from __future__ import annotations

from alembic import op

from per_cli.db.trigram import INDEX as TRIGRAM_INDEX
from per_cli.db.trigram import ensure_search_index

revision = "i19a"
down_revision = "i16a"
branch_labels = None
depends_on = None

#: the events ``per audit review`` always takes (``per_cli.db.models.REVIEW_ALWAYS_SQL``, written the same way so
#: that both databases see the query's condition as the index's)
ALWAYS_SQL = "action = 'login.proxy' OR action LIKE 'login.proxy.%' OR outcome = 'denied'"

#: SQLite: the external-content FTS5 table and the triggers that keep it current with ``patient.search_text``
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE patient_search USING fts5(search_text, content='patient', content_rowid='id', "
    "tokenize='trigram', detail=none)",
    "CREATE TRIGGER patient_search_insert AFTER INSERT ON patient BEGIN "
    "INSERT INTO patient_search (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER patient_search_delete AFTER DELETE ON patient BEGIN "
    "INSERT INTO patient_search (patient_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER patient_search_update AFTER UPDATE OF search_text ON patient BEGIN "
    "INSERT INTO patient_search (patient_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO patient_search (rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO patient_search (patient_search) VALUES ('rebuild')",
)


def upgrade() -> None:
    op.create_index("ix_patient_unit_sort", "patient", ["unit_id", "sort_key", "personnummer"])
    op.drop_index("ix_patient_unit_id", table_name="patient")  # the new index's prefix
    op.create_index("ix_audit_event_at_id", "audit_event", ["at", "id"])
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.execute(f"CREATE INDEX ix_audit_event_review ON audit_event (id) WHERE {ALWAYS_SQL}")
    op.execute("CREATE INDEX ix_audit_event_patient_ids ON audit_event (id) WHERE patient_id IS NOT NULL")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    else:
        ensure_search_index(conn)  # per db upgrade says so when pg_trgm is unavailable


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS patient_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS patient_search")
    else:
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    op.drop_index("ix_audit_event_review", table_name="audit_event")
    op.drop_index("ix_audit_event_patient_ids", table_name="audit_event")
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.drop_index("ix_audit_event_at_id", table_name="audit_event")
    op.create_index("ix_patient_unit_id", "patient", ["unit_id"])
    op.drop_index("ix_patient_unit_sort", table_name="patient")
