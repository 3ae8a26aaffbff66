"""`per db upgrade` on PostgreSQL: group roles (with the configured prefix), grants and policies, idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.per import RunPer
from tests.helpers.staff import Staff, pg_only, staff

pytestmark = pytest.mark.empty_db

__all__ = ["staff"]


@pytest.fixture
def backend() -> str:
    return pg_only()


def test_upgrade_creates_the_prefixed_group_roles_and_is_idempotent(
    per: RunPer, staff: Staff, env: dict[str, str]
) -> None:
    Path(env["PER_CONFIG"]).write_text(f'[database]\nrole_prefix = "{staff.prefix}"\n')
    assert per("db", "upgrade").exit_code == 0
    groups = [f"{staff.prefix}{r}" for r in ("admin", "auditor", "registry", "service", "support")]
    found = staff.owner("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY (%s) ORDER BY 1", groups)
    assert found == [(g, False) for g in groups]
    policies = staff.owner("SELECT count(*) FROM pg_policies WHERE schemaname = current_schema()")
    again = per("db", "upgrade")
    assert (again.exit_code, again.stdout) == (0, f"Already at revision {_head()}.\n")
    assert staff.owner("SELECT count(*) FROM pg_policies WHERE schemaname = current_schema()") == policies
    privileges = staff.owner(
        "SELECT has_table_privilege(%s, 'patient', 'DELETE'), has_table_privilege(%s, 'patient', 'INSERT'),"
        " has_table_privilege(%s, 'patient', 'SELECT'), has_table_privilege(%s, 'patient', 'UPDATE')",
        f"{staff.prefix}admin",
        f"{staff.prefix}registry",
        f"{staff.prefix}auditor",
        f"{staff.prefix}auditor",
    )
    assert privileges == [(True, True, True, False)]
    rls = staff.owner(
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = current_schema()::regnamespace"
    )
    assert {"patient", "patient_credential", "login_session", "registration", "audit_event"} <= {r for (r,) in rls}


def test_a_bad_prefix_is_one_line(per: RunPer, env: dict[str, str]) -> None:
    Path(env["PER_CONFIG"]).write_text('[database]\nrole_prefix = "Per Staff"\n')
    result = per("db", "upgrade")
    assert result.exit_code == 1
    assert "role_prefix: must be 1–30 lower-case letters" in result.stderr
    assert result.stderr.count("\n") == 1


def test_only_the_admin_may_prune_and_every_role_may_take_the_chain_tail(per: RunPer, staff: Staff) -> None:
    assert per("db", "upgrade").exit_code == 0
    for function, body in (
        ("per_audit_prune(timestamptz)", "CREATE FUNCTION per_audit_prune(cutoff timestamptz) RETURNS void"),
        ("per_audit_tail()", "CREATE FUNCTION per_audit_tail() RETURNS text"),
    ):  # stand-ins where the access log's migration has not made them
        if staff.owner(f"SELECT to_regprocedure('{function}')") == [(None,)]:
            staff.owner(f"{body} LANGUAGE sql AS $$ SELECT NULL $$")
    assert per("db", "upgrade").exit_code == 0
    may = staff.owner(
        "SELECT r, has_function_privilege(r, 'per_audit_prune(timestamptz)', 'EXECUTE'),"
        " has_function_privilege(r, 'per_audit_tail()', 'EXECUTE') FROM unnest(%s::text[]) AS r ORDER BY 1",
        [f"per_{r}" for r in ("admin", "auditor", "registry", "service", "support")],
    )
    assert may == [
        ("per_admin", True, True),
        ("per_auditor", False, True),
        ("per_registry", False, True),
        ("per_service", False, True),
        ("per_support", False, True),
    ]


def _head() -> str:
    from per_cli.db.schema import HEAD

    return HEAD
