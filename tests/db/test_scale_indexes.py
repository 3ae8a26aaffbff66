"""The indexes that keep look-ups flat in a national register (migration i19a): each is there, kept current by
every writer, and chosen by the queries they serve; a PostgreSQL without pg_trgm still upgrades."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from per_cli.db.engine import make_engine
from per_cli.db.trigram import INDEX, MISSING, ensure_search_index
from tests.helpers.per import RunPer

PG_ENV = "PER_TEST_POSTGRES_URL"


def _plan(engine: sa.Engine, sql: str, params: dict[str, object] | None = None) -> str:
    with engine.connect() as conn:
        return " | ".join(str(row[-1]) for row in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"), params or {}))


def _enrol(per: RunPer, tmp_path: Path, unit: str, rows: list[tuple[str, str, str]]) -> None:
    lines = ["personnummer;förnamn;efternamn"] + [";".join(r) for r in rows]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit)
    assert result.exit_code == 0, result.stderr


def _fts_check(engine: sa.Engine) -> None:
    """FTS5's own check that the trigram index holds exactly what the patient rows hold."""
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO patient_search (patient_search, rank) VALUES ('integrity-check', 1)")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_trigram_table_follows_every_writer(per: RunPer, db_url: str, unit: str, tmp_path: Path) -> None:
    _enrol(per, tmp_path, unit, [("191212121212", "Tolvan", "Tolvansson"), ("198112289874", "Åsa", "Lindqvist")])
    engine = make_engine(db_url)
    _fts_check(engine)
    assert per("patient", "edit-profile", "198112289874", "--last-name", "Öberg").exit_code == 0
    _fts_check(engine)
    names = per("patient", "list", "--search", "öberg", "--format", "csv").stdout
    assert "Öberg" in names and "Lindqvist" not in per("patient", "list", "--search", "lindq").stdout
    erased = per("patient", "erase", "191212121212", "--reason", "request", "--yes")
    assert erased.exit_code == 0, erased.stderr
    _fts_check(engine)
    with engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT rowid FROM patient_search WHERE search_text LIKE '%tolvan%'").all()
    assert left == []
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_queries_use_the_new_indexes(per: RunPer, db_url: str, unit: str) -> None:
    assert per("patient", "list").exit_code == 0  # the schema exists
    engine = make_engine(db_url)
    from per_cli.db.models import REVIEW_ALWAYS_SQL
    from per_cli.patients.register import _trigram_rows

    found = _trigram_rows(("lindqvist",))
    assert _trigram_rows(("ab",)) is None and _trigram_rows(("50%x",)) is None  # looked up by LIKE alone
    with engine.connect() as conn:
        subquery = str(found.compile(conn, compile_kwargs={"literal_binds": True}))
    search = _plan(engine, f"SELECT id FROM patient WHERE id IN ({subquery}) ORDER BY sort_key LIMIT 50")
    assert "patient_search VIRTUAL TABLE INDEX 0:L" in search  # the trigram index serves the LIKE
    unit_list = _plan(engine, "SELECT id FROM patient WHERE unit_id = 1 ORDER BY sort_key, personnummer LIMIT 100")
    assert "ix_patient_unit_sort" in unit_list and "TEMP B-TREE" not in unit_list
    always = _plan(engine, f"SELECT id FROM audit_event WHERE ({REVIEW_ALWAYS_SQL}) ORDER BY id")
    assert "ix_audit_event_review" in always
    engine.dispose()


def _pg_base() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    return url


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_upgrade_makes_the_trigram_index(per: RunPer, db_url: str) -> None:
    upgraded = per("db", "upgrade")
    assert upgraded.exit_code == 0 and "pg_trgm" not in upgraded.stderr
    engine = make_engine(db_url)
    with engine.connect() as conn:
        definition = conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s", (INDEX,)
        ).scalar()
    engine.dispose()
    assert definition is not None and "gin (search_text" in definition and "gin_trgm_ops" in definition


def test_postgresql_without_pg_trgm_names_the_dba_step_and_goes_on() -> None:
    """In a database without the extension, a role that may not create it: one line for the DBA, and the
    transaction (the migration's) goes on."""
    base = _pg_base()
    name = f"per_trgm_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        conn.exec_driver_sql(f'CREATE ROLE "{name}" NOLOGIN')
    url = sa.engine.make_url(base).set(database=name)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA s AUTHORIZATION "{name}"')
            conn.exec_driver_sql("SET search_path = s")
            conn.exec_driver_sql(f'SET ROLE "{name}"')
            conn.exec_driver_sql("CREATE TABLE patient (id integer, search_text text)")
            assert ensure_search_index(conn) == MISSING
            assert "CREATE EXTENSION pg_trgm;" in MISSING and "\n" not in MISSING
            conn.exec_driver_sql("INSERT INTO patient VALUES (1, 'åsa')")  # still in a usable transaction
            assert conn.exec_driver_sql("SELECT count(*) FROM patient").scalar() == 1
            assert conn.exec_driver_sql("SELECT to_regclass(%s)", (INDEX,)).scalar() is None
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}"')
            conn.exec_driver_sql(f'DROP ROLE "{name}"')
        admin.dispose()
