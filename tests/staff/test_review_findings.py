"""Findings of the security review of #13/#14, each checked with real PostgreSQL login roles (a direct connection
with the login, as a psql user would have, and `per` with it). Units NEURO-A and NEURO-B, one patient each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, Run, RunPer, enrol_args
from tests.helpers.staff import Staff
from tests.helpers.world import CG_PASSWORD, World

IN_A, IN_B = TOLVAN, SAMORDNING


@dataclass
class Crew:
    staff: Staff
    per: RunPer
    names: dict[str, str]

    def as_(self, role: str, *args: str, input: str | None = None) -> Run:
        return self.per("--database", self.staff.url(self.names[role]), *args, input=input)

    def rows(self, role: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.staff.connect(self.names[role]).cursor() as cur:
            cur.execute(statement, params or None)
            return list(cur.fetchall()) if cur.description else [(cur.rowcount,)]


@pytest.fixture
def crew(world: World, per: RunPer, staff: Staff) -> Crew:
    """``world``'s NEURO-SU with Tolvan, plus NEURO-A (Tolvan moved there) and NEURO-B (another patient);
    registry and support of NEURO-A only, a service login, an auditor and an admin."""
    for code in ("NEURO-A", "NEURO-B"):
        assert per("unit", "add", code, "--name", code).exit_code == 0
    staff.owner("UPDATE patient SET unit_id = (SELECT id FROM care_unit WHERE code = 'NEURO-A')")
    assert per(*enrol_args(IN_B, unit="NEURO-B")).exit_code == 0
    names = {role: staff.name(role) for role in ("registry", "support", "auditor", "service", "admin")}
    for role, name in names.items():
        unit = ["--unit", "NEURO-A"] if role in ("registry", "support") else []
        result = per("staff", "add", name, "--role", role, *unit)
        assert result.exit_code == 0, result.stderr
    return Crew(staff, per, names)


# --- B: care givers and campaigns ---


def test_caregivers_are_kept_to_their_units_and_service_only_counts_failures(world: World, crew: Crew) -> None:
    world.add_caregiver("anna.lind", unit="NEURO-A")
    world.add_caregiver("bo.berg", unit="NEURO-B")
    assert crew.rows("support", "SELECT username FROM caregiver") == [("anna.lind",)]
    assert crew.rows("support", "SELECT count(*) FROM caregiver WHERE username = 'bo.berg'") == [(0,)]
    for role in ("registry",):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            crew.rows(role, "SELECT password_hash FROM caregiver")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows("service", "UPDATE caregiver SET password_hash = 'x'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows("service", "UPDATE caregiver SET active = true")
    assert crew.rows("service", "UPDATE caregiver SET failed_logins = 0 WHERE username = 'bo.berg'") == [(1,)]
    # the proxy login as the service login still counts a failure and clears it at success
    portal = replace(world, per=lambda *a, **k: crew.as_("service", *a, **k))
    wrong = portal.proxy("bo.berg", "fel-lösenord-här", pnr=IN_B)
    assert wrong.exit_code == 4, wrong.stderr
    assert crew.staff.owner("SELECT failed_logins FROM caregiver WHERE username = 'bo.berg'") == [(1,)]
    right = portal.proxy("bo.berg", CG_PASSWORD, pnr=IN_B)
    assert right.exit_code == 0, right.stderr
    assert crew.staff.owner("SELECT failed_logins FROM caregiver WHERE username = 'bo.berg'") == [(0,)]
    for role in ("registry", "service"):  # campaigns: admin, support and auditor only
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            crew.rows(role, "SELECT * FROM campaign")


# --- C: the access log is read by admin, auditor and (its units' part) support only ---


def test_registry_and_service_append_to_the_log_but_read_none_of_it(world: World, crew: Crew) -> None:
    assert crew.per(*enrol_args("198112189876", unit="NEURO-B")).exit_code == 0  # an event of NEURO-B
    assert crew.as_("registry", "patient", "show", IN_A).exit_code == 0  # appended by registry
    for role in ("registry", "service"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            crew.rows(role, "SELECT count(*) FROM audit_event")
    shown = crew.staff.owner("SELECT count(*) FROM audit_event WHERE action = 'patient.show' AND actor = %s",
                             crew.names["registry"])  # fmt: skip
    assert shown == [(1,)]
    units = {u for (u,) in crew.rows("support", "SELECT DISTINCT unit_code FROM audit_event")}
    assert units <= {"NEURO-A", None} and "NEURO-A" in units
    assert crew.per("audit", "verify").exit_code == 0
