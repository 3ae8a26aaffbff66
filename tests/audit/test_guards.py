"""#13 points 3 and 4: the database names the actor, and the access log is append-only, for `per` and for a direct
connection with the same login alike; only `per audit prune` (a SECURITY DEFINER function on PostgreSQL) removes
events, and never younger than five years."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from per_cli.audit.events import Event
from tests.helpers.audit import count, ids, row, write
from tests.helpers.per import TOLVAN, RunPer, enrol_args
from tests.helpers.staff import Staff

APPEND_ONLY = "the access log is append-only"


@dataclass
class Login:
    """A PostgreSQL login role of this test only, with every table right in the test's schema (not the owner)."""

    name: str
    url: str  # for `per`
    conninfo: str  # for psycopg
    schema: str

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.conninfo, autocommit=True)
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn


def _owner(db_url: str) -> psycopg.Connection[Any]:
    url = make_url(db_url)
    conn = psycopg.connect(url.set(drivername="postgresql", query={}).render_as_string(False), autocommit=True)
    conn.execute(f'SET search_path TO "{_schema(db_url)}"')
    return conn


def _schema(db_url: str) -> str:
    return db_url.rsplit("search_path%3D", 1)[1]


@pytest.fixture
def login(backend: str, db_url: str, engine: Engine) -> Iterator[Login]:
    if backend != "postgresql":
        pytest.skip("login roles are PostgreSQL's")
    name = f"per_t_{uuid.uuid4().hex[:10]}"
    schema = _schema(db_url)
    with _owner(db_url) as owner:
        owner.execute(f'CREATE ROLE "{name}" LOGIN')
        owner.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{name}"')
        owner.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA "{schema}" TO "{name}"')
        owner.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{name}"')
    base = make_url(db_url).set(username=name, query={})
    url = f"{base.render_as_string(False)}?options=-csearch_path%3D{schema}"
    conninfo = base.set(drivername="postgresql").render_as_string(False)
    try:
        yield Login(name, url, conninfo, schema)
    finally:
        with _owner(db_url) as owner:
            owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
            owner.execute(f'DROP OWNED BY "{name}"')
            owner.execute(f'DROP ROLE "{name}"')


# --- point 3: the actor ---


def test_on_postgresql_the_actor_is_the_login_role_and_a_claim_is_only_a_detail(
    per: RunPer, login: Login, staff: Staff, unit: str
) -> None:
    boss = staff.name("boss")
    assert per("staff", "add", boss, "--role", "admin").exit_code == 0
    as_boss = {"PER_DATABASE_URL": staff.url(boss)}
    enrolled = per("--actor", "mallory", *enrol_args(), extra_env=as_boss)
    assert enrolled.exit_code == 0, enrolled.stderr
    shown = per("patient", "show", TOLVAN, extra_env={**as_boss, "PER_ACTOR": boss})
    assert shown.exit_code == 0, shown.stderr
    rows = staff.owner(
        f"SELECT action, actor, details FROM \"{login.schema}\".audit_event WHERE action LIKE 'patient.%%' ORDER BY id"
    )
    assert [(a, who) for a, who, _ in rows] == [("patient.enrol", boss), ("patient.show", boss)]
    assert '"claimed_actor":"mallory"' in rows[0][2] and "claimed_actor" not in rows[1][2]
    assert per("audit", "verify").stdout.startswith("ok: ")


def test_a_direct_insert_under_another_name_is_refused(login: Login, engine: Engine) -> None:
    write(engine, [Event(actor="x", action="patient.show", patient_id=1)])
    with login.connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="login role"):
        conn.execute(
            "INSERT INTO audit_event (at, actor, action, outcome, details, prev_hash, hash) "
            "VALUES (now(), 'postgres', 'patient.show', 'ok', '{}', 'x', 'y')"
        )
    assert count(engine) == 1


def test_without_a_claim_the_login_role_acts_with_no_note(per: RunPer, login: Login, staff: Staff, unit: str) -> None:
    boss = staff.name("boss")
    assert per("staff", "add", boss, "--role", "admin").exit_code == 0
    url = staff.url(boss)
    result = per(*enrol_args(), extra_env={"PER_DATABASE_URL": url, "PER_ACTOR": ""})
    assert result.exit_code == 0, result.stderr
    ((actor, details),) = staff.owner(
        f"SELECT actor, details FROM \"{login.schema}\".audit_event WHERE action = 'patient.enrol'"
    )
    assert actor == boss and "claimed_actor" not in details


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("anna\nbertil", "contains control characters, a line break or an escape sequence"),
        ("anna\x1b[2J", "contains control characters, a line break or an escape sequence"),
        ("a\tb", "contains control characters, a line break or an escape sequence"),
        ("x" * 65, "is 65 characters long, at most 64 are allowed"),
        ("   ", "is empty"),
    ],
)
def test_an_actor_that_is_not_plain_printable_text_is_refused_in_one_line(
    per_proc: RunPer, unit: str, name: str, reason: str
) -> None:
    by_option = per_proc("--actor", name, *enrol_args())
    assert (by_option.exit_code, by_option.stdout) == (1, "")
    assert by_option.stderr == f"Error: --actor: the actor {reason}; give a plain name such as a user name\n"
    by_env = per_proc(*enrol_args(), extra_env={"PER_ACTOR": name})
    assert by_env.stderr == f"Error: PER_ACTOR: the actor {reason}; give a plain name such as a user name\n"
    assert per_proc("patient", "list", "--format", "json").stdout.strip() == "[]"  # nothing enrolled


