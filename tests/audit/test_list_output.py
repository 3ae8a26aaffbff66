"""`per audit list` streams newest first and still honours --output, --excel and --format xlsx, as every listing."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from per_cli.audit.events import Event
from tests.helpers.audit import count, frozen_clock, write
from tests.helpers.per import RunPer

UTC_ENV = {"TZ": "UTC"}
DENIED = ("--outcome", "denied")  # the test's own events: the listings' audit.list events are ok


@pytest.fixture
def two(engine: Engine, actor: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two refused events, the newer one with an action a spreadsheet would run as a formula."""
    events = [
        Event(actor=actor, action="login.otp", outcome="denied", details={"reason": "wrong_code"}),
        Event(actor=actor, action="=1+1", outcome="denied", details={"reason": "wrong_password"}),
    ]
    with frozen_clock(monkeypatch, datetime(2026, 11, 30, 8, tzinfo=UTC), datetime(2026, 11, 30, 9, tzinfo=UTC)):
        write(engine, events)
    return actor


def test_excel_is_bom_semicolons_crlf_and_neutralised(per_proc: RunPer, two: str, tmp_path: Path) -> None:
    target = tmp_path / "logg.csv"
    result = per_proc("audit", "list", *DENIED, "--excel", "--output", str(target), extra_env=UTC_ENV)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert target.read_bytes().decode("utf-8") == (
        "\ufeffid;at;actor;action;personnummer;unit;outcome;details\r\n"
        f"2;2026-11-30 09:00:00;{two};'=1+1;;;denied;reason=wrong_password\r\n"
        f"1;2026-11-30 08:00:00;{two};login.otp;;;denied;reason=wrong_code\r\n"
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*"))  # no temporary file left


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "plain", "table"])
def test_output_file_holds_what_stdout_would(per_proc: RunPer, two: str, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"logg.{fmt}"
    to_file = per_proc("audit", "list", *DENIED, "--format", fmt, "--output", str(target), extra_env=UTC_ENV)
    assert (to_file.exit_code, to_file.stdout) == (0, "")
    printed = per_proc("audit", "list", *DENIED, "--format", fmt, extra_env=UTC_ENV)
    assert printed.exit_code == 0
    assert target.read_text(encoding="utf-8") == printed.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    if fmt == "json":
        assert [e["id"] for e in json.loads(printed.stdout)] == [2, 1]


def test_a_workbook(per_proc: RunPer, two: str, tmp_path: Path) -> None:
    import openpyxl  # type: ignore[import-untyped]

    target = tmp_path / "logg.xlsx"
    result = per_proc("audit", "list", *DENIED, "--format", "xlsx", "--output", str(target), extra_env=UTC_ENV)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    rows = list(openpyxl.load_workbook(target).active.iter_rows())
    assert [c.value for c in rows[0]] == ["id", "at", "actor", "action", "personnummer", "unit", "outcome", "details"]
    assert [r[0].value for r in rows[1:]] == [2, 1]
    assert rows[1][1].value == datetime(2026, 11, 30, 9)
    assert (rows[1][3].value, rows[1][3].data_type) == ("=1+1", "s")  # a text cell, never a formula
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    no_file = per_proc("audit", "list", "--format", "xlsx")
    assert (no_file.exit_code, no_file.stderr.splitlines()[-1]) == (
        2,
        "Error: --format xlsx writes a workbook: add --output FILE",
    )


def test_many_events_stream_into_one_file_with_one_header(per_proc: RunPer, engine: Engine, tmp_path: Path) -> None:
    events = [Event(actor="x", action="patient.show", outcome="denied") for _ in range(1203)]
    write(engine, events, per_transaction=1203)
    target = tmp_path / "alla.csv"
    result = per_proc("audit", "list", *DENIED, "--all", "--excel", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    data = target.read_bytes()
    lines = data.split(b"\r\n")
    assert lines[0] == b"\xef\xbb\xbfid;at;actor;action;personnummer;unit;outcome;details"
    assert lines[-1] == b"" and len(lines) == 1203 + 2
    assert data.count(b"\xef\xbb\xbf") == 1 and data.count(b"id;at;") == 1
    assert [int(line.split(b";")[0]) for line in lines[1:-1]] == list(range(1203, 0, -1))


def test_an_unwritable_output_is_one_line_and_the_reading_is_not_logged(
    per_proc: RunPer, two: str, engine: Engine, tmp_path: Path
) -> None:
    before = count(engine)
    result = per_proc("audit", "list", "--excel", "--output", str(tmp_path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: --output: {tmp_path} is a folder; name a file\n",
    )
    assert count(engine) == before
