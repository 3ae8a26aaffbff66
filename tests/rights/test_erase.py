"""`per patient erase` through the installed program on both backends: every row about the patient goes in one
transaction, the tombstone and the access log stay, `audit verify` still passes, bad input changes nothing."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from typing import Any

import pytest

from per_cli.db.models import Base
from per_cli.rights.erase import KEPT, rows_about
from tests.helpers.per import PER, SAMORDNING, TOLVAN, RunPer
from tests.helpers.world import World
from tests.rights.conftest import Full, rows_of

DELETED = {
    "patient": 1,
    "patient_credential": 1,
    "password_delivery": 2,
    "otp_challenge": 1,
    "otp_send": 1,
    "login_session": 2,
    "registration": 1,
    "registration_part": 2,
    "campaign_target": 1,
}
#: tables that hold no patient's data: care units, care giver accounts, the one-time-code key's fingerprint, and
#: failure counts of numbers without a password (keyed by a keyed hash of whatever number was typed), staff logins'
#: units, a campaign's own row (its targets are erased) and the transports' shared sending slots
NO_PATIENT_DATA = {"care_unit", "caregiver", "otp_key", "login_throttle", "staff_unit", "campaign", "transport_rate"}


def _tombstones(world: World) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in world.sql("SELECT patient_id, personnummer, reason, note, erased_by FROM patient_erasure ORDER BY 1")
    ]


def _snapshot(world: World) -> dict[str, Any]:
    tables = [t.name for t in Base.metadata.sorted_tables]
    return {t: world.sql(f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def test_every_table_with_patient_data_is_erased_or_kept_on_purpose() -> None:
    erased = {table.name for table, _ in rows_about(1, TOLVAN)}
    assert erased >= set(DELETED)
    assert erased | KEPT | NO_PATIENT_DATA == {t.name for t in Base.metadata.sorted_tables}
    assert not erased & (KEPT | NO_PATIENT_DATA)


def test_erase_deletes_everything_about_the_patient_and_keeps_the_tombstone_and_the_log(
    today: str, full: Full, per_proc: RunPer, actor: str
) -> None:
    world = full.world
    before, bystander = rows_of(world, full.tolvan_id), rows_of(world, full.bystander_id)
    assert {k: v for k, v in before.items() if k != "audit_event"} == DELETED
    result = per_proc(
        "patient",
        "erase",
        "1212121212",
        "--reason",
        "request",
        "--note",
        "Ärende 2026-117",
        "--yes",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "personnummer": "19121212-1212",
        "erased_on": today,
        "reason": "request",
        "note": "Ärende 2026-117",
        "deleted": DELETED,
    }
    assert result.stderr == (
        "Erased 19121212-1212: profile and contact details, password and login state (1), password deliveries (2), "
        "one-time codes (1), one-time code sends (1), sessions (2), registrations (1), scale answers and scores (2), "
        "places in password campaigns (1). "
        "Kept: the tombstone and the access log.\n"
    )
    after = rows_of(world, full.tolvan_id)
    assert after == {**dict.fromkeys(DELETED, 0), "audit_event": before["audit_event"] + 1}
    assert rows_of(world, full.bystander_id) == bystander
    assert _tombstones(world) == [(full.tolvan_id, TOLVAN, "request", "Ärende 2026-117", actor)]
    (event,) = world.audit("patient.erase")
    assert event == {
        "actor": actor,
        "patient_id": full.tolvan_id,
        "unit": "NEURO-SU",
        "outcome": "ok",
        "details": {"reason": "request", "deleted": DELETED},  # the note stays with the tombstone only
    }
    verified = per_proc("audit", "verify")
    assert (verified.exit_code, verified.stdout.startswith("ok: ")) == (0, True), verified.stdout


def test_without_yes_and_no_terminal_it_refuses_naming_yes_and_changes_nothing(full: Full, per_proc: RunPer) -> None:
    before = _snapshot(full.world)
    result = per_proc("patient", "erase", TOLVAN, "--reason", "objection")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: not on a terminal, so nobody can confirm: give --yes to erase without asking\n"
    )
    assert _snapshot(full.world) == before


def _on_a_terminal(env: dict[str, str], answer: str, *args: str) -> tuple[int, str, str]:
    """Run ``per`` with a terminal as stdin (a pseudo-terminal) that types ``answer``."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [PER, *args],
        stdin=child,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        text=True,
    )
    os.close(child)
    try:
        os.write(main, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(main)
    return proc.returncode, out, err


def test_on_a_terminal_it_shows_what_goes_and_asks_first(today: str, full: Full, env: dict[str, str]) -> None:
    world = full.world
    before = _snapshot(world)
    code, out, err = _on_a_terminal(env, "n", "patient", "erase", TOLVAN, "--reason", "objection")
    preview = (
        "This erases, for good:\n"
        f"19121212-1212 Tolvan Tolvansson, NEURO-SU, registered {today}\n"
        "  profile and contact details: 1\n"
        "  password and login state: 1\n"
        "  password deliveries: 2\n"
        "  one-time codes: 1\n"
        "  one-time code sends: 1\n"
        "  sessions: 2\n"
        "  registrations: 1\n"
        "  scale answers and scores: 2\n"
        "  places in password campaigns: 1\n"
        "Erase all of it? [y/N]: "
    )
    assert (code, out) == (1, "")
    assert err == preview + "Error: not confirmed; nothing was erased\n"
    assert _snapshot(world) == {**before, "audit_event": before["audit_event"] + 1}
    (looked,) = world.audit("patient.erase_preview")
    assert (looked["patient_id"], looked["details"]) == (full.tolvan_id, {"rows": DELETED})

    code, out, err = _on_a_terminal(env, "y", "patient", "erase", TOLVAN, "--reason", "objection")
    assert code == 0, err
    assert err.startswith(preview + "Erased 19121212-1212: profile and contact details, ")
    assert out.startswith("personnummer  19121212-1212\n")
    assert rows_of(world, full.tolvan_id)["patient"] == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["198112289874", "--reason", "request", "--yes"],
            1,
            "Error: personnummer: no patient with this personnummer is enrolled\n",
        ),
        (["19121212-1213", "--reason", "request", "--yes"], 1, "Error: personnummer: check digit is wrong\n"),
        ([TOLVAN, "--yes"], 2, "Error: missing option --reason: objection, request, other\n"),
        ([TOLVAN, "--reason", "bored", "--yes"], 2, "Error: Invalid value for '--reason': 'bored' is not one of"),
        (
            [TOLVAN, "--reason", "other", "--note", "a\x1b[2Jb", "--yes"],
            1,
            "Error: --note: contains an escape character (U+001B); remove it\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    full: Full, per_proc: RunPer, args: list[str], code: int, message: str
) -> None:
    before = _snapshot(full.world)
    result = per_proc("patient", "erase", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stderr.count("Error:") == 1 and "Traceback" not in result.stderr
    assert _snapshot(full.world) == before


def test_an_erased_patient_cannot_be_erased_again(today: str, world: World, per_proc: RunPer) -> None:
    assert per_proc("patient", "erase", TOLVAN, "--reason", "objection", "--yes").exit_code == 0
    before = _snapshot(world)
    again = per_proc("patient", "erase", "121212-1212", "--reason", "objection", "--yes")
    assert (again.exit_code, again.stdout) == (1, "")
    assert again.stderr == (
        f"Error: personnummer: no patient with this personnummer is enrolled (erased on {today}; "
        "see `per patient objections`)\n"
    )
    assert _snapshot(world) == before


def test_the_log_still_names_the_erased_patient_and_no_one_inherits_their_id(world: World, per_proc: RunPer) -> None:
    """SQLite gives a new row the largest id plus one: the tombstone's id counts, single and bulk."""
    world.enrol(SAMORDNING, mobile=None, email=None)  # the newest patient, the one erased
    (erased_id,) = world.sql("SELECT id FROM patient WHERE personnummer = :p", p=SAMORDNING)[0]
    assert per_proc("patient", "erase", SAMORDNING, "--reason", "objection", "--yes").exit_code == 0
    world.enrol("198112289874", mobile=None, email=None)
    bulk = world.tmp / "new.csv"
    bulk.write_text("personnummer;förnamn;efternamn\n194107086995;Åsa;Öberg\n", encoding="utf-8")
    assert world.per("patient", "enrol", "--file", str(bulk), "--unit", "NEURO-SU").exit_code == 0
    new_ids = [r[0] for r in world.sql("SELECT id FROM patient WHERE personnummer <> :t ORDER BY id", t=TOLVAN)]
    assert len(new_ids) == 2 and min(new_ids) > erased_id
    listed = per_proc("audit", "list", "--patient", "7010632391", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    events = json.loads(listed.stdout)
    assert [(e["action"], e["personnummer"]) for e in events] == [  # newest first
        ("patient.erase", "19701063-2391"),
        ("patient.enrol", "19701063-2391"),
    ]
    newcomer = per_proc("audit", "extract", "198112289874", "--format", "json")
    assert [e["what"] for e in json.loads(newcomer.stdout)] == ["registrerade dig i registret"]
    review = json.loads(per_proc("audit", "review", "--sample", "100", "--format", "json").stdout)
    assert {e["personnummer"] for e in review if e["action"] == "patient.erase"} == {"19701063-2391"}


def test_the_command_offers_exactly_the_reasons_the_domain_knows() -> None:
    from commands.patient.rights import REASONS as OFFERED
    from per_cli.rights.tombstones import REASONS

    assert OFFERED == REASONS


def test_a_write_that_loses_a_race_with_an_erasure_is_one_line(world: World) -> None:
    """What a writer meets when the patient it read is erased before it writes (both backends)."""
    from sqlalchemy import delete, select

    from per_cli.cli.app import App
    from per_cli.config import load_config
    from per_cli.db.models import Patient, PatientCredential, Registration, table_of
    from per_cli.errors import PerError

    app = App(config=load_config(world.env["PER_CONFIG"], environ=world.env), actor="t", database_url=world.db_url)
    removed = "database: what this refers to was removed meanwhile (was the patient erased?); nothing was changed"
    try:
        with pytest.raises(PerError) as stale, app.transaction() as session:
            patient = session.execute(select(Patient)).scalar_one()
            conn = session.connection()  # as another transaction's erasure would, meanwhile (Core: no ORM sync)
            conn.execute(delete(table_of(PatientCredential)))
            conn.execute(delete(table_of(Patient)))
            patient.first_name = "Tolva"
            session.flush()
        assert str(stale.value) == removed
        with pytest.raises(PerError) as dangling, app.transaction() as session:
            session.add(Registration(patient_id=999_999, started_by="t"))
            session.flush()
        assert str(dangling.value) == removed
    finally:
        app.close()
    assert world.sql("SELECT first_name FROM patient")[0][0] == "Tolvan"


def test_a_deadlock_is_one_line_that_says_to_try_again(world: World, backend: str) -> None:
    """PostgreSQL undoes one of two transactions that wait for each other; that one is told so, in one line
    (the erasure retries on it). SQLite has one writer at a time and no deadlocks."""
    import threading

    from sqlalchemy import text

    from per_cli.cli.app import App
    from per_cli.config import load_config
    from per_cli.errors import Contention

    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: no deadlock to meet")
    assert world.per("unit", "add", "OTHER", "--name", "Annan").exit_code == 0
    app = App(config=load_config(world.env["PER_CONFIG"], environ=world.env), actor="t", database_url=world.db_url)
    first, second = threading.Event(), threading.Event()
    caught: list[BaseException] = []

    def ours() -> None:  # the default deadlock_timeout (1 s): this one finds the cycle and is undone
        try:
            with app.transaction() as session:
                session.execute(text("UPDATE care_unit SET name = 'a' WHERE code = 'NEURO-SU'"))
                first.set()
                assert second.wait(60)
                session.execute(text("UPDATE care_unit SET name = 'a' WHERE code = 'OTHER'"))
        except BaseException as exc:  # surfaced below
            caught.append(exc)

    thread = threading.Thread(target=ours)
    with world.engine.connect() as conn:
        conn.execute(text("SET deadlock_timeout = '120s'"))
        conn.execute(text("UPDATE care_unit SET name = 'b' WHERE code = 'OTHER'"))
        thread.start()
        assert first.wait(60)
        second.set()
        conn.execute(text("UPDATE care_unit SET name = 'b' WHERE code = 'NEURO-SU'"))  # waits, then wins
        conn.commit()
    thread.join(120)
    app.close()
    assert len(caught) == 1 and isinstance(caught[0], Contention), caught
    assert str(caught[0]) == "database: another change to the same rows got in the way; nothing was changed, try again"
    assert sorted(world.sql("SELECT name FROM care_unit")) == [("b",), ("b",)]
