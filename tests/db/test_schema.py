"""Schema life cycle: created on first use, never migrated implicitly, no drift from the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from per_cli.db import schema
from per_cli.db.engine import make_engine
from per_cli.db.models import Base
from tests.conftest import RunPer


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
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_outdated_schema_stops_every_command_naming_db_upgrade(per: RunPer, db_url: str) -> None:
    engine = make_engine(db_url)
    schema.upgrade(engine, "0001")
    engine.dispose()
    result = per("unit", "list")
    assert result.exit_code == 1
    assert result.stderr == ("Error: database: schema is at revision 0001, this per needs 0003: run `per db upgrade`\n")
    current = per("db", "current")
    assert (current.exit_code, current.stdout) == (1, "0001 (this per needs 0003)\n")
    upgraded = per("db", "upgrade")
    assert (upgraded.exit_code, upgraded.stdout) == (0, "Upgraded from 0001 to revision 0003.\n")
    assert per("unit", "list").exit_code == 0
    assert per("db", "current").stdout == "0003 (current)\n"
    assert per("db", "upgrade").stdout == "Already at revision 0003.\n"


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
