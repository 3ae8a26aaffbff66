"""`per staff`: logins in a role with care units, managed only by a login with CREATEROLE; bad input changes nothing."""

from __future__ import annotations

import json

from tests.helpers.per import RunPer
from tests.helpers.staff import Staff


def _units(per: RunPer) -> None:
    for code in ("NEURO-A", "NEURO-B"):
        assert per("unit", "add", code, "--name", code).exit_code == 0


def _listed(per: RunPer, staff: Staff) -> list[dict[str, object]]:
    result = per("staff", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return [r for r in json.loads(result.stdout) if str(r["name"]).startswith(staff.prefix)]


def test_add_list_grant_revoke_disable_enable(per: RunPer, per_proc: RunPer, staff: Staff) -> None:
    _units(per)
    anna, ci, boss = staff.name("anna"), staff.name("ci"), staff.name("boss")
    added = per_proc("staff", "add", anna, "--role", "registry", "--unit", "neuro-a", "--format", "json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout) == {
        "name": anna,
        "role": "registry",
        "units": ["NEURO-A"],
        "can_login": True,
        "password": False,
    }
    with_password = per("staff", "add", ci, "--role", "service", "--password-stdin", input="a long secret phrase\n")
    assert with_password.exit_code == 0, with_password.stderr
    (verifier,) = staff.owner("SELECT rolpassword FROM pg_authid WHERE rolname = %s", ci)[0]
    assert verifier.startswith("SCRAM-SHA-256$")  # hashed on this side: the plain text never reached the server
    assert per("staff", "add", boss, "--role", "admin").exit_code == 0
    assert staff.owner("SELECT rolcreaterole FROM pg_roles WHERE rolname = %s", boss) == [(True,)]

    granted = per("staff", "grant", anna, "--unit", "NEURO-B", "--unit", "NEURO-A")
    assert (granted.exit_code, granted.stderr) == (0, f"{anna}: granted NEURO-B.\n")
    assert per("staff", "revoke", anna, "--unit", "NEURO-A").exit_code == 0
    assert per("staff", "disable", anna).exit_code == 0
    assert staff.owner("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", anna) == [(False,)]
    assert _listed(per, staff) == [
        {"name": anna, "role": "registry", "units": ["NEURO-B"], "can_login": False},
        {"name": boss, "role": "admin", "units": [], "can_login": True},
        {"name": ci, "role": "service", "units": [], "can_login": True},
    ]
    assert per("staff", "enable", anna).exit_code == 0
    actions = staff.owner("SELECT action, details FROM audit_event WHERE action LIKE 'staff.%%' ORDER BY id")
    assert [a for a, _ in actions] == [
        "staff.add",
        "staff.add",
        "staff.add",
        "staff.grant",
        "staff.revoke",
        "staff.disable",
        "staff.enable",
    ]
    assert "secret" not in json.dumps([d for _, d in actions])


def test_an_admin_login_manages_staff_and_a_registry_login_is_refused(per: RunPer, staff: Staff) -> None:
    _units(per)
    boss, anna, bert = staff.name("boss"), staff.name("anna"), staff.name("bert")
    assert per("staff", "add", boss, "--role", "admin").exit_code == 0
    as_boss = per("--database", staff.url(boss), "staff", "add", anna, "--role", "registry", "--unit", "NEURO-A")
    assert as_boss.exit_code == 0, as_boss.stderr
    refused = per("--database", staff.url(anna), "staff", "add", bert, "--role", "admin")
    assert (refused.exit_code, refused.stdout) == (4, "")
    assert refused.stderr == (
        "Error: staff: managing staff needs a login with CREATEROLE (an admin or the DBA); this login has none\n"
    )
    for args in (("grant", anna, "--unit", "NEURO-B"), ("disable", boss)):
        assert per("--database", staff.url(anna), "staff", *args).exit_code == 4
    assert staff.owner("SELECT 1 FROM pg_roles WHERE rolname = %s", bert) == []
    assert staff.owner("SELECT count(*) FROM staff_unit WHERE login = %s", anna) == [(1,)]


def test_bad_input_is_one_line_and_changes_nothing(per: RunPer, staff: Staff) -> None:
    _units(per)
    boss, anna = staff.name("boss"), staff.name("anna")
    assert per("staff", "add", anna, "--role", "registry", "--unit", "NEURO-A").exit_code == 0
    cases = {
        ("staff", "add", "Anna Berg", "--role", "registry"): "Error: name: not a valid staff name",
        ("staff", "add", 'x"; DROP TABLE patient; --', "--role", "admin"): "Error: name: not a valid staff name",
        ("staff", "add", "per_admin", "--role", "admin"): "Error: name: per_admin is reserved",
        ("staff", "add", boss, "--role", "boss"): "Error: --role: unknown role 'boss'; one of admin, registry",
        ("staff", "add", boss, "--role", "registry", "--unit", "NOPE"): "Error: --unit: no care unit NOPE",
        ("staff", "add", boss, "--role", "auditor", "--unit", "NEURO-A"): "Error: --unit: ",
        ("staff", "add", anna, "--role", "support"): f"Error: name: a database role {anna} already exists",
        ("staff", "grant", anna, "--unit", "NOPE"): "Error: --unit: no care unit NOPE",
        ("staff", "grant", staff.name("nobody"), "--unit", "NEURO-A"): "Error: name: no staff login",
        ("staff", "revoke", anna, "--unit", "NEURO-B"): f"Error: --unit: {anna} has no care unit NEURO-B",
    }
    for args, start in cases.items():
        result = per(*args)
        assert result.exit_code == 1, (args, result.stderr)
        assert result.stderr.startswith(start), (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
    short = per("staff", "add", boss, "--role", "admin", "--password-stdin", input="short\n")
    assert (short.exit_code, short.stderr) == (1, "Error: --password-stdin: must be at least 12 characters\n")
    assert staff.owner(
        "SELECT rolname FROM pg_roles WHERE left(rolname, %s) = %s", len(staff.prefix), staff.prefix
    ) == [(anna,)]
    assert staff.owner("SELECT count(*) FROM audit_event WHERE action LIKE 'staff.%%'") == [(1,)]


def test_the_last_admin_who_can_log_in_cannot_be_disabled(per: RunPer, staff: Staff) -> None:
    first, second = staff.name("first"), staff.name("second")
    assert per("staff", "add", first, "--role", "admin").exit_code == 0
    others = staff.owner(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
        " WHERE g.rolname = 'per_admin' AND u.rolcanlogin AND left(u.rolname, %s) <> %s",
        len(staff.prefix),
        staff.prefix,
    )[0][0]
    if others:  # another test's admin exists on this cluster right now: its own rule, not this one's
        return
    refused = per("staff", "disable", first)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: name: {first} is the last admin who can log in; add another admin")
    assert per("staff", "add", second, "--role", "admin").exit_code == 0
    assert per("staff", "disable", first).exit_code == 0
    assert per("staff", "disable", second).exit_code == 1


def test_staff_needs_postgresql(tmp_path: object) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from per_cli.cli import cli

    Path(f"{tmp_path}/per.db").touch(mode=0o600)
    result = CliRunner().invoke(cli, ["--database", f"sqlite:///{tmp_path}/per.db", "staff", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: database: staff logins exist on PostgreSQL only; an SQLite file has one user, its owner\n"
    )
