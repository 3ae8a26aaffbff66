"""`per audit extract`: the patient's log extract in plain Swedish or English, itself an audited access."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import Engine, select

from per_cli.audit.events import Event
from per_cli.audit.extract import PHRASES, phrase
from per_cli.db.models import Patient
from tests.helpers.audit import write
from tests.helpers.per import SAMORDNING, TOLVAN, RunPer, enrol_args


def _visits(per: RunPer) -> None:
    assert per("patient", "show", "1212121212").exit_code == 0
    assert per("patient", "edit-profile", TOLVAN, "--email", "tolvan@example.se").exit_code == 0
    assert per(*enrol_args(SAMORDNING)).exit_code == 0
    assert per("patient", "show", SAMORDNING, extra_env={"PER_ACTOR": "bertil"}).exit_code == 0


def test_the_extract_in_english_says_who_read_or_changed_what_where(
    per_proc: RunPer, per: RunPer, tolvan: str, actor: str
) -> None:
    _visits(per)
    result = per_proc("audit", "extract", "19121212-1212", "--language", "en", "--format", "json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["what"] for r in records] == ["enrolled you in the registry", "read your profile", "changed your profile"]
    assert {r["care_unit"] for r in records} == {"Neurologi, Sahlgrenska"}
    assert {r["who"] for r in records} == {actor}
    assert {r["outcome"] for r in records} == {"done"}
    assert list(records[0]) == ["when", "care_unit", "who", "what", "outcome"]
    assert records[0]["when"] <= records[-1]["when"]


def test_the_extract_is_swedish_by_default_with_swedish_headings(per: RunPer, tolvan: str) -> None:
    _visits(per)
    result = per("audit", "extract", TOLVAN)
    assert result.exit_code == 0, result.stderr
    header, _rule, *lines = result.stdout.splitlines()
    assert header.split()[:3] == ["När", "Vårdenhet", "Vem"]
    assert "Utfall" in header
    assert len(lines) == 3
    assert "registrerade dig i registret" in lines[0] and "läste din profil" in lines[1]
    assert "ändrade din profil" in lines[2] and "genomfört" in lines[2]
    assert "bertil" not in result.stdout  # another patient's visitor


def test_the_config_chooses_the_language_and_the_option_overrides_it(
    per: RunPer, tolvan: str, env: dict[str, str]
) -> None:
    Path(env["PER_CONFIG"]).write_text('[messages]\nlanguage = "en"\n')
    english = per("audit", "extract", TOLVAN, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(english.stdout)))
    assert list(rows[0]) == ["when", "care_unit", "who", "what", "outcome"]
    assert rows[0]["what"] == "enrolled you in the registry"
    swedish = per("audit", "extract", TOLVAN, "--format", "json", "--language", "sv")
    assert json.loads(swedish.stdout)[0]["what"] == "registrerade dig i registret"
    Path(env["PER_CONFIG"]).write_text('[messages]\nlanguage = "de"\n')
    bad = per("audit", "extract", TOLVAN)
    assert bad.exit_code == 1 and "[messages] language: must be one of sv, en" in bad.stderr


def test_an_action_without_a_phrase_is_shown_as_its_code(per: RunPer, tolvan: str, engine: Engine) -> None:
    with engine.connect() as conn:
        patient_id = conn.execute(select(Patient.id).where(Patient.personnummer == TOLVAN)).scalar_one()
    write(
        engine,
        [
            Event(
                actor="robot",
                action="registration.archive",
                patient_id=patient_id,
                unit_code="NEURO-SU",
                outcome="partial",
            )
        ],
    )
    records = json.loads(per("audit", "extract", TOLVAN, "--format", "json", "--language", "en").stdout)
    assert (records[-1]["what"], records[-1]["outcome"]) == ("registration.archive", "partly done")
    assert phrase("no.such.action", "sv") == "no.such.action"


def test_every_phrase_has_both_languages() -> None:
    for action, (swedish, english) in PHRASES.items():
        assert swedish and english and swedish != english, action


def test_producing_an_extract_is_an_audited_access(per: RunPer, tolvan: str, actor: str) -> None:
    assert per("audit", "extract", TOLVAN, "--since", "2000-01-01").exit_code == 0
    events = json.loads(per("audit", "list", "--action", "audit.extract", "--format", "json").stdout)
    assert len(events) == 1
    assert (events[0]["personnummer"], events[0]["unit"], events[0]["actor"]) == ("19121212-1212", "NEURO-SU", actor)
    assert events[0]["details"]["events"] == 1 and events[0]["details"]["language"] == "sv"
    second = json.loads(per("audit", "extract", TOLVAN, "--format", "json", "--language", "en").stdout)
    assert second[-1]["what"] == "produced a log extract about you"


def test_the_period_limits_the_extract(per: RunPer, tolvan: str) -> None:
    assert json.loads(per("audit", "extract", TOLVAN, "--since", "2999-01-01", "--format", "json").stdout) == []
    assert json.loads(per("audit", "extract", TOLVAN, "--until", "2000-01-01", "--format", "json").stdout) == []


def test_an_unknown_patient_is_refused(per: RunPer, unit: str) -> None:
    result = per("audit", "extract", TOLVAN)
    assert result.exit_code == 1
    assert result.stderr == "Error: personnummer: no patient with this personnummer is enrolled\n"
