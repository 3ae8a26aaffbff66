"""What a bulk enrolment reports: every reject and warning in JSON, rejects in the order of
the file, rows that differ from the register, the progress line on a terminal, and Ctrl-C."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from per_cli.cli.progress import Progress, duration
from per_cli.spreadsheet.sources import open_table
from tests.helpers.enrolment_rows import write_csv
from tests.helpers.per import PER, RunPer

HEADER = "personnummer;förnamn;efternamn;mobiltelefon\n"


def _small_chunks(env: dict[str, str], size: int) -> None:
    Path(env["PER_CONFIG"]).write_text(f"[enrolment]\nchunk_size = {size}\n")


def test_json_lists_every_reject_and_warning_in_the_order_of_the_file(
    per: RunPer, unit: str, env: dict[str, str], tmp_path: Path
) -> None:
    _small_chunks(env, 3)  # rejects of the register (line 3, 6) come after screening (2, 5) within a chunk
    assert (
        per("patient", "enrol", "191212121212", "--first-name", "T", "--last-name", "T", "--unit", unit).exit_code == 0
    )
    assert (
        per("patient", "enrol", "198112289874", "--first-name", "M", "--last-name", "Ä", "--unit", unit).exit_code == 0
    )
    path = tmp_path / "p.csv"
    path.write_text(
        HEADER
        + "19121212-1213;Fel;Siffra;\n"  # 2: check digit
        + "19121212-1212;Tolvan;Tolvansson;\n"  # 3: enrolled (--on-existing fail)
        + "19700101-1233;Åsa;Öberg;031-123 45 67\n"  # 4: a landline: a warning, enrolled
        + "19121212;Kort;Nummer;\n"  # 5: too short
        + "19811228-9874;Märta;Ängström;\n"  # 6: enrolled
        + "20000101-0008;;Utan förnamn;\n",  # 7: no first name
        encoding="utf-8",
    )
    rejects = tmp_path / "avvisade.csv"
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--on-existing", "fail",
                 "--rejects", str(rejects), "--format", "json")  # fmt: skip
    assert result.exit_code == 3, result.stderr
    report = json.loads(result.stdout)
    assert [r["line"] for r in report["rejects"]] == [2, 3, 5, 6, 7]
    assert all(r["reason"] for r in report["rejects"]) and "already enrolled" in report["rejects"][1]["reason"]
    assert report["rejected"] == 5 and report["created"] == 1
    assert [w["line"] for w in report["row_warnings"]] == [4] and report["warnings"] == 1
    said = [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("line ")]
    assert said == ["line 2", "line 3", "line 5", "line 6", "line 7"]
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        lines = [row[-2] for row in csv.reader(fh, delimiter=";")][1:]
    assert lines == ["2", "3", "5", "6", "7"]


def test_more_rejects_than_shown_are_all_in_json(per: RunPer, unit: str, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "".join(f"1912121{n:02d}-1212;X;Y;\n" for n in range(30)), encoding="utf-8")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    assert result.exit_code == 3
    assert [r["line"] for r in json.loads(result.stdout)["rejects"]] == list(range(2, 32))
    assert "… and 10 more rejected rows (use --rejects FILE to get them all)" in result.stderr


def test_rows_that_differ_are_reported_not_counted_unchanged(per: RunPer, unit: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", 5)
    assert per("patient", "enrol", "--file", str(path), "--unit", unit).exit_code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[2].split(";")
    cells[1], cells[3] = "Ändrad", "070-999 99 99"
    lines[2] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    skip = per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json")
    report = json.loads(skip.stdout)
    assert (report["unchanged"], report["differs"], report["updated"]) == (4, 1, 0)
    assert report["differences"] == [{"line": 3, "outcome": "differs", "fields": ["first_name", "mobile"]}]
    assert "line 3: differs from the register in first_name, mobile; kept (--on-existing update)" in skip.stderr
    assert "Ändrad" not in skip.stderr and "999" not in skip.stderr  # field names, never the data

    table = per("patient", "enrol", "--file", str(path), "--unit", unit)
    assert table.stdout.splitlines()[0].split() == ["read", "created", "updated", "unchanged", "differs", "rejected"]
    assert table.stdout.splitlines()[2].split() == ["5", "0", "0", "4", "1", "0"]

    dry = per("patient", "enrol", "--file", str(path), "--unit", unit, "--on-existing", "update", "--dry-run")
    assert "line 3: would update first_name, mobile" in dry.stderr
    update = per("patient", "enrol", "--file", str(path), "--unit", unit, "--on-existing", "update",
                 "--format", "json")  # fmt: skip
    report = json.loads(update.stdout)
    assert (report["updated"], report["differs"]) == (1, 0)
    assert report["differences"] == [{"line": 3, "outcome": "updated", "fields": ["first_name", "mobile"]}]
    assert "line 3: updated first_name, mobile" in update.stderr
    again = json.loads(per("patient", "enrol", "--file", str(path), "--unit", unit, "--format", "json").stdout)
    assert (again["unchanged"], again["differs"]) == (5, 0)


# --- progress ---


def test_the_pace_has_percentage_rate_and_time_left() -> None:
    now = [100.0]
    progress = Progress("enrolling", stream=io.StringIO(), enabled=True, clock=lambda: now[0])
    now[0] = 110.0
    assert progress.pace(20_000, 0.25) == "25%, 2,000 rows/s, about 30 s left"
    assert progress.pace(20_000, None) == "2,000 rows/s"
    assert (duration(59.4), duration(200), duration(3 * 3600 + 5 * 60)) == ("59 s", "3 min 20 s", "3 h 05 min")


def test_the_number_of_rows_is_known_before_reading(tmp_path: Path) -> None:
    import openpyxl  # type: ignore[import-untyped]

    text = write_csv(tmp_path / "p.csv", 40)
    with open_table(str(text)) as table:
        assert table.last_line() == 41
        assert sum(1 for _ in table.rows()) == 40  # counting did not disturb reading
    book = openpyxl.Workbook()
    book.active.append(["personnummer", "förnamn", "efternamn"])
    for n in range(25):
        book.active.append([f"19121212{n:04d}", "A", "B"])
    book.save(tmp_path / "p.xlsx")
    with open_table(str(tmp_path / "p.xlsx")) as table:
        assert table.last_line() == 26


def test_the_progress_line_on_a_terminal(env: dict[str, str], unit: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", 30)
    _small_chunks(env, 10)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [PER, "patient", "enrol", "--file", str(path), "--unit", unit],
            stderr=follower,
            stdout=subprocess.PIPE,
            env={**os.environ, **env},
            timeout=120,
            check=False,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0
    text = drawn.decode()
    assert "enrolling: 10 of ~30 rows, 10 created, 0 rejected, 33%, " in text
    assert "rows/s, about " in text and " left" in text


# --- Ctrl-C ---


def test_ctrl_c_exits_130_saying_what_was_written_and_a_rerun_finishes(tmp_path: Path, env: dict[str, str]) -> None:
    if not env["PER_DATABASE_URL"].startswith("sqlite"):
        pytest.skip("one backend is enough for a signal test; the chunks are the same on both")
    total = 20_000
    path = write_csv(tmp_path / "p.csv", total)
    _small_chunks(env, 50)
    args = [PER, "patient", "enrol", "--file", str(path), "--unit", "NEURO-SU", "--format", "json"]
    for attempt in range(3):  # a loaded machine may let the whole run finish before the signal: a new database
        database = str(tmp_path / f"try{attempt}.db")
        full = {**os.environ, **env, "PER_DATABASE_URL": f"sqlite:///{database}"}
        for setup in (["db", "upgrade"], ["unit", "add", "NEURO-SU", "--name", "N"]):
            assert subprocess.run([PER, *setup], env=full, capture_output=True, check=False).returncode == 0
        proc = subprocess.Popen(args, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while proc.poll() is None and _patients(database) == 0:
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        written = _patients(database)
        if written < total:
            break
    assert 0 < written < total, "the run ended before it could be interrupted, three times; make the file larger"
    assert proc.returncode == 130, err
    assert out == "" and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: interrupted: ") and last.endswith(" rows written; re-run the same command to finish")
    said = int(last.removeprefix("Error: interrupted: ").split()[0].replace(",", ""))
    assert said <= written and written % 50 == 0  # whole chunks
    rerun = subprocess.run(args, env=full, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert (report["created"], report["unchanged"]) == (total - written, written)
    assert _patients(database) == total


def _patients(database: str) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM patient").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
