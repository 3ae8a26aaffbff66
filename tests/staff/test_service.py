"""The `service` login (a CI pipeline, the patients' portal): the login flows and registrations made with a
session work; listing patients does not."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.helpers.per import TOLVAN, Run, RunPer
from tests.helpers.staff import Staff
from tests.helpers.world import PASSWORD, World


def test_a_service_login_logs_a_patient_in_and_registers_with_the_session(
    world: World, per: RunPer, staff: Staff
) -> None:
    service = staff.name("portal")
    assert per("staff", "add", service, "--role", "service").exit_code == 0

    def as_service(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Run:
        return per("--database", staff.url(service), *args, input=input, extra_env=extra_env)

    portal = replace(world, per=as_service)
    challenge = portal.send_only()  # the two steps in two processes: the second holds only the challenge id
    wrong = as_service(
        "login", "otp", "--challenge", challenge, "--code", "000000" if portal.last_code() != "000000" else "111111"
    )
    assert wrong.exit_code == 4, wrong.stderr
    (reason,) = staff.owner("SELECT details::json->>'reason' FROM audit_event ORDER BY id DESC LIMIT 1")[0]
    assert reason == "wrong_code"  # the challenge was found by its id alone
    done = as_service("login", "otp", "--challenge", challenge, "--code", portal.last_code(), "--format", "json")
    assert done.exit_code == 0, done.stderr
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
    listed = as_service("patient", "list", "--format", "json")
    assert (listed.exit_code, json.loads(listed.stdout)) == (0, [])
    new = "Ett-nytt-lösenord-2026"
    changed = as_service(
        "password", "change", TOLVAN, "--session", token, "--password-stdin", input=f"{PASSWORD}\n{new}\n{new}\n"
    )
    assert changed.exit_code == 0, changed.stderr
    with staff.connect(service).cursor() as cur:  # a psql user with the portal's login: nothing to list
        for table in ("patient", "login_session", "otp_challenge", "patient_credential", "registration"):
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchall() == [(0,)], table
        cur.execute("SELECT set_config('per.token', %s, false)", (_digest(token),))
        cur.execute("SELECT personnummer FROM patient")  # the token's holder may see its patient
        assert cur.fetchall() == [(TOLVAN,)]
    actors = staff.owner("SELECT DISTINCT outcome FROM audit_event WHERE action LIKE 'login.%%'")
    assert ("ok",) in actors


def _digest(token: str) -> str:
    from per_cli.credentials.sessions import token_digest

    return token_digest(token)
