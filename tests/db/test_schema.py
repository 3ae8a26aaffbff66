"""Schema life cycle: created on first use, never migrated implicitly, no drift from the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from per_cli.db import schema
from per_cli.db.engine import make_engine
from per_cli.db.models import Base
from tests.helpers.per import RunPer

pytestmark = pytest.mark.empty_db


def test_head_constant_matches_the_migrations() -> None:
    script = ScriptDirectory.from_config(schema._alembic_config())
    assert script.get_heads() == [schema.HEAD]


def test_empty_database_gets_the_schema_on_first_use(per: RunPer, db_url: str) -> None:
    result = per("unit", "list")
    assert result.exit_code == 0, result.stderr
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert schema.current_revision(conn) == schema.HEAD
        assert {"patient", "care_unit", "audit_event"} <= set(sa.inspect(conn).get_table_names())
    engine.dispose()


def test_migrated_schema_has_no_drift_from_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    schema.upgrade(engine)
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_name": _modelled}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    engine.dispose()
    assert diff == []


def _modelled(name: str | None, type_: str, parents: object) -> bool:
    """The search indexes are the database's own structures, not models: SQLite's FTS5 table ``patient_search``
    (and the tables FTS5 keeps for it), PostgreSQL's trigram index; so are the log's partial indexes (kept out of
    the models so that no command imports both dialects)."""
    from per_cli.db.models import PARTIAL_INDEXES
    from per_cli.db.trigram import INDEX

    return not (name or "").startswith("patient_search") and name != INDEX and name not in PARTIAL_INDEXES


def test_outdated_schema_stops_every_command_naming_db_upgrade(per: RunPer, db_url: str) -> None:
    engine = make_engine(db_url)
    schema.upgrade(engine, "0001")
    engine.dispose()
    result = per("unit", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: database: schema is at revision 0001, this per needs {schema.HEAD}: run `per db upgrade`\n"
    )
    current = per("db", "current")
    assert (current.exit_code, current.stdout) == (1, f"0001 (this per needs {schema.HEAD})\n")
    upgraded = per("db", "upgrade")
    assert (upgraded.exit_code, upgraded.stdout) == (0, f"Upgraded from 0001 to revision {schema.HEAD}.\n")
    assert per("unit", "list").exit_code == 0
    assert per("db", "current").stdout == f"{schema.HEAD} (current)\n"
    assert per("db", "upgrade").stdout == f"Already at revision {schema.HEAD}.\n"


def test_db_commands_print_records_in_every_format(per: RunPer, db_url: str) -> None:
    import json

    engine = make_engine(db_url)
    schema.upgrade(engine, "0003")
    engine.dispose()
    outdated = per("db", "current", "--format", "json")
    assert outdated.exit_code == 1 and json.loads(outdated.stdout) == {
        "revision": "0003",
        "head": schema.HEAD,
        "current": False,
    }
    upgraded = per("db", "upgrade", "--format", "jsonl")
    assert json.loads(upgraded.stdout) == {"before": "0003", "after": schema.HEAD, "upgraded": True}
    assert per("db", "upgrade", "--format", "csv").stdout == f"before,after,upgraded\n{schema.HEAD},{schema.HEAD},no\n"
    head = schema.HEAD
    assert per("db", "current", "--format", "tsv").stdout == f"revision\thead\tcurrent\n{head}\t{head}\tyes\n"


def test_a_newer_schema_is_refused(per: RunPer, db_url: str) -> None:
    engine = make_engine(db_url)
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    result = per("unit", "list")
    assert result.exit_code == 1
    assert "newer than this per knows" in result.stderr


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    engine.dispose()


def test_0004_drops_the_unique_hash_index_and_keeps_the_chain(db_url: str) -> None:
    """The table rebuild on SQLite keeps every event, id and index; the chain still verifies; downgrade restores."""
    from per_cli.audit.events import Event, record_many
    from per_cli.audit.verify import verify_chain

    engine = make_engine(db_url)
    schema.upgrade(engine, "0003")
    if engine.dialect.name == "postgresql":  # the writers' tail function arrives with i13b; a stand-in until then
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE FUNCTION per_audit_tail() RETURNS text LANGUAGE sql AS $$ SELECT coalesce("
                "(SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1), repeat('0', 64)) $$"
            )
    with Session(engine) as session, session.begin():
        record_many(
            session, [Event(actor="anna", action="patient.show", patient_id=i, unit_code="X") for i in range(5)]
        )

    def uniques() -> list[list[str]]:
        with engine.connect() as conn:
            return [u["column_names"] for u in sa.inspect(conn).get_unique_constraints("audit_event")]

    def indexes() -> set[str]:
        with engine.connect() as conn:
            return {str(i["name"]) for i in sa.inspect(conn).get_indexes("audit_event")}

    assert uniques() == [["hash"]]
    before = indexes() - {"uq_audit_event_hash"}  # PostgreSQL lists a unique constraint's index too
    schema.upgrade(engine, "0004")
    assert uniques() == []
    assert indexes() == before == {"ix_audit_event_at", "ix_audit_event_patient_at", "ix_audit_event_action_at"}
    with engine.connect() as conn:
        assert list(conn.execute(sa.text("SELECT id, patient_id FROM audit_event ORDER BY id"))) == [
            (i + 1, i) for i in range(5)
        ]
    report = verify_chain(engine)
    assert (report.intact, report.events) == (True, 5)
    _downgrade(engine, "0003")
    assert uniques() == [["hash"]]
    engine.dispose()


def _downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        cfg = schema._alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
