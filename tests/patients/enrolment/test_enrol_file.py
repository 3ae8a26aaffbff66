"""`per patient enrol --file` on the files registry staff actually have, on both backends."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from per_cli.db.engine import make_engine
from per_cli.identity.phone import TOO_SHORT
from tests.helpers.enrolment_rows import write_csv
from tests.helpers.per import PER, RunPer

SWEDISH_EXPORT = (
    "Personnummer;Förnamn;Efternamn;Mobiltelefon;E-post;Enhet;Kommentar\r\n"
    "19121212-1212;Tolvan;Tolvansson;070-174 06 05;tolvan@tolv.se;NEURO-SU;\r\n"
    '197010632391;Åsa;Öberg;;;NEURO-SU;"Samordningsnummer; ny"\r\n'
    "811228-9874;Märta;Ängström;+46701740699;marta@example.se;;\r\n"
)


def _rows(db_url: str, query: str) -> list[tuple[object, ...]]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(query))]
    engine.dispose()
    return rows


def _count(db_url: str, table: str, where: str = "") -> int:
    (count,) = _rows(db_url, f"SELECT count(*) FROM {table} {where}")[0]
    assert isinstance(count, int)
    return count


def test_a_swedish_excel_export_enrols_with_no_options(per: RunPer, unit: str, tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "patienter.csv"
    path.write_bytes(SWEDISH_EXPORT.encode("cp1252"))
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "read": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "differs": 0,
        "rejected": 0,
        "dry_run": False,
        "warnings": 0,
        "rejects_file": None,
        "rejects": [],
        "row_warnings": [],
        "differences": [],
    }
    assert _rows(
        db_url, "SELECT personnummer, first_name, last_name, mobile, comment FROM patient ORDER BY personnummer"
    ) == [
        ("191212121212", "Tolvan", "Tolvansson", "+46701740605", None),
        ("197010632391", "Åsa", "Öberg", None, "Samordningsnummer; ny"),
        ("198112289874", "Märta", "Ängström", "+46701740699", None),
    ]
    # each event names its own patient, unit and line (rows are written in personnummer order, not file order)
    assert _rows(
        db_url,
        "SELECT p.personnummer, e.unit_code, e.details FROM audit_event e JOIN patient p ON p.id = e.patient_id "
        "WHERE e.action = 'patient.enrol' ORDER BY e.id",
    ) == [
        ("191212121212", unit, '{"line":2,"source":"file"}'),
        ("197010632391", unit, '{"line":3,"source":"file"}'),
        ("198112289874", unit, '{"line":4,"source":"file"}'),
    ]
    assert _count(db_url, "audit_event", "WHERE action = 'patient.enrol'") == 3


def test_summary_table_is_exact(per: RunPer, unit: str, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(SWEDISH_EXPORT.encode("cp1252"))
    result = per("patient", "enrol", "--file", str(path), "--unit", unit)
    assert result.stdout == (
        "  read    created    updated    unchanged    differs    rejected\n"
        "------  ---------  ---------  -----------  ---------  ----------\n"
        "     3          3          0            0          0           0\n"
    )


def test_xlsx_with_english_headers_and_a_named_sheet(per: RunPer, unit: str, tmp_path: Path, db_url: str) -> None:
    import openpyxl  # type: ignore[import-untyped]

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing here"])
    sheet = book.create_sheet("Patients")
    sheet.append(["Personnummer", "First name", "Last name", "Mobile", "Unit", "Registered on"])
    sheet.append([191212121212, "Tolvan", "Tolvansson", 46701740605, "NEURO-SU", "2012-05-07"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    result = per("patient", "enrol", "--file", str(path), "--sheet", "Patients", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 1
    assert _rows(db_url, "SELECT personnummer, mobile FROM patient") == [("191212121212", "+46701740605")]


def test_stdin(per: RunPer, unit: str) -> None:
    text = "personnummer,first_name,last_name\n19121212-1212,Tolvan,Tolvansson\n"
    result = per("patient", "enrol", "--file", "-", "--unit", unit, "--format", "json", input=text)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 1


def test_unknown_columns_are_refused_unless_ignored(per: RunPer, unit: str, tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text("personnummer;förnamn;efternamn;skostorlek\n191212121212;Tolvan;Tolvansson;43\n")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --file: unknown column(s) 'skostorlek'; known: personnummer, förnamn/first_name, efternamn/last_name, "
        "mobiltelefon/mobile, e-post/email, enhet/unit, registreringsdatum/registered_on, pal, kommentar/comment; "
        "use --ignore-unknown-columns to skip them\n"
    )
    assert _count(db_url, "patient") == 0
    ok = per("patient", "enrol", "--file", str(path), "--unit", unit, "--ignore-unknown-columns")
    assert ok.exit_code == 0, ok.stderr


def test_bad_rows_are_rejected_into_the_rejects_file_and_exit_3(
    per: RunPer, unit: str, tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        (
            "Personnummer;Förnamn;Efternamn;Mobiltelefon;E-post\r\n"
            "19121212-1212;Tolvan;Tolvansson;;\r\n"
            "19121212-1213;Åke;Fel;;\r\n"
            "1,91212E+11;Excel;Förstört;;\r\n"
            "197010632391;Sam;Ordning;+4670174060;\r\n"
            "811228-9874;Märta;Ängström;;tolvan@\r\n"
            "121212+1212;Tolvan;Igen;;\r\n"
        ).encode("cp1252")
    )
    rejects = tmp_path / "avvisade.csv"
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--rejects", str(rejects), "--format", "json")
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["created"], summary["rejected"]) == (6, 1, 5)
    assert result.stderr.splitlines()[-1] == "Error: 5 of 6 rows were rejected"
    import io

    written = list(csv.reader(io.StringIO(rejects.read_bytes().decode("cp1252")), delimiter=";"))
    assert written[0] == ["Personnummer", "Förnamn", "Efternamn", "Mobiltelefon", "E-post", "line", "reason"]
    assert [row[5] for row in written[1:]] == ["3", "4", "5", "6", "7"]
    assert written[1][:3] == ["19121212-1213", "Åke", "Fel"]
    reasons = [row[6] for row in written[1:]]
    assert reasons[0] == "personnummer: check digit is wrong"
    assert reasons[1].startswith("personnummer: looks like a number mangled by a spreadsheet")
    assert reasons[2] == f"mobile: {TOO_SHORT}"
    assert reasons[3].startswith("email: ")
    assert reasons[4] == "personnummer: the same person as on line 2"
    assert _count(db_url, "patient") == 1


def test_dry_run_validates_everything_and_changes_nothing(per: RunPer, unit: str, tmp_path: Path, db_url: str) -> None:
    path = write_csv(tmp_path / "p.csv", 50)
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert (json.loads(result.stdout)["created"], json.loads(result.stdout)["dry_run"]) == (50, True)
    assert _count(db_url, "patient") == 0
    assert _count(db_url, "audit_event") == 0


def test_rerun_changes_nothing_and_on_existing_policies(per: RunPer, unit: str, tmp_path: Path, db_url: str) -> None:
    path = write_csv(tmp_path / "p.csv", 30)
    assert per("patient", "enrol", "--file", str(path), "--unit", unit).exit_code == 0
    events = _count(db_url, "audit_event")
    again = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    assert json.loads(again.stdout)["unchanged"] == 30 and json.loads(again.stdout)["created"] == 0
    assert _count(db_url, "audit_event") == events
    lines = path.read_text().splitlines()
    first = lines[1].split(";")
    first[1] = "Ändrad"
    lines[1] = ";".join(first)
    path.write_text("\n".join(lines) + "\n")
    skip = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    assert (json.loads(skip.stdout)["unchanged"], json.loads(skip.stdout)["differs"]) == (29, 1)
    update = per("patient", "enrol", "--file", str(path), "--unit", unit, "--on-existing", "update", "--format", "json")
    assert (json.loads(update.stdout)["updated"], json.loads(update.stdout)["unchanged"]) == (1, 29)
    pnr = first[0].replace("-", "")
    assert _rows(db_url, f"SELECT first_name FROM patient WHERE personnummer = '{pnr}'") == [("Ändrad",)]
    assert _rows(
        db_url,
        "SELECT p.personnummer, e.unit_code, e.details FROM audit_event e JOIN patient p ON p.id = e.patient_id "
        "WHERE e.action = 'patient.update'",
    ) == [(pnr, unit, '{"changed":["first_name"],"line":2,"source":"file"}')]
    fail = per("patient", "enrol", "--file", str(path), "--unit", unit, "--on-existing", "fail", "--format", "json")
    assert fail.exit_code == 3 and json.loads(fail.stdout)["rejected"] == 30


def test_same_person_twice_in_any_form_is_one_patient_and_one_duplicate(
    per: RunPer, unit: str, tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "personnummer,förnamn,efternamn\n121212+1212,Tolvan,Tolvansson\n19121212-1212,Tolvan,T\n"
        "8112289874,Märta,Ängström\n19811228-9874,Märta,Ä\n"
    )
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    assert result.exit_code == 3
    assert (json.loads(result.stdout)["created"], json.loads(result.stdout)["rejected"]) == (2, 2)
    assert "line 3: personnummer: the same person as on line 2" in result.stderr
    assert "line 5: personnummer: the same person as on line 4" in result.stderr
    assert _count(db_url, "patient") == 2


def test_unit_problems(per: RunPer, unit: str, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("personnummer,förnamn,efternamn\n191212121212,Tolvan,Tolvansson\n")
    no_unit = per("patient", "enrol", "--file", str(path))
    assert no_unit.stderr == "Error: --file: has no unit column (enhet/unit); give --unit CODE for its rows\n"
    unknown = per("patient", "enrol", "--file", str(path), "--unit", "NOPE")
    assert unknown.stderr == "Error: --unit: no care unit NOPE; see `per unit list`\n"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _assert_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]
        time.sleep(0.1)
    assert alive == [], f"processes outlived the killed run: {alive}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _settled_state(db_url: str) -> list[tuple[object, ...]]:
    return _rows(db_url, "SELECT personnummer, first_name, last_name, mobile, email FROM patient ORDER BY personnummer")


def test_killed_runs_leave_a_consistent_database_and_a_rerun_finishes(
    unit: str, tmp_path: Path, db_url: str, env: dict[str, str]
) -> None:
    """SIGKILL at several moments; after each, every patient has its audit event; a re-run completes the job."""
    Path(env["PER_CONFIG"]).write_text("[enrolment]\nchunk_size = 500\n")
    path = write_csv(tmp_path / "p.csv", 6000)
    full_env = {**os.environ, **env}
    cmd = [PER, "patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json"]
    rng = random.Random(7)
    kills = 0
    for _ in range(3):
        before = _count(db_url, "patient")
        proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # kill soon after its first chunk lands: a run left to finish would leave the next runs nothing to write
        while proc.poll() is None and _count(db_url, "patient") == before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))
        if proc.poll() is None:
            children = _children(proc.pid)
            proc.send_signal(signal.SIGKILL)
            kills += 1
            proc.wait()
            _assert_gone(children)  # validation workers die with the run: no orphan holds a connection
        proc.wait()
        assert _count(db_url, "patient") == _count(db_url, "audit_event", "WHERE action = 'patient.enrol'")
    final = subprocess.run(cmd, env=full_env, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    assert _count(db_url, "patient") == 6000
    assert _count(db_url, "audit_event", "WHERE action = 'patient.enrol'") == 6000
    _assert_events_name_their_rows(db_url, path)
    verified = subprocess.run([PER, "audit", "verify"], env=full_env, capture_output=True, text=True, check=False)
    assert (verified.returncode, verified.stdout) == (0, "ok: 6000 events, chain intact\n")
    reference = tmp_path / "reference.db"
    reference.touch(mode=0o600)
    ref_env = {**full_env, "PER_DATABASE_URL": f"sqlite:///{reference}"}
    subprocess.run([PER, "unit", "add", unit, "--name", "x"], env=ref_env, check=True, capture_output=True)
    subprocess.run(cmd, env=ref_env, check=True, capture_output=True)
    assert _settled_state(db_url) == _settled_state(f"sqlite:///{reference}")
    assert kills >= 1, "the runs all finished before a kill: make the file larger"


def _assert_events_name_their_rows(db_url: str, path: Path) -> None:
    """Every enrolled patient has one enrol event, and its line in the file holds that patient's number."""
    with path.open(encoding="utf-8", newline="") as fh:
        by_line = {
            line: row["personnummer"].replace("-", "") for line, row in enumerate(csv.DictReader(fh, delimiter=";"), 2)
        }
    events = _rows(
        db_url,
        "SELECT p.personnummer, e.details FROM patient p JOIN audit_event e ON e.patient_id = p.id "
        "WHERE e.action = 'patient.enrol'",
    )
    assert len(events) == _count(db_url, "patient") == len({pnr for pnr, _ in events})
    assert all(by_line[json.loads(str(details))["line"]] == pnr for pnr, details in events)