def test_a_plain_name_of_64_characters_with_swedish_letters_is_an_actor(per: RunPer, unit: str) -> None:
    name = "Åsa Öberg-Ädelström " + "x" * 44
    assert len(name) == 64
    assert per("--actor", name, *enrol_args()).exit_code == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_on_sqlite_the_actor_is_the_os_login_name_unless_one_is_given(
    per_proc: RunPer, engine: Engine, unit: str
) -> None:
    import getpass

    assert per_proc(*enrol_args(), extra_env={"PER_ACTOR": ""}).exit_code == 0
    assert per_proc("--actor", "anna", "patient", "show", TOLVAN).exit_code == 0
    assert [row(engine, i)["actor"] for i in ids(engine)] == [getpass.getuser(), "anna"]


# --- point 4: append-only ---


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor = 'mallory'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "UPDATE audit_anchor SET removed = 0",
        "DELETE FROM audit_anchor",
        "TRUNCATE audit_anchor",
    ],
)
def test_no_login_and_not_the_owner_can_rewrite_the_log(
    login: Login, engine: Engine, db_url: str, statement: str
) -> None:
    write(engine, [Event(actor="x", action="patient.show", patient_id=i) for i in range(3)])
    with login.connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match=APPEND_ONLY):
        conn.execute(statement)
    with _owner(db_url) as owner, pytest.raises(psycopg.errors.InsufficientPrivilege, match=APPEND_ONLY):
        owner.execute(statement)
    assert count(engine) == 3


def test_no_setting_and_no_look_alike_function_unlocks_the_log(login: Login, engine: Engine, db_url: str) -> None:
    write(engine, [Event(actor="x", action="patient.show", patient_id=i) for i in range(3)])
    with login.connect() as conn:
        conn.execute("SET per.pruning = 'on'")
        conn.execute(
            "CREATE FUNCTION pg_temp.per_audit_prune(c timestamptz) RETURNS void LANGUAGE plpgsql AS "
            "$$ BEGIN DELETE FROM audit_event; END $$"
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=APPEND_ONLY):
            conn.execute("SELECT pg_temp.per_audit_prune(now())")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # not granted to anyone by default
            conn.execute("SELECT * FROM per_audit_prune(now() - interval '10 years')")
    with _owner(db_url) as owner, pytest.raises(psycopg.errors.InvalidParameterValue, match="younger than five"):
        owner.execute("SELECT * FROM per_audit_prune(now() - interval '4 years')")
    assert count(engine) == 3


def test_only_an_admin_login_prunes_and_only_through_the_function(
    per: RunPer, login: Login, staff: Staff, engine: Engine, unit: str
) -> None:
    from datetime import UTC, datetime

    from tests.helpers.audit import frozen_clock

    old = datetime(2015, 3, 1, 12, tzinfo=UTC)
    with pytest.MonkeyPatch.context() as patch, frozen_clock(patch, old, old):
        write(engine, [Event(actor="x", action="patient.show", patient_id=i) for i in range(2)])
    write(engine, [Event(actor="x", action="patient.show", patient_id=3)])
    anna, boss = staff.name("anna"), staff.name("boss")
    assert per("staff", "add", anna, "--role", "registry", "--unit", unit).exit_code == 0
    assert per("staff", "add", boss, "--role", "admin").exit_code == 0
    as_anna = {"PER_DATABASE_URL": staff.url(anna)}
    for args in (("--before", "2016-01-01"), ("--before", "2016-01-01", "--dry-run")):
        denied = per("audit", "prune", *args, extra_env=as_anna)
        assert (denied.exit_code, denied.stderr) == (
            4,
            "Error: audit: only an administrator may prune the access log\n",
        )
    assert count(engine) == 5  # and the two staff.add events
    done = per(
        "audit",
        "prune",
        "--before",
        "2016-01-01",
        extra_env={"PER_DATABASE_URL": staff.url(boss)},
    )
    assert done.exit_code == 0, done.stderr
    assert count(engine) == 4  # the young event, the staff.add events and the prune's own
    assert staff.owner(f'SELECT actor FROM "{login.schema}".audit_anchor') == [(boss,)]
    assert per("audit", "verify").stdout == "ok: 4 events, chain intact\n"


def test_a_login_that_may_append_but_not_read_the_log_still_chains_its_events(
    per: RunPer, login: Login, staff: Staff, engine: Engine, unit: str
) -> None:
    write(engine, [Event(actor="x", action="patient.show", patient_id=None) for _ in range(2)])
    anna = staff.name("anna")
    assert per("staff", "add", anna, "--role", "registry", "--unit", unit).exit_code == 0
    as_anna = {"PER_DATABASE_URL": staff.url(anna)}
    assert per(*enrol_args(), extra_env=as_anna).exit_code == 0
    assert per("patient", "edit-profile", TOLVAN, "--comment", "ring efter 14", extra_env=as_anna).exit_code == 0
    with staff.connect(anna) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f'SET search_path TO "{login.schema}"')
        conn.execute("SELECT count(*) FROM audit_event")  # the registry role does not read the log
    assert count(engine) == 5
    assert per("audit", "verify").stdout == "ok: 5 events, chain intact\n"


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event", "DELETE FROM audit_anchor"],
)
def test_on_sqlite_a_direct_change_of_the_log_is_refused(engine: Engine, tmp_path: Path, statement: str) -> None:
    write(engine, [Event(actor="x", action="patient.show", patient_id=i) for i in range(3)])
    conn = sqlite3.connect(tmp_path / "per.db", isolation_level=None)
    conn.execute(
        "INSERT INTO audit_anchor (at, actor, cutoff, removed, last_removed_id, chain_from) "
        "VALUES ('2020-01-01 00:00:00.000000', 'x', '2020-01-01 00:00:00.000000', 0, 0, 'x')"
    )
    try:
        with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
            conn.execute(statement)
    finally:
        conn.close()
    assert count(engine) == 3
