"""What each role may do through `per`: allowed commands succeed, the others exit 4 with one
line and change nothing. Every login here is limited to NEURO-A (registry, support) or to none (the others)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, RunPer, enrol_args
from tests.helpers.staff import Staff

NEW = "198112189876"
CONTACT = ("--mobile", "070-174 06 05", "--email", "tolvan@tolv.se")

#: role -> [(command, exit code)], run in this order; {a}: a NEURO-A patient with contact details
RIGHTS: dict[str, list[tuple[tuple[str, ...], int]]] = {
    "registry": [
        (("patient", "show", TOLVAN), 0),
        (("patient", "list"), 0),
        (("patient", "edit-profile", TOLVAN, "--comment", "ny"), 0),
        (("registration", "new", TOLVAN, "--scales", "HADS"), 0),
        (("registration", "export", "--format", "csv"), 0),
        (("session", "list"), 4),
        (("password", "send", TOLVAN, "--sms"), 4),
        (("unit", "add", "NEURO-X", "--name", "X"), 4),
        (tuple(enrol_args(NEW, unit="NEURO-A")), 0),
        (("patient", "exclude", NEW), 0),
    ],
    "support": [
        (("patient", "show", TOLVAN), 0),
        (("patient", "list"), 0),
        (("patient", "edit-profile", TOLVAN, "--comment", "ny"), 0),
        (("password", "send", TOLVAN, "--sms"), 0),
        (("session", "list"), 0),
        (("audit", "list"), 0),
        (("audit", "extract", TOLVAN), 0),
        (("patient", "exclude", TOLVAN), 4),
        (tuple(enrol_args(NEW, unit="NEURO-A")), 4),
        (("registration", "new", TOLVAN, "--scales", "HADS"), 4),
        (("unit", "add", "NEURO-X", "--name", "X"), 4),
    ],
    "auditor": [
        (("patient", "show", SAMORDNING), 0),
        (("patient", "list"), 0),
        (("audit", "list"), 0),
        (("audit", "verify"), 0),
        (("session", "list"), 0),
        (("patient", "edit-profile", TOLVAN, "--comment", "ny"), 4),
        (("password", "send", TOLVAN, "--sms"), 4),
        (tuple(enrol_args(NEW, unit="NEURO-A")), 4),
        (("unit", "add", "NEURO-X", "--name", "X"), 4),
    ],
    "service": [
        (("patient", "edit-profile", TOLVAN, "--comment", "ny"), 4),
        (("password", "send", TOLVAN, "--sms"), 4),
        (tuple(enrol_args(NEW, unit="NEURO-A")), 4),
        (("unit", "add", "NEURO-X", "--name", "X"), 4),
    ],
    "admin": [
        (("unit", "add", "NEURO-X", "--name", "X"), 0),
        (("patient", "edit-profile", SAMORDNING, "--comment", "ny"), 0),
        (("password", "send", TOLVAN, "--sms"), 0),
        (tuple(enrol_args(NEW, unit="NEURO-B")), 0),
        (("patient", "exclude", SAMORDNING), 0),
        (("audit", "verify"), 0),
    ],
}


@pytest.mark.parametrize("role", list(RIGHTS))
def test_each_role_may_do_its_part_and_nothing_else(role: str, per: RunPer, staff: Staff, tmp_path: Path) -> None:
    for code in ("NEURO-A", "NEURO-B"):
        assert per("unit", "add", code, "--name", code).exit_code == 0
    assert per(*enrol_args(TOLVAN, *CONTACT, unit="NEURO-A")).exit_code == 0
    assert per(*enrol_args(SAMORDNING, unit="NEURO-B")).exit_code == 0
    login = staff.name(role)
    units = ["--unit", "NEURO-A"] if role in ("registry", "support") else []
    assert per("staff", "add", login, "--role", role, *units).exit_code == 0
    outbox = tmp_path / "outbox"
    transports = {"PER_SMS_TRANSPORT": f"file://{outbox}", "PER_EMAIL_TRANSPORT": f"file://{outbox}"}
    for args, expected in RIGHTS[role]:
        before = _state(staff)
        result = per("--database", staff.url(login), *args, extra_env=transports)
        assert result.exit_code == expected, (role, args, result.stderr)
        if expected == 4:
            assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
            assert _state(staff) == before, (role, args)
    if role in ("registry", "auditor", "service"):
        assert not list(outbox.glob("*.json"))  # nothing sent by those who may not send


def _state(staff: Staff) -> list[tuple[object, ...]]:
    """Everything a refused command could have changed (the access log aside)."""
    return staff.owner(
        "SELECT (SELECT json_agg(p ORDER BY p.id)::text FROM patient p),"
        " (SELECT count(*) FROM care_unit), (SELECT count(*) FROM registration),"
        " (SELECT json_agg(c)::text FROM patient_credential c), (SELECT count(*) FROM password_delivery)"
    )


def test_registry_sees_the_password_state_but_not_the_sessions(per: RunPer, staff: Staff) -> None:
    assert per("unit", "add", "NEURO-A", "--name", "A").exit_code == 0
    assert per(*enrol_args(TOLVAN, unit="NEURO-A")).exit_code == 0
    login = staff.name("registry")
    assert per("staff", "add", login, "--role", "registry", "--unit", "NEURO-A").exit_code == 0
    shown = per("--database", staff.url(login), "patient", "show", TOLVAN, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert (record["password_set"], record["failed_logins"]) == (False, 0)
    assert (record["last_login_at"], record["open_sessions"]) == (None, None)
