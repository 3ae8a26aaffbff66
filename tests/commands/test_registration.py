"""`per registration …` on both backends: start on scales, answer, show, list, export; sessions; bad input.

Timestamps come from a fixed clock (``per_cli.registrations.use_cases.utcnow`` is patched in-process), so outputs are
compared whole; table cells show local time, so the expected cells are computed the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from per_cli.db.engine import make_engine
from per_cli.db.models import Caregiver, Patient
from tests.helpers.per import PER, SAMORDNING, TOLVAN, RunPer, enrol_args

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
MSIS_ALL_2 = ",".join(["2"] * 29)  # physical 40 → 33.3, psychological 18 → 33.3
MSIS_SCORES = {"physical_raw": 40, "physical": 33.3, "psychological_raw": 18, "psychological": 33.3}
EQ = "1,1,2,1,1,85"
EQ_SCORES = {"profile": "11211", "vas": 85}
KNOWN = "EQ-5D-5L, HADS, MG-ADL, MSIS-29, MSWS-12, PDQ-39"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("per_cli.registrations.use_cases.utcnow", clock)
    return clock


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def local(moment: datetime) -> str:
    """A timestamp as a table cell shows it."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def count(db: sa.Engine, table: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def events(per: RunPer, action: str = "registration.*") -> list[dict[str, object]]:
    """The events in the order they happened (`audit list` shows the newest first)."""
    result = per("audit", "list", "--action", action, "--all", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return list(reversed(json.loads(result.stdout)))


def new(per: RunPer, *scales: str, pnr: str = TOLVAN) -> int:
    result = per("registration", "new", pnr, "--scales", ",".join(scales), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return int(json.loads(result.stdout)["registration_id"])


def login(db: sa.Engine, pnr: str = TOLVAN, *, caregiver: str | None = None, ago: timedelta = timedelta()) -> str:
    """A session token, as `per login …` would print it (made directly: the login commands are not under test)."""
    from per_cli.credentials.sessions import SessionSettings, create_session

    with Session(db) as session, session.begin():
        patient = session.execute(sa.select(Patient).where(Patient.personnummer == pnr)).scalar_one()
        helper = None
        if caregiver:
            helper = Caregiver(username=caregiver, unit_id=patient.unit_id, password_hash="-")
            session.add(helper)
            session.flush()
        method = "proxy" if caregiver else "otp"
        token, _ = create_session(
            session, patient, method, SessionSettings(), caregiver=helper, now=datetime.now(UTC) - ago
        )
    return token


# ------------------------------------------------------------------------------------------------------- new


def test_new_starts_a_registration_with_one_pending_part_per_scale(
    per: RunPer, tolvan: str, clock: Clock, actor: str
) -> None:
    result = per("registration", "new", "1212121212", "--scales", "msis-29, EQ-5D-5L", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "registration_id": 1,
        "personnummer": "19121212-1212",
        "unit": "NEURO-SU",
        "status": "started",
        "scales": ["MSIS-29", "EQ-5D-5L"],
        "pending": ["MSIS-29", "EQ-5D-5L"],
        "started_by": actor,
        "started_at": "2026-03-02T08:30:00+00:00",
        "completed_at": None,
    }
    assert result.stderr == "Started registration 1 for 19121212-1212: MSIS-29, EQ-5D-5L.\n"
    logged = [(e["actor"], e["action"], e["personnummer"], e["unit"], e["outcome"], e["details"]) for e in events(per)]
    assert logged == [
        (actor, "registration.new", "19121212-1212", "NEURO-SU", "ok",
         {"registration_id": 1, "scales": ["MSIS-29", "EQ-5D-5L"]}),
    ]  # fmt: skip


def test_new_prints_a_table_by_default_and_one_plain_line_for_scripts(
    per: RunPer, tolvan: str, clock: Clock, actor: str
) -> None:
    result = per("registration", "new", TOLVAN, "--scales", "HADS")
    assert result.stdout.splitlines() == [
        "registration_id  1",
        "personnummer     19121212-1212",
        "unit             NEURO-SU",
        "status           started",
        "scales           HADS",
        "pending          HADS",
        f"started_by       {actor}",
        f"started_at       {local(T0)}",
        "completed_at",
    ]
    plain = per("registration", "new", TOLVAN, "--scales", "HADS,MG-ADL", "--format", "plain")
    assert plain.stdout == f"2\t19121212-1212\tNEURO-SU\tstarted\tHADS, MG-ADL\tHADS, MG-ADL\t{actor}\t{local(T0)}\t\n"


NEW_REFUSED = [
    (TOLVAN, "MSIS-29,EQ-5D", f"--scales: unknown scale 'EQ-5D'; known scales: {KNOWN}"),
    (TOLVAN, "MSIS-29,,HADS", "--scales: an empty scale code in the list"),
    (TOLVAN, "msis-29,MSIS-29", "--scales: MSIS-29 is named twice"),
    (SAMORDNING, "HADS", "personnummer: no patient with this personnummer is enrolled"),
    ("19121212-1213", "HADS", "personnummer: check digit is wrong"),
]


def test_new_refuses_unknown_scales_and_patients_and_writes_nothing(per: RunPer, tolvan: str, db: sa.Engine) -> None:
    for pnr, scales, message in NEW_REFUSED:  # one database for all cases: each must leave it untouched
        result = per("registration", "new", pnr, "--scales", scales)
        assert (result.exit_code, result.stderr, result.stdout) == (1, f"Error: {message}\n", ""), scales
    assert (count(db, "registration"), count(db, "registration_part")) == (0, 0)
    assert events(per) == []


def test_new_for_an_excluded_patient_is_refused(today: str, per: RunPer, tolvan: str, db: sa.Engine) -> None:
    assert per("patient", "exclude", TOLVAN).exit_code == 0
    result = per("registration", "new", TOLVAN, "--scales", "HADS")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: personnummer: the patient was excluded on {today}; registrations are refused\n",
    )
    assert count(db, "registration") == 0


def test_new_needs_scales(per: RunPer, tolvan: str) -> None:
    result = per("registration", "new", TOLVAN)
    assert result.exit_code == 2 and "Missing option '--scales'" in result.stderr


# -------------------------------------------------------------------------------------------------- sessions


def test_a_patient_session_records_that_the_patient_started_and_answered(
    per: RunPer, tolvan: str, db: sa.Engine, actor: str
) -> None:
    token = login(db)
    result = per("registration", "new", TOLVAN, "--scales", "EQ-5D-5L", "--session", token, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["started_by"] == "patient"
    done = per("registration", "answer", "1", "--scale", "EQ-5D-5L", "--answers", EQ, "--session", token)
    assert done.exit_code == 0, done.stderr
    # on PostgreSQL the actor is the login role (README, "The access log"), the patient its claim
    by, claim = ("patient", {}) if db.dialect.name == "sqlite" else (actor, {"claimed_actor": "patient"})
    assert [(e["actor"], e["action"], e["details"]) for e in events(per)] == [
        (by, "registration.new",
         {"registration_id": 1, "scales": ["EQ-5D-5L"], "session_id": 1, "method": "otp", "operator": actor, **claim}),
        (by, "registration.answer",
         {"registration_id": 1, "scale": "EQ-5D-5L", "replaced": False, "registration_status": "complete",
          "session_id": 1, "method": "otp", "operator": actor, **claim}),
    ]  # fmt: skip
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT started_by, session_id FROM registration")).one() == ("patient", 1)


def test_a_proxy_session_records_the_care_giver(per: RunPer, tolvan: str, db: sa.Engine, actor: str) -> None:
    token = login(db, caregiver="anna.berg")
    result = per("registration", "new", TOLVAN, "--scales", "HADS", "--session", token, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["started_by"] == "caregiver:anna.berg"
    logged = events(per)[0]
    if db.dialect.name == "sqlite":
        assert logged["actor"] == "caregiver:anna.berg"
    else:  # the login role acts; the care giver behind the session is its claim
        details = json.loads(json.dumps(logged["details"]))
        assert (logged["actor"], details["claimed_actor"]) == (actor, "caregiver:anna.berg")


DENIED = "Error: --session: session denied: the session token is unknown, expired or ended; log in again\n"


def test_an_unusable_session_is_denied_with_exit_4_and_the_refusal_is_audited(
    per: RunPer, tolvan: str, db: sa.Engine, actor: str
) -> None:
    assert per(*enrol_args(SAMORDNING)).exit_code == 0
    other = "Error: --session: session denied: the session is another patient's; log in as this patient\n"
    cases = [
        ("not-a-token", DENIED, "unknown_session", None),
        (login(db, ago=timedelta(hours=13)), DENIED, "session_expired", 1),
        (login(db, ago=timedelta(minutes=31)), DENIED, "session_expired", 2),  # idle
        (login(db), DENIED, "session_revoked", 3),
        (login(db, SAMORDNING), other, "other_patient", 4),
    ]
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE login_session SET revoked_at = created_at WHERE id = 3"))
    for token, message, reason, _ in cases:
        result = per("registration", "new", TOLVAN, "--scales", "HADS", "--session", token)
        assert (result.exit_code, result.stderr, result.stdout) == (4, message, ""), reason
    assert count(db, "registration") == 0
    assert [(e["actor"], e["action"], e["personnummer"], e["outcome"], e["details"]) for e in events(per)] == [
        (actor, "registration.new", "19121212-1212", "denied", {"reason": reason, "session_id": session_id})
        for _, _, reason, session_id in cases
    ]


def test_answering_with_another_patients_session_is_denied(per: RunPer, tolvan: str, db: sa.Engine) -> None:
    assert per(*enrol_args(SAMORDNING)).exit_code == 0
    reg = new(per, "HADS")
    token = login(db, SAMORDNING)
    result = per(
        "registration", "answer", str(reg), "--scale", "HADS", "--answers", "0," * 13 + "0", "--session", token
    )
    assert result.exit_code == 4
    shown = json.loads(per("registration", "show", str(reg), "--format", "json").stdout)
    assert shown["parts"][0]["status"] == "pending"


# ---------------------------------------------------------------------------------------------------- answer


def test_answering_every_part_scores_it_and_completes_the_registration(per: RunPer, tolvan: str, clock: Clock) -> None:
    reg = new(per, "MSIS-29", "EQ-5D-5L")
    clock.now = T0 + timedelta(minutes=5)
    first = per("registration", "answer", str(reg), "--scale", "eq-5d-5l", "--answers", EQ, "--format", "json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) == {
        "registration_id": 1,
        "personnummer": "19121212-1212",
        "scale": "EQ-5D-5L",
        "version": "1",
        "status": "done",
        "completed_at": "2026-03-02T08:35:00+00:00",
        "answers": [1, 1, 2, 1, 1, 85],
        "scores": EQ_SCORES,
        "registration_status": "started",
        "pending": ["MSIS-29"],
    }
    assert first.stderr == "Scored EQ-5D-5L (profile=11211, vas=85); still pending: MSIS-29.\n"
    clock.now = T0 + timedelta(minutes=9)
    last = per("registration", "answer", str(reg), "--scale", "MSIS-29", "--answers", MSIS_ALL_2)
    assert last.exit_code == 0, last.stderr
    assert last.stderr == (
        "Scored MSIS-29 (physical_raw=40, physical=33.3, psychological_raw=18, psychological=33.3); "
        "registration 1 is complete.\n"
    )
    assert last.stdout.splitlines() == [
        "registration_id      1",
        "personnummer         19121212-1212",
        "scale                MSIS-29",
        "version              2",
        "status               done",
        f"completed_at         {local(T0 + timedelta(minutes=9))}",
        f"answers              {MSIS_ALL_2}",
        "scores               physical_raw=40, physical=33.3, psychological_raw=18, psychological=33.3",
        "registration_status  complete",
        "pending",
    ]
    answered = events(per, "registration.answer")
    assert [e["details"]["registration_status"] for e in answered] == ["started", "complete"]  # type: ignore[index]


PARTS = "its scales: MSIS-29, EQ-5D-5L"
BAD_ANSWERS = [
        (["--scale", "MSIS-29", "--answers", "2,2,2"], "answers: MSIS-29 has 29 items, got 3 answers"),
        (["--scale", "EQ-5D-5L", "--answers", "1,1,2,1,6,85"], "answers: item AD: 6 is outside 1–5"),
        (["--scale", "EQ-5D-5L", "--answers", "1,1,2,1,1,101"], "answers: item VAS: 101 is outside 0–100"),
        (["--scale", "EQ-5D-5L", "--answers", "1,1,,1,1,85"], "answers: item UA: an answer is required"),
        (["--scale", "EQ-5D-5L", "--answers", "1,1,two,1,1,85"], "answers: answer 3: 'two' is not a whole number"),
        (["--scale", "HADS", "--answers", EQ], f"--scale: registration 1 has no HADS part; {PARTS}"),
        (["--scale", "NOPE", "--answers", EQ], f"--scale: registration 1 has no NOPE part; {PARTS}"),
]  # fmt: skip


def test_bad_answers_are_refused_naming_the_item_and_leave_the_part_pending(per: RunPer, tolvan: str) -> None:
    reg = new(per, "MSIS-29", "EQ-5D-5L")
    for args, message in BAD_ANSWERS:
        result = per("registration", "answer", str(reg), *args)
        assert (result.exit_code, result.stderr, result.stdout) == (1, f"Error: {message}\n", "")
    shown = json.loads(per("registration", "show", str(reg), "--format", "json").stdout)
    assert [p["status"] for p in shown["parts"]] == ["pending", "pending"]
    assert events(per, "registration.answer") == []


def test_an_unknown_registration_is_not_found(per: RunPer, tolvan: str) -> None:
    result = per("registration", "answer", "42", "--scale", "HADS", "--answers", "1")
    assert (result.exit_code, result.stderr) == (1, "Error: REG: no registration 42\n")
    shown = per("registration", "show", "42")
    assert (shown.exit_code, shown.stderr) == (1, "Error: REG: no registration 42\n")
    bad = per("registration", "show", "x")
    assert bad.exit_code == 2 and "Invalid value for 'REG'" in bad.stderr


def test_a_done_part_is_replaced_only_with_replace_and_never_once_complete(per: RunPer, tolvan: str) -> None:
    reg = str(new(per, "MSIS-29", "EQ-5D-5L"))
    assert per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--answers", EQ).exit_code == 0
    again = per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--answers", "5,5,5,5,5,10")
    assert (again.exit_code, again.stderr) == (
        1,
        "Error: --scale: EQ-5D-5L is already answered in registration 1; give --replace to change its answers "
        "(possible until the registration is complete)\n",
    )
    fixed = per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--answers", "5,5,5,5,5,10", "--replace")
    assert fixed.exit_code == 0, fixed.stderr
    assert per("registration", "answer", reg, "--scale", "MSIS-29", "--answers", MSIS_ALL_2).exit_code == 0
    locked = per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--answers", EQ, "--replace")
    assert (locked.exit_code, locked.stderr) == (
        1,
        "Error: REG: registration 1 is complete; its answers can no longer be changed\n",
    )
    shown = json.loads(per("registration", "show", reg, "--format", "json").stdout)
    assert shown["parts"][1]["scores"] == {"profile": "55555", "vas": 10}
    replaced = [e["details"]["replaced"] for e in events(per, "registration.answer")]  # type: ignore[index]
    assert replaced == [False, True, False]


def test_an_allowed_missing_answer_is_stored_as_missing(per: RunPer, tolvan: str) -> None:
    reg = str(new(per, "PDQ-39"))
    answers = ["1"] * 39
    answers[27] = ""  # question 28: no spouse or partner
    result = per("registration", "answer", reg, "--scale", "PDQ-39", "--answers", ",".join(answers), "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["answers"][27] is None and record["answers"][26] == 1
    assert record["scores"]["social_support"] == 16.7  # items 28-30: (0 + 1 + 1) / 12 × 100
    table = per("registration", "show", reg).stdout
    assert ",".join(answers) in table


def test_excluded_after_start_cannot_answer(per: RunPer, tolvan: str) -> None:
    reg = str(new(per, "HADS"))
    assert per("patient", "exclude", TOLVAN).exit_code == 0
    result = per("registration", "answer", reg, "--scale", "HADS", "--answers", ",".join(["0"] * 14))
    assert result.exit_code == 1 and "registrations are refused" in result.stderr


def test_a_scale_whose_version_changed_since_the_start_is_refused(per: RunPer, tolvan: str, tmp_path: Path) -> None:
    scales = tmp_path / "scales"
    scales.mkdir()
    text = (
        'code = "LOCAL-1"\nname = "Local"\nversion = "1"\nsource = "Test."\nitems = [{ id = "a", min = 0, max = 2 }]\n'
    )
    text += '[scoring.total]\nrule = "sum"\n'
    (scales / "local-1.toml").write_text(text)
    env = {"PER_SCALES_DIR": str(scales)}
    result = per("registration", "new", TOLVAN, "--scales", "LOCAL-1", "--format", "json", extra_env=env)
    assert result.exit_code == 0, result.stderr
    (scales / "local-1.toml").write_text(text.replace('version = "1"', 'version = "2"'))
    refused = per("registration", "answer", "1", "--scale", "local-1", "--answers", "2", extra_env=env)
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: --scale: registration 1 was started with LOCAL-1 version 1; the catalogue now has version 2: "
        "start a new registration\n",
    )


def test_the_last_two_parts_answered_at_once_still_complete_the_registration(
    per: RunPer, tolvan: str, db: sa.Engine, db_url: str
) -> None:
    """Two people answering the last two pending parts at the same moment must not both miss the end."""
    import threading

    from per_cli.cli.app import App
    from per_cli.config import Config
    from per_cli.registrations.use_cases import answer

    failures: list[BaseException] = []
    for _ in range(3):
        reg = new(per, "HADS", "MG-ADL")
        barrier = threading.Barrier(2)

        def go(code: str, answers: list[int | None], reg: int = reg, barrier: threading.Barrier = barrier) -> None:
            app = App(config=Config(environ={}), actor="tester", database_url=db_url)
            app.ensure_schema()
            barrier.wait()
            try:
                answer(app, reg, scale=code, answers=answers)
            except BaseException as exc:  # reported below: an exception in a thread would not fail the test
                failures.append(exc)
            finally:
                app.close()

        threads = [
            threading.Thread(target=go, args=("HADS", [0] * 14)),
            threading.Thread(target=go, args=("MG-ADL", [1] * 8)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        with db.connect() as conn:
            query = sa.text("SELECT completed_at IS NOT NULL FROM registration WHERE id = :id")
            assert conn.execute(query, {"id": reg}).scalar_one(), reg


# ----------------------------------------------------------------------------------------------- answer files


ANSWER_FILES = [
    "1\n1\n2\n1\n1\n85\n",
    "# EQ-5D-5L, MO SC UA PD AD\r\n1\r\n1\r\n2 # usual activities\r\n1\r\n1\r\n# VAS\r\n85\r\n\r\n\r\n",
    "\ufeff1,1,2,1,1,85",
    "1;1;2;1;1;85\n",
    "1\t1\t2\n1\t1\t85\n",
]  # one per line, comments and CRLF, BOM and commas, semicolons, tabs


def test_answers_from_a_file(per: RunPer, tolvan: str, tmp_path: Path) -> None:
    path = tmp_path / "answers.txt"
    for content in ANSWER_FILES:
        reg = str(new(per, "EQ-5D-5L"))
        path.write_text(content, encoding="utf-8")
        result = per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--file", str(path), "--format", "json")
        assert result.exit_code == 0, (content, result.stderr)
        assert json.loads(result.stdout)["answers"] == [1, 1, 2, 1, 1, 85], content


def test_answers_from_stdin_and_an_empty_line_is_a_missing_answer(per: RunPer, tolvan: str) -> None:
    reg = str(new(per, "EQ-5D-5L"))
    result = per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--file", "-", input="1\n1\n\n1\n1\n85\n")
    assert (result.exit_code, result.stderr) == (1, "Error: answers: item UA: an answer is required\n")
    ok = per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--file", "-", input="1,1,2,1,1,85\n")
    assert ok.exit_code == 0, ok.stderr


def test_answer_source_errors(per: RunPer, tolvan: str) -> None:
    reg = str(new(per, "EQ-5D-5L"))
    usage = "Error: give the answers with either --answers or --file"
    for args, code, message in [
        ([], 2, usage),
        (["--answers", EQ, "--file", "x.txt"], 2, usage),
        (["--file", "/nonexistent/answers.txt"], 1,
         "Error: --file: cannot read /nonexistent/answers.txt: No such file or directory"),
    ]:  # fmt: skip
        result = per("registration", "answer", reg, "--scale", "EQ-5D-5L", *args)
        assert result.exit_code == code and message in result.stderr, args


# ------------------------------------------------------------------------------------------------ show, list


def _answered(per: RunPer, clock: Clock) -> str:
    reg = str(new(per, "MSIS-29", "EQ-5D-5L"))
    clock.now = T0 + timedelta(minutes=5)
    assert per("registration", "answer", reg, "--scale", "EQ-5D-5L", "--answers", EQ).exit_code == 0
    return reg


def test_show_prints_the_registration_then_one_line_per_part(
    per: RunPer, tolvan: str, clock: Clock, actor: str
) -> None:
    reg = _answered(per, clock)
    result = per("registration", "show", reg)
    assert result.exit_code == 0, result.stderr
    done = local(T0 + timedelta(minutes=5))
    assert result.stdout.splitlines() == [
        "registration_id  1",
        "personnummer     19121212-1212",
        "unit             NEURO-SU",
        "status           started",
        f"started_by       {actor}",
        f"started_at       {local(T0)}",
        "completed_at",
        "",
        "scale       version  status    completed_at         answers       scores",
        "--------  ---------  --------  -------------------  ------------  ---------------------",
        "MSIS-29           2  pending",
        f"EQ-5D-5L          1  done      {done}  1,1,2,1,1,85  profile=11211, vas=85",
    ]
    assert [e["action"] for e in events(per, "registration.show")] == ["registration.show"]


def test_show_as_json_and_csv(per: RunPer, tolvan: str, clock: Clock, actor: str) -> None:
    reg = _answered(per, clock)
    shown = json.loads(per("registration", "show", reg, "--format", "json").stdout)
    assert shown == {
        "registration_id": 1,
        "personnummer": "19121212-1212",
        "unit": "NEURO-SU",
        "status": "started",
        "started_by": actor,
        "started_at": "2026-03-02T08:30:00+00:00",
        "completed_at": None,
        "parts": [
            {"scale": "MSIS-29", "version": "2", "status": "pending", "completed_at": None, "answers": None,
             "scores": None},
            {"scale": "EQ-5D-5L", "version": "1", "status": "done", "completed_at": "2026-03-02T08:35:00+00:00",
             "answers": [1, 1, 2, 1, 1, 85], "scores": EQ_SCORES},
        ],
    }  # fmt: skip
    csv_out = per("registration", "show", reg, "--format", "csv").stdout
    assert csv_out.splitlines() == [
        "registration_id,personnummer,unit,scale,version,status,completed_at,answers,scores",
        "1,19121212-1212,NEURO-SU,MSIS-29,2,pending,,,",
        f'1,19121212-1212,NEURO-SU,EQ-5D-5L,1,done,{local(T0 + timedelta(minutes=5))},"1,1,2,1,1,85",'
        '"profile=11211, vas=85"',
    ]
    lines = per("registration", "show", reg, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["scores"] for line in lines] == [None, EQ_SCORES]


def test_list_shows_a_patients_registrations_oldest_first(per: RunPer, tolvan: str, clock: Clock, actor: str) -> None:
    _answered(per, clock)
    clock.now = T0 + timedelta(days=1)
    new(per, "HADS")
    result = per("registration", "list", "121212-1212")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "  registration_id  status    scales             pending    started_by    started_at           completed_at",
        "-----------------  --------  -----------------  ---------  ------------  -------------------  --------------",
        f"                1  started   MSIS-29, EQ-5D-5L  MSIS-29    {actor:<14}{local(T0)}",
        f"                2  started   HADS               HADS       {actor:<14}{local(T0 + timedelta(days=1))}",
    ]
    records = json.loads(per("registration", "list", TOLVAN, "--format", "json").stdout)
    assert [(r["registration_id"], r["scales"], r["pending"]) for r in records] == [
        (1, ["MSIS-29", "EQ-5D-5L"], ["MSIS-29"]),
        (2, ["HADS"], ["HADS"]),
    ]
    [event] = events(per, "registration.list")[:1]
    assert (event["personnummer"], event["details"]) == ("19121212-1212", {"registrations": 2})


def test_list_without_registrations(per: RunPer, tolvan: str) -> None:
    result = per("registration", "list", TOLVAN, "--format", "csv")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "registration_id,personnummer,unit,status,scales,pending,started_by,started_at,completed_at\n",
        "No registrations.\n",
    )


# ---------------------------------------------------------------------------------------------------- export


@pytest.fixture
def registry(per: RunPer, tolvan: str, clock: Clock) -> None:
    """Two patients in two units: Tolvan complete in March, Sam with one of two scales answered in April."""
    assert per("unit", "add", "MS-KS", "--name", "MS-mottagningen").exit_code == 0
    assert per(*enrol_args(SAMORDNING, unit="MS-KS")).exit_code == 0
    first = str(new(per, "MSIS-29", "EQ-5D-5L"))
    assert per("registration", "answer", first, "--scale", "MSIS-29", "--answers", MSIS_ALL_2).exit_code == 0
    clock.now = T0 + timedelta(minutes=5)
    assert per("registration", "answer", first, "--scale", "EQ-5D-5L", "--answers", EQ).exit_code == 0
    clock.now = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    second = str(new(per, "MG-ADL", "HADS", pnr=SAMORDNING))
    assert per("registration", "answer", second, "--scale", "MG-ADL", "--answers", "0,1,2,3,0,1,2,3").exit_code == 0


def test_export_csv_one_row_per_answered_scale_with_score_columns(per: RunPer, registry: None) -> None:
    result = per("registration", "export")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "registration_id,personnummer,unit,scale,version,completed_at,"
        "profile,vas,total,physical_raw,physical,psychological_raw,psychological",
        "1,19121212-1212,NEURO-SU,MSIS-29,2,2026-03-02T08:30:00Z,,,,40,33.3,18,33.3",
        "1,19121212-1212,NEURO-SU,EQ-5D-5L,1,2026-03-02T08:35:00Z,11211,85,,,,,",
        "2,19701063-2391,MS-KS,MG-ADL,1,2026-04-10T12:00:00Z,,,12,,,,",
    ]
    assert result.stderr == "Exported 3 answered scales of 2 patients.\n"
    exported = events(per, "registration.export")
    assert [(e["personnummer"], e["unit"], e["details"]) for e in exported] == [
        ("19121212-1212", "NEURO-SU", {"rows": 2}),
        ("19701063-2391", "MS-KS", {"rows": 1}),
        (None, None, {"filter": {}, "rows": 3, "patients": 2}),  # the export as a whole
    ]


def test_an_export_records_the_filter_used_and_the_rows_handed_out(per: RunPer, registry: None) -> None:
    result = per("registration", "export", "--unit", "MS-KS", "--since", "2026-04-01", "--format", "json")
    assert len(json.loads(result.stdout)) == 1
    summary = events(per, "registration.export")[-1]
    assert (summary["personnummer"], summary["unit"]) == (None, "MS-KS")
    details = json.loads(json.dumps(summary["details"]))
    assert details["rows"] == 1 and details["patients"] == 1
    assert details["filter"]["unit"] == "MS-KS" and details["filter"]["since"].startswith("2026-04-01T00:00:00")


def test_export_json_rows_carry_only_their_own_scores(per: RunPer, registry: None) -> None:
    rows = json.loads(per("registration", "export", "--format", "json").stdout)
    assert rows[1] == {
        "registration_id": 1,
        "personnummer": "19121212-1212",
        "unit": "NEURO-SU",
        "scale": "EQ-5D-5L",
        "version": "1",
        "completed_at": "2026-03-02T08:35:00Z",
        **EQ_SCORES,
    }
    assert rows[2]["total"] == 12 and "profile" not in rows[2]


EXPORT_FILTERS = [
        (["--since", "2026-04-01"], "total", ["2,19701063-2391,MS-KS,MG-ADL,1,2026-04-10T12:00:00Z,12"]),
        (["--until", "2026-03-31", "--unit", "neuro-su", "--scale", "EQ-5D-5L"], "profile,vas",
         ["1,19121212-1212,NEURO-SU,EQ-5D-5L,1,2026-03-02T08:35:00Z,11211,85"]),
        (["--scale", "HADS"], "anxiety,depression", []),
        (["--unit", "MS-KS", "--scale", "msis-29"], "physical_raw,physical,psychological_raw,psychological", []),
]  # fmt: skip


def test_export_filters_and_a_named_scale_fixes_the_header(per: RunPer, registry: None) -> None:
    for args, header_tail, rows in EXPORT_FILTERS:
        result = per("registration", "export", *args)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"registration_id,personnummer,unit,scale,version,completed_at,{header_tail}",
            *rows,
        ], args


EXPORT_REFUSED = [
        (["--scale", "EQ5D"], f"Error: --scale: unknown scale 'EQ5D'; known scales: {KNOWN}\n"),
        (["--unit", "NOPE"], "Error: --unit: no care unit NOPE; see `per unit list`\n"),
        (["--since", "2026-13-01"],
         "Error: --since: not a date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, 7d, 2h): '2026-13-01'\n"),
]  # fmt: skip


def test_export_bad_filters(per: RunPer, unit: str) -> None:
    for args, message in EXPORT_REFUSED:
        result = per("registration", "export", *args)
        assert (result.exit_code, result.stderr, result.stdout) == (1, message, ""), args


# ------------------------------------------------------------------------------------------- end to end, TAB


def test_full_flow_as_a_user_runs_it(per_proc: RunPer, tolvan: str, tmp_path: Path) -> None:
    """The installed program, one process per step, as in `make demo` or a CI job (enrolment done in-process)."""
    started = per_proc("registration", "new", "1212121212", "--scales", "MSIS-29,EQ-5D-5L", "--format", "plain")
    assert started.exit_code == 0, started.stderr
    reg = started.stdout.split("\t")[0]
    assert reg == "1"
    msis = tmp_path / "msis29.txt"
    msis.write_text("# MSIS-29\n" + "\n".join(["2"] * 29) + "\n")
    first = per_proc("registration", "answer", reg, "--scale", "msis-29", "--file", str(msis))
    assert first.exit_code == 0, first.stderr
    last = per_proc("registration", "answer", reg, "--scale", "EQ-5D-5L", "--file", "-", input="1,1,2,1,1,85\n")
    assert last.exit_code == 0, last.stderr
    assert last.stderr.endswith("registration 1 is complete.\n")
    exported = per_proc("registration", "export", "--format", "json")
    assert exported.exit_code == 0, exported.stderr
    rows = json.loads(exported.stdout)
    assert [(r["scale"], {k: r[k] for k in r if k in MSIS_SCORES or k in EQ_SCORES}) for r in rows] == [
        ("MSIS-29", MSIS_SCORES),
        ("EQ-5D-5L", EQ_SCORES),
    ]


def test_scale_codes_complete_on_tab_after_a_comma(tmp_path: Path) -> None:
    import subprocess

    words = "per registration new 191212121212 --scales MSIS-29,EQ"
    env = {**os.environ, "_PER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "5"}
    env.update(XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    for name in ("PER_SCALES_DIR", "PER_CONFIG"):
        env.pop(name, None)
    proc = subprocess.run([PER], capture_output=True, text=True, env=env, check=False)
    assert proc.stdout.splitlines() == ["plain,MSIS-29,EQ-5D-5L"]
