"""The second security review's findings on staff access, each with real PostgreSQL login roles: a direct connection
as the login (what a psql user has) and `per` with it. Units NEURO-A (Tolvan; registry and support) and NEURO-B."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers.per import RunPer, enrol_args
from tests.staff.test_review_findings import IN_A, IN_B, Crew, crew

__all__ = ["crew"]

NOBODY = "198112189876"  # valid, never enrolled
LOCK_KEY = 4242002  # the access log's writer lock (per_cli.audit.events)


def _denied(crew: Crew) -> list[tuple[Any, ...]]:
    """The denied accesses, as the owner reads them: (about IN_B's patient, unit, actor, details)."""
    return crew.staff.owner(
        "SELECT e.patient_id = p.id, e.unit_code, e.actor, e.details FROM audit_event e "
        "JOIN patient p ON p.personnummer = %s WHERE e.action = 'patient.access' AND e.outcome = 'denied' "
        "ORDER BY e.id",
        IN_B,
    )


# --- D: a refusal tells the login nothing more than the command needs ---


def test_d_the_refusal_function_names_no_unit_is_audited_and_only_unit_limited_logins_may_call_it(crew: Crew) -> None:
    with crew.staff.connect(crew.names["registry"]).cursor() as cur, pytest.raises(psycopg.errors.UndefinedFunction):
        cur.execute("SELECT * FROM per_hidden_patient(ARRAY[%s])", (IN_B,))
    asked = crew.rows("registry", "SELECT * FROM per_refuse_hidden(ARRAY[%s, %s], 'x.y', NULL)", IN_B, NOBODY)
    assert asked == [(IN_B,)]  # the number it asked for; no patient id, no unit
    ((about, unit, actor, details),) = _denied(crew)
    assert (about, unit, actor) == (True, "NEURO-B", crew.names["registry"])
    assert json.loads(details) == {"command": "x.y", "reason": "care unit not granted to this login"}
    for role in ("service", "auditor", "admin"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            crew.rows(role, "SELECT * FROM per_refuse_hidden(ARRAY[%s], 'x', NULL)", IN_B)
    # support reads its units' events and its own that name no unit, never its refusal (which names NEURO-B)
    assert crew.rows("support", "SELECT * FROM per_refuse_hidden(ARRAY[%s], 'x', NULL)", IN_B) == [(IN_B,)]
    assert crew.rows("support", "SELECT count(*) FROM audit_event WHERE unit_code = 'NEURO-B'") == [(0,)]
    assert crew.per("audit", "verify").exit_code == 0  # the database chained its events like per does


# --- E: tombstones by unit; "is this number erased?" for the number asked ---


def test_e_tombstones_are_read_by_unit_and_erasure_is_answered_only_for_the_number_asked(crew: Crew) -> None:
    erased = crew.per("patient", "erase", IN_B, "--reason", "objection", "--yes")
    assert erased.exit_code == 0, erased.stderr
    assert crew.staff.owner("SELECT unit_code FROM patient_erasure") == [("NEURO-B",)]
    for role in ("registry", "support"):
        assert crew.rows(role, "SELECT count(*) FROM patient_erasure") == [(0,)], role
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        crew.rows("service", "SELECT count(*) FROM patient_erasure")
    assert crew.rows("auditor", "SELECT count(*) FROM patient_erasure") == [(1,)]
    assert crew.rows("registry", "SELECT personnummer, reason FROM per_erased(%s)", IN_B) == [(IN_B, "objection")]
    assert crew.rows("registry", "SELECT count(*) FROM per_erased(%s)", NOBODY) == [(0,)]
    # the objection still holds in every unit: enrolling the person in NEURO-A is refused
    again = crew.as_("registry", "patient", "enrol", IN_B, "--first-name", "A", "--last-name", "B", "--unit", "NEURO-A")
    assert again.exit_code == 1 and "objected to registration on" in again.stderr, again.stderr


# --- F: a bulk row for a patient of another unit is a rejected row, audited as a denied access ---


def test_f_a_bulk_row_for_a_patient_of_another_unit_is_rejected_and_audited(
    crew: Crew, per_proc: RunPer, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        f"personnummer;förnamn;efternamn;enhet\n{IN_B};Tolvan;Tolvansson;NEURO-A\n{NOBODY};Märta;Ek;NEURO-A\n",
        encoding="utf-8",
    )
    result = per_proc(
        "--database",
        crew.staff.url(crew.names["registry"]),
        "patient",
        "enrol",
        "--file",
        str(path),
        "--format",
        "json",
    )
    assert result.exit_code == 3, result.stderr
    assert "line 2: personnummer: this patient is enrolled in a care unit not granted to you" in result.stderr
    assert "NEURO-B" not in result.stderr + result.stdout
    assert IN_B not in result.stderr + result.stdout and IN_B[-4:] not in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["created"], summary["unchanged"], summary["rejected"]) == (1, 0, 1), summary
    ((about, unit, _, details),) = _denied(crew)
    assert (about, unit, json.loads(details)["command"]) == (True, "NEURO-B", "patient.enrol")
    assert crew.staff.owner("SELECT first_name FROM patient WHERE personnummer = %s", IN_B) == [("Tolvan",)]
    assert crew.per("audit", "verify").exit_code == 0


# --- G: refused extracts and single enrolments are audited like the other refused reads ---


def test_g_a_refused_extract_and_a_refused_single_enrolment_are_audited_as_denied(crew: Crew) -> None:
    unknown = crew.as_("support", "patient", "extract", NOBODY)
    hidden = crew.as_("support", "patient", "extract", IN_B)
    assert (hidden.exit_code, hidden.stdout, hidden.stderr) == (unknown.exit_code, unknown.stdout, unknown.stderr)
    enrol = crew.as_("registry", "patient", "enrol", IN_B, "--first-name", "A", "--last-name", "B", "--unit", "NEURO-A")
    assert enrol.exit_code == 1 and "already enrolled" in enrol.stderr, enrol.stderr
    denied = [(about, unit, actor, json.loads(details)) for about, unit, actor, details in _denied(crew)]
    assert [(about, unit, actor, d["command"]) for about, unit, actor, d in denied] == [
        (True, "NEURO-B", crew.names["support"], "patient.extract"),
        (True, "NEURO-B", crew.names["registry"], "patient.enrol"),
    ]
    assert crew.staff.owner("SELECT count(*) FROM patient WHERE personnummer = %s", IN_B) == [(1,)]
    assert crew.per("audit", "verify").exit_code == 0


# --- H: whoever takes the access log's lock stalls audited writes for a few seconds at most ---


def test_h_a_held_access_log_lock_fails_a_write_in_one_line_and_changes_nothing(crew: Crew, per_proc: RunPer) -> None:
    holder = crew.staff.connect(crew.names["service"])  # any login may take an advisory lock
    holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    events = crew.staff.owner("SELECT count(*) FROM audit_event")
    url = crew.staff.url(crew.names["registry"])
    edit = per_proc("--database", url, "patient", "edit-profile", IN_A, "--email", "ny@example.se", timeout=60)
    assert edit.exit_code != 0
    assert edit.stderr == (
        "Error: database: access log busy: another session holds its lock; nothing was changed; try again\n"
    )
    assert crew.staff.owner("SELECT email FROM patient WHERE personnummer = %s", IN_A) != [("ny@example.se",)]
    assert crew.staff.owner("SELECT count(*) FROM audit_event") == events
    holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    done = per_proc("--database", url, "patient", "edit-profile", IN_A, "--email", "ny@example.se", timeout=60)
    assert done.exit_code == 0, done.stderr


# --- I: the service login's look-up names one personnummer, never a list ---


def test_i_a_service_login_cannot_look_up_a_list_of_guessed_numbers(crew: Crew) -> None:
    with crew.staff.connect(crew.names["service"]).cursor() as cur:
        cur.execute("SELECT set_config('per.lookup', %s, false)", (f"{IN_A},{IN_B}",))
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            cur.execute("SELECT personnummer FROM patient")
    with crew.staff.connect(crew.names["service"]).cursor() as cur:
        for looked_up, seen in ((IN_A, [(IN_A,)]), (f"19{IN_A[2:]},20{IN_A[2:]}", [(IN_A,)]), ("", [])):
            cur.execute("SELECT set_config('per.lookup', %s, false)", (looked_up,))
            cur.execute("SELECT personnummer FROM patient")
            assert cur.fetchall() == seen, looked_up
        cur.execute("SELECT set_config('per.lookup', %s, false)", (f"{IN_A},{IN_A},{IN_A},{IN_A}",))
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            cur.execute("SELECT count(*) FROM patient_credential")


def test_the_database_hashes_an_event_exactly_as_per_does(crew: Crew) -> None:
    from datetime import UTC, datetime

    from per_cli.audit.events import event_hash

    at = datetime(2026, 12, 2, 9, 5, 7, 1234, tzinfo=UTC)
    for actor, details, unit, patient in (
        ("anna.berg", '{"reason":"x"}', None, None),
        ('Åsa "ö" \\ ', '{"note":"tab\\there\\n\\u0001 ✓"}', "NEURO-Ä", 42),
        ("x\ty\u0001\u007f", "\n\r\b\f", "", 0),
    ):
        ((db,),) = crew.staff.owner(
            "SELECT per_audit_hash(%s, %s, %s, 'patient.show', %s, %s, 'ok', %s)",
            "0" * 64, at, actor, patient, unit, details,
        )  # fmt: skip
        assert db == event_hash("0" * 64, at, actor, "patient.show", patient, unit, "ok", details)


# --- the names the database knows: who erased, and no OS user name claimed when nobody claimed one ---


def test_an_erasure_names_the_login_and_a_refusal_claims_no_os_user_name(crew: Crew) -> None:
    erased = crew.as_("admin", "patient", "erase", IN_B, "--reason", "request", "--yes")  # PER_ACTOR claims another
    assert erased.exit_code == 0, erased.stderr
    assert crew.staff.owner("SELECT erased_by FROM patient_erasure") == [(crew.names["admin"],)]
    assert crew.per(*enrol_args(IN_B, "--override-objection", "--reason", "ny begäran", unit="NEURO-B")).exit_code == 0
    url = crew.staff.url(crew.names["support"])
    unclaimed = crew.per("--database", url, "patient", "show", IN_B, extra_env={"PER_ACTOR": None})
    claimed = crew.per("--database", url, "patient", "show", IN_B, extra_env={"PER_ACTOR": "lisa"})
    assert unclaimed.exit_code == claimed.exit_code == 1
    details = [json.loads(d) for *_, d in _denied(crew)]
    assert [d.get("claimed_actor") for d in details] == [None, "lisa"]


def test_disabling_a_login_also_ends_its_open_connections(crew: Crew) -> None:
    open_session = crew.staff.connect(crew.names["registry"])
    assert open_session.execute("SELECT count(*) FROM patient").fetchall() == [(1,)]
    disabled = crew.per("staff", "disable", crew.names["registry"], "--format", "json")
    assert disabled.exit_code == 0, disabled.stderr
    assert json.loads(disabled.stdout)["connections_ended"] == 1
    assert f"Ended 1 open connection(s) of {crew.names['registry']}." in disabled.stderr
    with pytest.raises(psycopg.OperationalError):
        open_session.execute("SELECT count(*) FROM patient")
    with pytest.raises(psycopg.OperationalError):
        crew.staff.connect(crew.names["registry"])


def test_adding_an_admin_before_postgresql_16_warns_in_one_line(crew: Crew) -> None:
    ((version,),) = crew.staff.owner("SELECT current_setting('server_version_num')::int")
    added = crew.per("staff", "add", crew.staff.name("boss"), "--role", "admin")
    assert added.exit_code == 0, added.stderr
    warnings = [line for line in added.stderr.splitlines() if line.startswith("Warning: ")]
    if version >= 160000:
        assert warnings == []
    else:
        assert warnings == [
            "Warning: on PostgreSQL before 16 an admin's CREATEROLE lets it grant itself the schema owner's role "
            '(README, "Threat model"): keep admins few, or let the DBA manage staff'
        ]
    registry = crew.per("staff", "add", crew.staff.name("anna"), "--role", "registry", "--unit", "NEURO-A")
    assert "CREATEROLE" not in registry.stderr


# --- the database stamps and chains what a staff login appends ---


def test_a_staff_login_cannot_append_a_back_dated_or_forged_chained_event(crew: Crew) -> None:
    from datetime import UTC, datetime

    from per_cli.audit.events import event_hash

    login = crew.names["registry"]
    insert = (
        "INSERT INTO audit_event (at, actor, action, outcome, details, prev_hash, hash) "
        "VALUES (%s, %s, 'patient.show', 'ok', '{}', %s, %s)"
    )
    conn = crew.staff.connect(login)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT per_audit_tail(), now()")
        ((head, now),) = cur.fetchall()
    for at, prev in ((datetime(2020, 1, 1, tzinfo=UTC), head), (None, "f" * 64)):  # back-dated; chained elsewhere
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT per_audit_tail(), now()")
            ((head, now),) = cur.fetchall()
            moment = at or now
            cur.execute(insert, (moment, login, prev, event_hash(prev, moment, login, "patient.show", None, None,
                                                                  "ok", "{}")))  # fmt: skip
    with conn.transaction(), conn.cursor() as cur:  # stamped now() and chained to the head: taken
        cur.execute("SELECT per_audit_tail(), now()")
        ((head, now),) = cur.fetchall()
        cur.execute(insert, (now, login, head, event_hash(head, now, login, "patient.show", None, None, "ok", "{}")))
    assert crew.staff.owner("SELECT count(*) FROM audit_event WHERE actor = %s", login) == [(1,)]
    # per's own writes as staff logins pass: a look-up, a refusal the database writes, a bulk enrolment's events
    assert crew.as_("registry", "patient", "show", IN_A).exit_code == 0
    assert crew.as_("registry", "patient", "show", IN_B).exit_code == 1
    assert crew.as_("registry", *enrol_args(NOBODY, unit="NEURO-A")).exit_code == 0
    verified = crew.per("audit", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_a_held_enrolment_lock_fails_an_enrolment_in_one_line_and_enrols_nobody(crew: Crew, per_proc: RunPer) -> None:
    holder = crew.staff.connect(crew.names["service"])  # any login may take an advisory lock
    holder.execute("SELECT pg_advisory_lock(%s)", (4242018,))  # per_cli.rights.tombstones._ENROLMENT_LOCK
    url = crew.staff.url(crew.names["registry"])
    enrol = per_proc("--database", url, *enrol_args(NOBODY, unit="NEURO-A"), timeout=60)
    assert (enrol.exit_code, enrol.stderr) == (
        1,
        "Error: database: lock wait timed out; nothing was changed; try again\n",
    )
    assert crew.staff.owner("SELECT count(*) FROM patient WHERE personnummer = %s", NOBODY) == [(0,)]
    holder.execute("SELECT pg_advisory_unlock(%s)", (4242018,))
    done = per_proc("--database", url, *enrol_args(NOBODY, unit="NEURO-A"), timeout=60)
    assert done.exit_code == 0, done.stderr


def test_only_an_admin_can_hold_the_lock_that_serialises_staff_changes(crew: Crew) -> None:
    """Staff changes lock ``staff_unit`` (not an advisory lock any login may take), so no other login can stall
    them; an admin's change takes it and goes through."""
    for role in ("service", "registry", "support", "auditor"):
        conn = crew.staff.connect(crew.names[role])
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("LOCK TABLE staff_unit IN SHARE ROW EXCLUSIVE MODE")
    admin = crew.per("--database", crew.staff.url(crew.names["admin"]), "staff", "grant", crew.names["registry"],
                     "--unit", "NEURO-B")  # fmt: skip
    assert admin.exit_code == 0, admin.stderr
