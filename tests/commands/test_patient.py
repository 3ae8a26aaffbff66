"""`per patient …` end to end on both backends: enrol, show, list, edit-profile, exclude, bad input."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from per_cli.db.engine import make_engine
from tests.helpers.per import SAMORDNING, TOLVAN, RunPer, enrol_args


def _count(db_url: str, table: str) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(n)


def test_enrol_prints_the_stored_profile_and_audits_it(per: RunPer, unit: str, db_url: str, actor: str) -> None:
    result = per(
        *enrol_args(
            "19121212-1212",
            "--mobile",
            "070-174 06 05",
            "--email",
            "Tolvan.Tolvansson@TOLV.se",
            "--pal",
            "Dr. Berg",
            "--registered-on",
            "2012-05-07",
        ),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "personnummer": "19121212-1212",
        "first_name": "Tolvan",
        "last_name": "Tolvansson",
        "unit": "NEURO-SU",
        "mobile": "+46701740605",
        "mobile_type": "mobile",
        "email": "Tolvan.Tolvansson@tolv.se",
        "contact_person": "patient",
        "pal": "Dr. Berg",
        "comment": None,
        "registered_on": "2012-05-07",
        "excluded_on": None,
        "exclusion_reason": None,
        "password_sent_to": None,
        "password_sent_at": None,
    }
    assert result.stderr == "Enrolled Tolvan Tolvansson (19121212-1212) at NEURO-SU.\n"
    events = json.loads(per("audit", "list", "--format", "json").stdout)
    assert [(e["action"], e["personnummer"], e["unit"], e["actor"], e["outcome"]) for e in events] == [
        ("patient.enrol", "19121212-1212", "NEURO-SU", actor, "ok")
    ]


@pytest.mark.parametrize(
    "form", ["19121212-1212", "191212121212", "121212+1212", " 1912 1212-1212 ", "1212121212", "121212-1212"]
)
def test_enrolling_again_under_any_form_is_refused(per: RunPer, tolvan: str, form: str, db_url: str) -> None:
    result = per(*enrol_args(form))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: personnummer: this patient is already enrolled: `per patient show` shows the profile, "
        "`per patient edit-profile` changes it\n"
    )
    assert _count(db_url, "patient") == 1


def test_samordningsnummer_is_a_valid_identity(per: RunPer, unit: str) -> None:
    result = per(*enrol_args(SAMORDNING), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["personnummer"] == "19701063-2391"


BAD_INPUT = [
    (["19121212-1213"], "personnummer", "check digit"),
    (["19120230-1212"], "personnummer", "date"),
    (["1912121212123"[:11]], "personnummer", "11"),
    (["19121212-12AB"], "personnummer", "characters other than digits"),
    (["1,91212E+11"], "personnummer", "spreadsheet"),
    ([TOLVAN, "--mobile", "+4670174060"], "mobile", "short"),
    ([TOLVAN, "--email", "tolvan@"], "email", ""),
    ([TOLVAN, "--registered-on", "2012-13-01"], "registered_on", "YYYY-MM-DD"),
    ([TOLVAN, "--first-name", "  "], "first_name", "empty"),
]


@pytest.mark.parametrize(("args", "field", "reason"), BAD_INPUT)
def test_bad_input_is_one_line_naming_field_and_reason_and_writes_nothing(
    per: RunPer, unit: str, db_url: str, args: list[str], field: str, reason: str
) -> None:
    pnr, *extra = args
    argv = list(enrol_args(pnr))
    for i in range(0, len(extra), 2):  # later options override the defaults of enrol_args
        if extra[i] in argv:
            argv[argv.index(extra[i]) + 1] = extra[i + 1]
        else:
            argv += extra[i : i + 2]
    result = per(*argv)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: {field}: ")
    assert reason.lower() in result.stderr.lower()
    assert result.stdout == ""
    assert _count(db_url, "patient") == 0
    assert _count(db_url, "audit_event") == 0


def test_unknown_unit_is_refused(per: RunPer, unit: str, db_url: str) -> None:
    result = per(*enrol_args(TOLVAN, unit="NOPE"))
    assert (result.exit_code, result.stderr) == (1, "Error: unit: no care unit NOPE; see `per unit list`\n")
    assert _count(db_url, "patient") == 0


def test_landline_as_mobile_is_stored_with_a_warning(per: RunPer, unit: str) -> None:
    result = per(*enrol_args(TOLVAN, "--mobile", "08-465 004 00"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["mobile"], record["mobile_type"]) == ("+46846500400", "fixed_line")
    assert result.stderr.splitlines()[0] == (
        "Warning: mobile: +46846500400 is a fixed line number, not a mobile; stored, but SMS to it will be refused"
    )


def test_show_resolves_a_ten_digit_number_and_audits_the_read(per: RunPer, tolvan: str) -> None:
    result = per("patient", "show", "1212121212", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["personnummer"] == "19121212-1212"
    events = json.loads(per("audit", "list", "--action", "patient.show", "--format", "json").stdout)
    assert len(events) == 1 and events[0]["personnummer"] == "19121212-1212"


def test_ten_digits_matching_two_patients_asks_for_twelve(per: RunPer, unit: str) -> None:
    assert per(*enrol_args("191212121212")).exit_code == 0
    assert per(*enrol_args("201212121212")).exit_code == 0
    result = per("patient", "show", "1212121212")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: personnummer: these 10 digits match more than one patient; give all 12 digits (YYYYMMDD-NNNN)\n"
    )


def test_show_unknown_patient(per: RunPer, unit: str) -> None:
    result = per("patient", "show", TOLVAN)
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: personnummer: no patient with this personnummer is enrolled\n",
    )


def test_show_table_output_is_exact(per: RunPer, tolvan: str) -> None:
    result = per("patient", "show", TOLVAN)
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "personnummer          19121212-1212",
        "first_name            Tolvan",
        "last_name             Tolvansson",
        "unit                  NEURO-SU",
        "mobile                +46701740605",
        "mobile_type           mobile",
    ]
    assert lines[-8:] == [  # the login status (tests/credentials/test_status.py)
        "password_set          no",
        "password_set_at",
        "must_change_password",
        "failed_logins         0",
        "locked_until",
        "last_login_at",
        "last_login_method",
        "open_sessions         0",
    ]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "plain", "table"])
def test_list_in_every_format(per: RunPer, tolvan: str, fmt: str) -> None:
    assert per(*enrol_args("19701063-2391")).exit_code == 0
    result = per("patient", "list", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        assert [r["personnummer"] for r in json.loads(out)] == ["19121212-1212", "19701063-2391"]
    elif fmt == "jsonl":
        assert [json.loads(line)["personnummer"] for line in out.splitlines()] == ["19121212-1212", "19701063-2391"]
    elif fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        header, first, _second = out.splitlines()
        assert header.split(sep)[:3] == ["personnummer", "first_name", "last_name"]
        assert first.split(sep)[:3] == ["19121212-1212", "Tolvan", "Tolvansson"]
    elif fmt == "plain":
        assert out.splitlines()[0].split("\t")[:2] == ["19121212-1212", "Tolvan"]
    else:
        assert out.splitlines()[0].split() == [
            "personnummer",
            "first_name",
            "last_name",
            "unit",
            "mobile",
            "email",
            "excluded_on",
        ]


def test_list_filters_and_audits_each_patient_shown(per: RunPer, tolvan: str) -> None:
    per("unit", "add", "MS-KS", "--name", "MS-mottagningen Karolinska")
    assert per(*enrol_args("19701063-2391", unit="MS-KS")).exit_code == 0
    result = per("patient", "list", "--unit", "ms-ks", "--format", "json")
    assert [r["personnummer"] for r in json.loads(result.stdout)] == ["19701063-2391"]
    assert per("patient", "list", "--search", "TOLV", "--limit", "1", "--format", "jsonl").stdout.count("\n") == 1
    events = json.loads(per("audit", "list", "--action", "patient.list", "--format", "json").stdout)
    assert [e["personnummer"] for e in events] == ["19121212-1212", "19701063-2391"]  # newest first


def test_edit_profile_changes_contact_details(per: RunPer, tolvan: str) -> None:
    result = per(
        "patient",
        "edit-profile",
        TOLVAN,
        "--mobile",
        "+46 70 174 06 99",
        "--no-email",
        "--contact-person",
        "relative",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["mobile"], record["email"], record["contact_person"]) == ("+46701740699", None, "relative")
    assert result.stderr == "Updated mobile, email, contact_person.\n"
    events = json.loads(per("audit", "list", "--action", "patient.edit_profile", "--format", "json").stdout)
    assert events[0]["details"] == {"changed": ["mobile", "email", "contact_person"]}
    again = per("patient", "edit-profile", TOLVAN, "--contact-person", "relative")
    assert again.stderr == "Nothing changed: the profile already says so.\n"


def test_edit_profile_bad_mobile_changes_nothing(per: RunPer, tolvan: str) -> None:
    result = per("patient", "edit-profile", TOLVAN, "--email", "ny@tolv.se", "--mobile", "12")
    assert result.exit_code == 1 and result.stderr.startswith("Error: --mobile: ")
    shown = json.loads(per("patient", "show", TOLVAN, "--format", "json").stdout)
    assert shown["email"] == "tolvan.tolvansson@tolv.se"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to change: give at least one option"),
        (["--mobile", "0701740605", "--no-mobile"], "--mobile and --no-mobile contradict each other"),
    ],
)
def test_edit_profile_usage_errors(per: RunPer, tolvan: str, args: list[str], message: str) -> None:
    result = per("patient", "edit-profile", TOLVAN, *args)
    assert result.exit_code == 2 and f"Error: {message}" in result.stderr


def test_exclude(per: RunPer, unit: str) -> None:
    assert per(*enrol_args(TOLVAN, "--registered-on", "2012-05-07")).exit_code == 0
    early = per("patient", "exclude", TOLVAN, "--on", "2012-05-06")
    assert early.stderr == "Error: --on: 2012-05-06 is before the registration date\n"
    result = per("patient", "exclude", TOLVAN, "--on", "2026-01-31", "--reason", "Avböjer", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["excluded_on"] == "2026-01-31"
    again = per("patient", "exclude", TOLVAN)
    assert (again.exit_code, again.stderr) == (1, "Error: personnummer: already excluded on 2026-01-31\n")
    future = per("patient", "exclude", TOLVAN, "--on", "2999-01-01")
    assert future.exit_code == 1 and future.stderr == "Error: --on: 2999-01-01 is in the future\n"


def test_enrol_usage_errors(per: RunPer, unit: str) -> None:
    assert per("patient", "enrol").exit_code == 2
    missing = per("patient", "enrol", TOLVAN, "--first-name", "Tolvan", "--unit", unit)
    assert missing.exit_code == 2 and "missing option --last-name" in missing.stderr
    mixed = per("patient", "enrol", TOLVAN, "--file", "x.csv")
    assert mixed.exit_code == 2
    bulk_only = per(*enrol_args(TOLVAN), "--dry-run")
    assert bulk_only.exit_code == 2 and "--dry-run only go with --file" in bulk_only.stderr