def test_two_overlapping_runs_at_once_create_each_patient_once(
    unit: str, tmp_path: Path, db_url: str, env: dict[str, str]
) -> None:
    Path(env["PER_CONFIG"]).write_text("[enrolment]\nchunk_size = 300\n")
    all_rows = write_csv(tmp_path / "all.csv", 4000).read_text().splitlines()
    header, body = all_rows[0], all_rows[1:]
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    first.write_text("\n".join([header, *body[:3000]]) + "\n")
    second.write_text("\n".join([header, *reversed(body[1000:])]) + "\n")
    full_env = {**os.environ, **env}
    procs = [
        subprocess.Popen(
            [PER, "patient", "enrol", "--file", str(p), "--unit", unit, "--format", "json"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in (first, second)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    created = sum(json.loads(out)["created"] for out, _ in outs)
    assert created == 4000
    assert _count(db_url, "patient") == 4000
    assert _rows(
        db_url,
        "SELECT count(*) FROM (SELECT patient_id FROM audit_event WHERE action = 'patient.enrol' "
        "GROUP BY patient_id HAVING count(*) > 1) AS dup",
    ) == [(0,)]


@pytest.mark.parametrize("tty", [True, False])
def test_progress_only_on_a_terminal(unit: str, tmp_path: Path, env: dict[str, str], tty: bool) -> None:
    Path(env["PER_CONFIG"]).write_text("[enrolment]\nchunk_size = 100\n")
    path = write_csv(tmp_path / "p.csv", 300)
    cmd = [PER, "patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json"]
    if not tty:
        proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True)
        assert proc.stderr == ""
        return
    import pty

    primary, secondary = pty.openpty()
    proc2 = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc2.wait()
    os.close(primary)
    assert b"enrolling: " in b"".join(chunks)
