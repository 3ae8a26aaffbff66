"""A row the database itself refuses: in bulk it is one rejected row and the chunk's other rows are written; a
single enrolment is one line; neither ever shows the statement's values."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy

from tests.helpers.per import RunPer

ROWS = [
    ("191212121212", "Tolvan", "Tolvansson", "vanlig"),
    ("200808088801", "Märta", "Ängström", "vägras"),  # the database refuses this comment
    ("198112289874", "Åsa", "Öberg", "vanlig"),
]


def _refuse_one_comment(db_url: str) -> None:
    """A rule in the database itself (the kind of refusal per's own checks cannot foresee)."""
    engine = sqlalchemy.create_engine(db_url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_vagras BEFORE INSERT ON patient WHEN NEW.comment = 'vägras' "
                "BEGIN SELECT RAISE(ABORT, 'refused 20080808-8801 Märta'); END"
            )
        else:
            conn.exec_driver_sql(
                "ALTER TABLE patient ADD CONSTRAINT refuse_vagras CHECK (comment IS DISTINCT FROM 'vägras')"
            )
    engine.dispose()


def test_bulk_rejects_only_the_refused_row(per_proc: RunPer, unit: str, db_url: str, tmp_path: Path) -> None:
    _refuse_one_comment(db_url)
    source = tmp_path / "in.csv"
    source.write_text("personnummer,first_name,last_name,comment\n" + "".join(",".join(r) + "\n" for r in ROWS))
    result = per_proc("patient", "enrol", "--file", str(source), "--unit", unit, "--format", "json")
    assert result.exit_code == 3, result.stderr
    assert '"created": 2' in result.stdout and '"rejected": 1' in result.stdout
    assert "line 3: the database refused the row: it breaks a rule" in result.stderr
    for secret in ("200808088801", "20080808-8801", "Märta", "Ängström", "vägras", "Traceback"):
        assert secret not in result.stderr
    listed = per_proc("patient", "list", "--format", "csv")
    assert "Tolvan" in listed.stdout and "Åsa" in listed.stdout and "Märta" not in listed.stdout
    assert per_proc("audit", "verify").exit_code == 0  # the undone attempt left no event and no broken chain


def test_single_enrolment_refused_by_the_database_is_one_line(per_proc: RunPer, unit: str, db_url: str) -> None:
    _refuse_one_comment(db_url)
    args = ("patient", "enrol", "200808088801", "--first-name", "Märta", "--last-name", "Ängström")
    result = per_proc(*args, "--unit", unit, "--comment", "vägras")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database: the database refused the row: it breaks a rule")
    assert result.stderr.count("\n") == 1
    for secret in ("200808088801", "Märta", "Ängström", "vägras"):
        assert secret not in result.stderr
