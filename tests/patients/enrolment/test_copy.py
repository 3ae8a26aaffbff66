"""Bulk enrolment's load paths on PostgreSQL: binary COPY where the login may, INSERT under row-level security,
and back to INSERT … ON CONFLICT when a COPY meets a patient enrolled meanwhile; duplicates within a file are
found however far apart (the temporary table of numbers seen)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from per_cli.db.engine import make_engine
from per_cli.db.models import AuditEvent, Patient, table_of, utcnow
from per_cli.db.rows import copy_allowed
from per_cli.patients.enrolment.writer import _copied
from tests.helpers.enrolment_rows import personnummer
from tests.helpers.per import RunPer


def _row(pnr: str, unit_id: int) -> tuple[object, ...]:
    now = utcnow()
    return (pnr, "Åsa", "Öberg", unit_id, None, None, None, "patient", None, None, "2026-01-02", now, now, "x", "y")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_copy_for_the_owner_and_back_to_insert_on_a_conflict(per: RunPer, db_url: str, unit: str) -> None:
    assert (
        per("patient", "enrol", "191212121212", "--first-name", "T", "--last-name", "T", "--unit", unit).exit_code == 0
    )
    engine = make_engine(db_url)
    with engine.begin() as conn:
        unit_id = conn.exec_driver_sql("SELECT id FROM care_unit").scalar_one()
        assert copy_allowed(conn, table_of(Patient)) and copy_allowed(conn, table_of(AuditEvent))
        copied = _copied(conn, table_of(Patient), [_row("198112289874", unit_id)])
        assert copied is not None and list(copied) == ["198112289874"]
        # one already enrolled: the COPY writes nothing and says so; the caller inserts with ON CONFLICT
        assert _copied(conn, table_of(Patient), [_row("199001012380", unit_id), _row("191212121212", unit_id)]) is None
        numbers = conn.exec_driver_sql("SELECT personnummer FROM patient ORDER BY personnummer").scalars().all()
        assert numbers == ["191212121212", "198112289874"]
        registered = conn.exec_driver_sql("SELECT registered_on FROM patient WHERE personnummer = '198112289874'")
        assert str(registered.scalar_one()) == "2026-01-02"
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_row_level_security_means_insert(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE ROLE per_copy_probe NOLOGIN")
        try:
            conn.exec_driver_sql("GRANT USAGE ON SCHEMA per_test TO per_copy_probe")
            conn.exec_driver_sql("GRANT SELECT ON patient TO per_copy_probe")
            conn.exec_driver_sql("SET ROLE per_copy_probe")
            assert not copy_allowed(conn, table_of(Patient))  # RLS applies to this role: COPY FROM is refused
        finally:
            conn.rollback()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP ROLE IF EXISTS per_copy_probe")
    engine.dispose()


def test_duplicates_far_apart_in_a_file(per: RunPer, unit: str, tmp_path: Path) -> None:
    """Chunks of 2 rows: the second naming of a number is found in the table of earlier chunks, in any form."""
    third = personnummer(random.Random(3))
    rows = ["191212121212", "198112289874", third, "121212-1212", "19811228-9874"]
    path = tmp_path / "far.csv"
    path.write_text("personnummer;förnamn;efternamn\n" + "".join(f"{r};A;B\n" for r in rows), encoding="utf-8")
    per_toml = tmp_path / "per.toml"
    per_toml.write_text(per_toml.read_text() + "\n[enrolment]\nchunk_size = 2\n")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    assert result.exit_code == 3, result.stderr
    assert "line 5: personnummer: the same person as on line 2" in result.stderr
    assert "line 6: personnummer: the same person as on line 3" in result.stderr
    assert json.loads(result.stdout)["created"] == 3
