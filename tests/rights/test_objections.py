"""An erased or objecting person is not enrolled again by mistake (single or bulk, any form of the number) unless
staff override with a reason, which is audited; `per patient objections` lists the tombstones. Both backends."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, RunPer, enrol_args
from tests.helpers.world import World

HOW = "to enrol again, give --override-objection --reason TEXT"
TOLVAN_REFUSED = "objected to registration on {today}; erased (" + HOW + ")"
SAMORDNING_REFUSED = "asked to be erased on {today}; erased (" + HOW + ")"


@pytest.fixture
def erased(today: str, world: World, per_proc: RunPer) -> World:
    """Tolvan erased on objection, the samordningsnummer on request, on ``today`` (taken first)."""
    world.enrol(SAMORDNING, mobile=None, email=None)
    for pnr, reason in ((TOLVAN, "objection"), (SAMORDNING, "request")):
        result = per_proc("patient", "erase", pnr, "--reason", reason, "--note", f"ärende {reason}", "--yes")
        assert result.exit_code == 0, result.stderr
    return world


def _state(world: World) -> tuple[int, int]:
    return world.sql("SELECT count(*) FROM patient")[0][0], world.sql("SELECT count(*) FROM audit_event")[0][0]


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ("19121212-1212", TOLVAN_REFUSED),
        ("121212+1212", TOLVAN_REFUSED),  # 100 years or more: 1912
        ("1212121212", TOLVAN_REFUSED[:-1] + "; or give all 12 digits if this is someone born a century apart)"),
        ("197010632391", SAMORDNING_REFUSED),
        ("701063-2391", SAMORDNING_REFUSED),
    ],
)
def test_enrolling_an_erased_person_again_is_refused_in_any_form(
    erased: World, per_proc: RunPer, form: str, reason: str, today: str
) -> None:
    before = _state(erased)
    result = per_proc(*enrol_args(form))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: personnummer: {reason.format(today=today)}\n"
    assert _state(erased) == before


def test_override_needs_a_reason_and_is_audited(erased: World, per_proc: RunPer, today: str) -> None:
    before = _state(erased)
    for args, message in (
        (["--override-objection"], "--override-objection needs --reason TEXT: say why the objection is overridden"),
        (["--reason", "Patienten har ångrat sig"], "--reason goes with --override-objection"),
    ):
        result = per_proc(*enrol_args(TOLVAN), *args)
        assert result.exit_code == 2 and result.stderr.endswith(f"Error: {message}\n"), result.stderr
    blank = per_proc(*enrol_args(TOLVAN), "--override-objection", "--reason", "  ")
    assert (blank.exit_code, blank.stderr) == (
        1,
        "Error: --reason: must not be empty: say why the objection is overridden\n",
    )
    assert _state(erased) == before
    enrolled = per_proc(
        *enrol_args("121212-1212"), "--override-objection", "--reason", "Patienten har återkallat invändningen"
    )
    assert enrolled.exit_code == 0, enrolled.stderr
    (event,) = [e for e in erased.audit("patient.enrol") if e["details"].get("override_objection")]
    assert event["details"] == {
        "source": "single",
        "override_objection": "Patienten har återkallat invändningen",
        "erased_on": today,
    }
    listed = per_proc("patient", "objections", "--format", "json")
    assert [(o["personnummer"], o["enrolled_again"]) for o in json.loads(listed.stdout)] == [
        ("19121212-1212", True),
        ("19701063-2391", False),
    ]
    nothing = per_proc(*enrol_args("198112289874"), "--override-objection", "--reason", "just in case")
    assert nothing.exit_code == 0
    assert nothing.stderr.startswith(
        "Warning: --override-objection: this personnummer has no objection on record; enrolled as usual\n"
    )


def test_bulk_enrolment_rejects_erased_rows_unless_overridden(erased: World, per_proc: RunPer, today: str) -> None:
    source = erased.tmp / "patienter.csv"
    source.write_text(
        "Personnummer;Förnamn;Efternamn\n19121212-1212;Tolvan;Tolvansson\n7010632391;Åsa;Öberg\n"
        "811228-9874;Märta;Ängström\n",
        encoding="utf-8",
    )
    rejects = erased.tmp / "avvisade.csv"
    args = ("patient", "enrol", "--file", str(source), "--unit", "NEURO-SU", "--format", "json")
    dry = per_proc(*args, "--dry-run")
    assert dry.exit_code == 3
    assert json.loads(dry.stdout)["rejected"] == 2
    before = _state(erased)
    result = per_proc(*args, "--rejects", str(rejects))
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["created"], summary["rejected"]) == (3, 1, 2)
    lines = [
        f"line 2: personnummer: {TOLVAN_REFUSED.format(today=today)}",
        f"line 3: personnummer: {SAMORDNING_REFUSED.format(today=today)}",
    ]
    assert result.stderr.splitlines()[:2] == lines
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        assert [(r["line"], r["Personnummer"], r["reason"]) for r in csv.DictReader(fh, delimiter=";")] == [
            ("2", "19121212-1212", lines[0].split(": ", 1)[1]),
            ("3", "7010632391", lines[1].split(": ", 1)[1]),
        ]
    assert _state(erased)[0] == before[0] + 1
    again = per_proc(*args, "--override-objection", "--reason", "Återkallade invändningar, ärende 7")
    assert again.exit_code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["created"], summary["unchanged"], summary["rejected"]) == (2, 1, 0)
    overrides = [e["details"] for e in erased.audit("patient.enrol") if "override_objection" in e["details"]]
    assert overrides == [
        {"source": "file", "line": 2, "override_objection": "Återkallade invändningar, ärende 7", "erased_on": today},
        {"source": "file", "line": 3, "override_objection": "Återkallade invändningar, ärende 7", "erased_on": today},
    ]


def test_objections_list_in_every_format_by_period_and_audited(
    erased: World, per_proc: RunPer, actor: str, today: str
) -> None:
    table = per_proc("patient", "objections")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.splitlines() == [
        "personnummer    erased_on    reason     note              erased_by    enrolled_again",
        "--------------  -----------  ---------  ----------------  -----------  ----------------",
        f"19121212-1212   {today}   objection  ärende objection  {actor:<13}no",
        f"19701063-2391   {today}   request    ärende request    {actor:<13}no",
    ]
    assert per_proc("patient", "objections", "--format", "csv").stdout == (
        "personnummer,erased_on,reason,note,erased_by,enrolled_again\n"
        f"19121212-1212,{today},objection,ärende objection,{actor},no\n"
        f"19701063-2391,{today},request,ärende request,{actor},no\n"
    )
    assert json.loads(per_proc("patient", "objections", "--format", "jsonl").stdout.splitlines()[1]) == {
        "personnummer": "19701063-2391",
        "erased_on": today,
        "reason": "request",
        "note": "ärende request",
        "erased_by": actor,
        "enrolled_again": False,
    }
    tomorrow = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    later = per_proc("patient", "objections", "--since", tomorrow, "--format", "json")
    assert (later.exit_code, json.loads(later.stdout)) == (0, [])
    earlier = per_proc("patient", "objections", "--until", "2020-01-01", "--format", "tsv")
    assert earlier.stdout == "personnummer\terased_on\treason\tnote\terased_by\tenrolled_again\n"
    ids = sorted(r[0] for r in erased.sql("SELECT patient_id FROM patient_erasure"))
    seen = [e["patient_id"] for e in erased.audit("patient.objections")]
    assert sorted(seen) == sorted(ids * 3)  # table, csv, jsonl listed both; the empty periods no one
