"""`per patient extract` through the installed program on both backends: everything held about the person, in
every format and as a workbook, never a password, the access log as `audit extract` gives it; audited."""

from __future__ import annotations

import json
import stat

from tests.helpers.per import TOLVAN, RunPer
from tests.helpers.world import CAREGIVER, EMAIL, MOBILE, World
from tests.rights.conftest import EQ_SCORES, Full

SECTIONS = ["profile", "registrations", "deliveries", "codes", "sessions", "erasures", "access_log"]


def test_the_json_extract_holds_everything_and_never_a_password(full: Full, per_proc: RunPer) -> None:
    world = full.world
    log = per_proc("audit", "extract", TOLVAN, "--format", "json")
    assert log.exit_code == 0, log.stderr
    result = per_proc("patient", "extract", "1212121212", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["personnummer", "produced_at", "language", *SECTIONS]
    assert (doc["personnummer"], doc["language"]) == ("19121212-1212", "sv")
    profile = doc["profile"]
    assert {k: profile[k] for k in ("first_name", "last_name", "care_unit", "mobile", "email")} == {
        "first_name": "Tolvan",
        "last_name": "Tolvansson",
        "care_unit": "Neurologi, Sahlgrenska",
        "mobile": MOBILE,
        "email": EMAIL,
    }
    assert profile["password_set_at"] is not None and profile["must_change_password"] is True
    assert [(r["registration_id"], r["scale"], r["answers"], r["scores"]) for r in doc["registrations"]] == [
        (full.registration_id, "EQ-5D-5L", [1, 2, 3, 1, 1, 85], EQ_SCORES),
        (full.registration_id, "MSWS-12", None, None),
    ]
    assert sorted((d["channel"], d["to"], d["status"]) for d in doc["deliveries"]) == [
        ("email", EMAIL, "sent"),
        ("sms", MOBILE, "sent"),
    ]
    assert [(c["used_at"] is not None) for c in doc["codes"]] == [True]
    assert [(s["method"], s["proxy_by"]) for s in doc["sessions"]] == [("otp", None), ("proxy", CAREGIVER)]
    assert doc["erasures"] == []
    assert doc["access_log"][:-1] == json.loads(log.stdout)  # the same extract, and the audit extract itself
    assert doc["access_log"][-1]["what"] == "tog fram ett loggutdrag om dig"
    password = world.password_in(next(m for m in world.messages() if m["channel"] == "sms"))
    hashes = [r[0] for r in world.sql("SELECT password_hash FROM patient_credential")]
    for secret in (password, *hashes, "argon2"):
        assert secret not in result.stdout
    (event,) = world.audit("patient.extract")
    assert (event["patient_id"], event["unit"], event["details"]) == (
        full.tolvan_id,
        "NEURO-SU",
        {
            "language": "sv",
            "sections": {
                "profile": 1,
                "registrations": 2,
                "deliveries": 2,
                "codes": 1,
                "sessions": 2,
                "erasures": 0,
                "access_log": len(doc["access_log"]),
            },
        },
    )


def test_the_table_is_in_the_patients_language(full: Full, per_proc: RunPer) -> None:
    swedish = per_proc("patient", "extract", TOLVAN).stdout.splitlines()
    assert swedish[0].startswith("Registerutdrag för 19121212-1212, framtaget ")
    assert "Profil och kontaktuppgifter" in swedish and "Förnamn                    Tolvan" in swedish
    assert "Registreringar, svar och poäng" in swedish and "Raderingar" in swedish and "(inga)" in swedish
    english = per_proc("patient", "extract", TOLVAN, "--language", "en").stdout.splitlines()
    assert english[0].startswith("Register extract for 19121212-1212, produced ")
    assert "Log extract: access to your data" in english and "(none)" in english
    assert any(line.startswith("First name ") and line.endswith(" Tolvan") for line in english)


def test_csv_is_one_long_table(full: Full, per_proc: RunPer) -> None:
    lines = per_proc("patient", "extract", TOLVAN, "--format", "csv").stdout.splitlines()
    assert lines[:5] == [
        "section,item,field,value",
        "extract,1,personnummer,19121212-1212",
        lines[2],
        "profile,1,first_name,Tolvan",
        "profile,1,last_name,Tolvansson",
    ]
    assert lines[2].startswith("extract,1,produced_at,")
    assert f"deliveries,1,to,{MOBILE}" in lines or f"deliveries,2,to,{MOBILE}" in lines
    assert 'registrations,1,answers,"1, 2, 3, 1, 1, 85"' in lines
    assert all(len(line.split(",")) >= 4 for line in lines)
    jsonl = [
        json.loads(line) for line in per_proc("patient", "extract", TOLVAN, "--format", "jsonl").stdout.splitlines()
    ]
    assert [r["section"] for r in jsonl[:3]] == ["profile", "registrations", "registrations"]


def test_the_workbook_is_private_has_a_sheet_per_section_and_never_a_formula(
    today: str, full: Full, per_proc: RunPer
) -> None:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    world = full.world
    assert world.per("patient", "edit-profile", TOLVAN, "--comment", '=HYPERLINK("http://x")').exit_code == 0
    target = world.tmp / "utdrag.xlsx"
    result = per_proc("patient", "extract", TOLVAN, "--format", "xlsx", "--output", str(target))
    assert (result.exit_code, result.stdout) == (0, ""), result.stderr
    assert result.stderr.startswith(f"Wrote {target}: register extract for 19121212-1212 (profile 1, registrations 2")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in world.tmp.iterdir() if p.name.startswith(".utdrag")] == []
    book = load_workbook(target)
    assert book.sheetnames == [
        "Utdrag",
        "Profil",
        "Registreringar",
        "Lösenord",
        "Engångskoder",
        "Inloggningar",
        "Raderingar",
        "Loggutdrag",
    ]
    profile = book["Profil"]
    headings = [c.value for c in profile[1]]
    assert headings[:3] == ["Förnamn", "Efternamn", "Vårdenhet"]
    comment = profile.cell(row=2, column=headings.index("Kommentar") + 1)
    assert (comment.value, comment.data_type) == ('=HYPERLINK("http://x")', "s")
    registered = profile.cell(row=2, column=headings.index("Registrerad") + 1).value
    assert registered.date().isoformat() == today
    answers = book["Registreringar"]
    assert answers.cell(row=2, column=4).value == "EQ-5D-5L"
    assert book["Raderingar"].max_row == 1  # headings only


