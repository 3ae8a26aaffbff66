"""Row-level security and GRANTs hold for `per` and for a direct connection with the same login.

Units NEURO-A and NEURO-B, one patient each, enrolled by the schema owner; logins of every role, each its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, RunPer, enrol_args
from tests.helpers.staff import Staff

IN_A, IN_B, NOBODY = TOLVAN, SAMORDNING, "198112189876"  # NOBODY: valid, never enrolled


@dataclass
class Crew:
    staff: Staff
    per: RunPer
    registry: str
    support: str
    auditor: str
    service: str
    admin: str

    def as_(self, login: str, *args: str, input: str | None = None) -> Any:
        return self.per("--database", self.staff.url(login), *args, input=input)

    def rows(self, login: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.staff.connect(login).cursor() as cur:
            cur.execute(statement, params or None)
            return list(cur.fetchall()) if cur.description else [(cur.rowcount,)]


@pytest.fixture
def crew(per: RunPer, staff: Staff) -> Crew:
    for code in ("NEURO-A", "NEURO-B"):
        assert per("unit", "add", code, "--name", code).exit_code == 0
    assert per(*enrol_args(IN_A, "--mobile", "070-174 06 05", unit="NEURO-A")).exit_code == 0
    assert per(*enrol_args(IN_B, unit="NEURO-B")).exit_code == 0
    names = {role: staff.name(role) for role in ("registry", "support", "auditor", "service", "admin")}
    units = {"registry": ["--unit", "NEURO-A"], "support": ["--unit", "NEURO-B"]}
    for role, name in names.items():
        result = per("staff", "add", name, "--role", role, *units.get(role, []))
        assert result.exit_code == 0, result.stderr
    return Crew(staff, per, **names)


def test_registry_sees_and_changes_only_its_units_patients_through_a_direct_connection(crew: Crew) -> None:
    login = crew.registry
    assert crew.rows(login, "SELECT personnummer FROM patient") == [(IN_A,)]
    assert crew.rows(login, "UPDATE patient SET first_name = 'X' WHERE personnummer = %s", IN_B) == [(0,)]
    assert crew.rows(login, "UPDATE patient SET first_name = 'Åsa' WHERE personnummer = %s", IN_A) == [(1,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows(login, "DELETE FROM patient")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        crew.rows(login, "UPDATE patient SET unit_id = (SELECT id FROM care_unit WHERE code = 'NEURO-B')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows(login, "SELECT * FROM staff_unit")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows(login, "TRUNCATE audit_event")
    # the access log: appended to (chained from per_audit_tail()), never read
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows(login, "SELECT count(*) FROM audit_event")
    assert crew.staff.owner("SELECT first_name FROM patient ORDER BY personnummer") == [("Åsa",), ("Tolvan",)]


def test_support_updates_only_its_units_rows_and_reads_only_its_units_log(crew: Crew) -> None:
    login = crew.support
    assert crew.rows(login, "SELECT personnummer FROM patient") == [(IN_B,)]
    assert crew.rows(login, "UPDATE patient SET email = 'x@example.se' WHERE personnummer = %s", IN_A) == [(0,)]
    crew.staff.owner(
        "INSERT INTO patient_credential (patient_id, password_hash, must_change, set_at, failed_logins)"
        " SELECT id, 'x', true, now(), 0 FROM patient"
    )
    assert crew.rows(login, "DELETE FROM patient_credential") == [(1,)]  # its unit's only
    assert crew.staff.owner(
        "SELECT p.personnummer FROM patient_credential c JOIN patient p ON p.id = c.patient_id"
    ) == [(IN_A,)]
    units = {u for (u,) in crew.rows(login, "SELECT DISTINCT unit_code FROM audit_event WHERE unit_code IS NOT NULL")}
    assert units == {"NEURO-B"}


def test_a_patient_of_another_unit_is_not_found_exactly_as_an_unknown_one_and_the_refusal_is_audited(
    crew: Crew,
) -> None:
    unknown = crew.as_(crew.registry, "patient", "show", NOBODY)
    hidden = crew.as_(crew.registry, "patient", "show", IN_B)
    assert (hidden.exit_code, hidden.stdout, hidden.stderr) == (unknown.exit_code, unknown.stdout, unknown.stderr)
    assert hidden.stderr == "Error: personnummer: no patient with this personnummer is enrolled\n"
    edit = crew.as_(crew.registry, "patient", "edit-profile", IN_B, "--email", "x@example.se")
    assert (edit.exit_code, edit.stderr) == (1, hidden.stderr)
    denied = crew.staff.owner(
        "SELECT e.patient_id = p.id, e.unit_code, e.outcome FROM audit_event e JOIN patient p ON p.personnummer = %s"
        " WHERE e.action = 'patient.access' ORDER BY e.id",
        IN_B,
    )
    assert denied == [(True, "NEURO-B", "denied"), (True, "NEURO-B", "denied")]
    assert crew.staff.owner("SELECT email FROM patient WHERE personnummer = %s", IN_B) == [(None,)]
    listed = crew.as_(crew.registry, "patient", "list", "--format", "json")
    assert [p["personnummer"] for p in json.loads(listed.stdout)] == ["19121212-1212"]


def test_single_enrolment_in_a_unit_not_granted_is_refused(crew: Crew) -> None:
    result = crew.as_(crew.registry, *enrol_args(NOBODY, unit="NEURO-B"))
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr == "Error: unit: care unit NEURO-B is not granted to you; an admin can (`per staff grant`)\n"
    assert crew.staff.owner("SELECT count(*) FROM patient") == [(2,)]


def test_bulk_enrolment_rejects_the_rows_of_units_not_granted_and_enrols_the_rest(
    crew: Crew, per_proc: RunPer, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        f"personnummer;förnamn;efternamn;enhet\n{NOBODY};Märta;Ängström;NEURO-A\n194107086995;Örjan;Öberg;NEURO-B\n",
        encoding="utf-8",
    )
    result = per_proc("--database", crew.staff.url(crew.registry), "patient", "enrol", "--file", str(path))
    assert result.exit_code == 3, result.stderr
    assert "line 3: unit: care unit NEURO-B is not granted to you" in result.stderr
    assert crew.staff.owner("SELECT personnummer, first_name FROM patient ORDER BY 1") == [
        (IN_A, "Tolvan"),
        (IN_B, "Tolvan"),
        (NOBODY, "Märta"),
    ]


def test_the_auditor_reads_everything_and_changes_nothing(crew: Crew) -> None:
    login = crew.auditor
    assert crew.rows(login, "SELECT count(*) FROM patient") == [(2,)]
    assert crew.rows(login, "SELECT count(*) FROM audit_event")[0][0] >= 2
    for statement in (
        "UPDATE patient SET first_name = 'X'",
        "DELETE FROM patient",
        "INSERT INTO care_unit (code, name, created_at) VALUES ('X', 'X', now())",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            crew.rows(login, statement)
    result = crew.as_(login, *enrol_args(NOBODY, unit="NEURO-A"))
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: database: permission denied for table patient")
    assert crew.as_(login, "patient", "show", IN_B).exit_code == 0


def test_the_service_cannot_list_patients_but_finds_the_one_whose_number_it_names(crew: Crew) -> None:
    login = crew.service
    assert crew.rows(login, "SELECT count(*) FROM patient") == [(0,)]
    assert crew.rows(login, "SELECT count(*) FROM patient_credential") == [(0,)]
    conn = crew.staff.connect(login)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT set_config('per.lookup', %s, true)", (IN_A,))
        cur.execute("SELECT personnummer FROM patient")
        assert cur.fetchall() == [(IN_A,)]
    listed = crew.as_(login, "patient", "list", "--format", "json")
    assert (listed.exit_code, json.loads(listed.stdout or "[]")) in ((0, []), (4, []))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows(login, "UPDATE patient SET first_name = 'X'")


def test_the_admin_sees_and_changes_every_unit(crew: Crew) -> None:
    assert crew.rows(crew.admin, "SELECT count(*) FROM patient") == [(2,)]
    assert crew.as_(crew.admin, "unit", "add", "NEURO-C", "--name", "C").exit_code == 0
    assert crew.as_(crew.admin, "patient", "edit-profile", IN_B, "--email", "b@example.se").exit_code == 0


def test_a_registry_login_enrols_a_large_file_through_staging_tables_with_every_event_chained(
    crew: Crew, per_proc: RunPer, tmp_path: Path
) -> None:
    """Row-level security refuses ``COPY FROM``, so a staff login's chunks go by ``COPY`` into temporary tables
    and one ``INSERT … SELECT`` each: the policies still decide (the NEURO-B row is rejected), every event is
    in the chain in order, and the actor is the login."""
    import csv

    from tests.helpers.enrolment_rows import rows

    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(["personnummer", "förnamn", "efternamn", "enhet"])
        out.writerows([r["personnummer"], r["förnamn"], r["efternamn"], "NEURO-A"] for r in rows(120, 7))
        out.writerow(["194107086995", "Örjan", "Öberg", "NEURO-B"])
    result = per_proc("--database", crew.staff.url(crew.registry), "patient", "enrol", "--file", str(path))
    assert result.exit_code == 3, result.stderr
    assert "line 122: unit: care unit NEURO-B is not granted to you" in result.stderr
    in_a = "SELECT count(*) FROM patient p JOIN care_unit u ON u.id = p.unit_id WHERE u.code = 'NEURO-A'"
    assert crew.staff.owner(in_a) == [(121,)]
    by_login = "SELECT count(*) FROM audit_event WHERE action = 'patient.enrol' AND actor = %s"
    assert crew.staff.owner(by_login, crew.registry) == [(120,)]
    verified = crew.per("audit", "verify")
    assert verified.exit_code == 0, verified.stderr
