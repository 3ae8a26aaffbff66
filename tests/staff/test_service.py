"""The `service` login (a CI pipeline, the patients' portal): the login flows and registrations made with a
session work; listing patients does not."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.helpers.per import TOLVAN, Run, RunPer
from tests.helpers.staff import Staff
from tests.helpers.world import World


def test_a_service_login_logs_a_patient_in_and_registers_with_the_session(
    world: World, per: RunPer, staff: Staff
) -> None:
    service = staff.name("portal")
    assert per("staff", "add", service, "--role", "service").exit_code == 0

    def as_service(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Run:
        return per("--database", staff.url(service), *args, input=input, extra_env=extra_env)

    portal = replace(world, per=as_service)
    token = portal.token()
    shown = as_service("session", "show", token, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    started = as_service("registration", "new", TOLVAN, "--scales", "HADS", "--session", token, "--format", "json")
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["personnummer"] == "19121212-1212"
    assert (
        per(
            "patient", "enrol", "198112189876", "--first-name", "Märta", "--last-name", "Ek", "--unit", "NEURO-SU"
        ).exit_code
        == 0
    )
    listed = as_service("patient", "list", "--format", "json")  # only whom a login under way names: not the register
    assert [p["personnummer"] for p in json.loads(listed.stdout)] == ["19121212-1212"]
    with staff.connect(service).cursor() as cur:
        cur.execute("SELECT personnummer FROM patient")
        assert cur.fetchall() == [(TOLVAN,)]
    actors = staff.owner("SELECT DISTINCT outcome FROM audit_event WHERE action LIKE 'login.%%'")
    assert ("ok",) in actors