def test_an_erased_person_gets_the_tombstone_and_the_access_log(today: str, full: Full, per_proc: RunPer) -> None:
    assert per_proc("patient", "erase", TOLVAN, "--reason", "objection", "--yes").exit_code == 0
    result = per_proc("patient", "extract", TOLVAN, "--format", "json", "--language", "en")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["profile"] is None
    assert [doc[k] for k in ("registrations", "deliveries", "codes", "sessions")] == [[], [], [], []]
    assert doc["erasures"] == [{"erased_on": today, "reason": "objection"}]
    assert doc["access_log"][-1]["what"] == "erased your data from the registry"
    assert "enrolled you in the registry" in [e["what"] for e in doc["access_log"]]
    (event,) = full.world.audit("patient.extract")
    assert (event["patient_id"], event["unit"]) == (full.tolvan_id, None)


def test_bad_input_is_one_line_and_writes_nothing(world: World, per_proc: RunPer) -> None:
    target = world.tmp / "x.xlsx"
    for args, code, message in (
        (
            ["198112289874", "--output", str(target)],
            1,
            "Error: personnummer: no patient with this personnummer is enrolled\n",
        ),
        (
            [TOLVAN, "--format", "xlsx"],
            2,
            "Error: --format xlsx writes a workbook: give --output FILE (or --output - for stdout)\n",
        ),
        ([TOLVAN, "--output", str(world.tmp)], 1, f"Error: --output: {world.tmp} is a folder; name a file\n"),
        (
            [TOLVAN, "--output", str(world.tmp / "no" / "such" / "x.json")],
            1,
            f"Error: --output: cannot write in {world.tmp / 'no' / 'such'} (No such file or directory); "
            "name a file you can write\n",
        ),
    ):
        result = per_proc("patient", "extract", *args)
        assert result.exit_code == code, result.stderr
        assert result.stderr.endswith(message) and result.stderr.count("Error") == 1
    assert not target.exists()
