"""Output for Swedish Excel: ``--format xlsx --output FILE`` wherever CSV is offered, ``--excel``
for CSV (UTF-8 with BOM, ``;``), and a header row on empty CSV/TSV output."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import click
import pytest

from per_cli.cli import cli
from tests.helpers.per import TOLVAN, RunPer, enrol_args


def _commands(command: click.Command = cli, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _commands(sub, (*path, name))
    return found


#: commands whose ``--output`` is their own document: a signed checkpoint (JSON), the review sample (CSV for Excel)
OWN_OUTPUT = {("audit", "checkpoint"), ("audit", "review")}


def test_every_command_that_offers_csv_offers_xlsx_and_an_output_file() -> None:
    offering = 0
    for path, command in _commands():
        params = {p.name: p for p in command.params}
        fmt = params.get("fmt")
        if fmt is None or not isinstance(fmt.type, click.Choice) or "csv" not in fmt.type.choices:
            continue
        offering += 1
        if path not in OWN_OUTPUT:
            assert "xlsx" in fmt.type.choices, path
        assert any("--output" in p.opts for p in command.params if isinstance(p, click.Option)), path
    assert offering > 30


@pytest.fixture
def tricky(per: RunPer, unit: str) -> str:
    """Tolvan with a comment a spreadsheet would run as a formula, and Swedish letters."""
    result = per(*enrol_args(TOLVAN, "--comment", '=HYPERLINK("http://x")', "--pal", "Åsa Öberg"))
    assert result.exit_code == 0, result.stderr
    return TOLVAN


def test_a_workbook_with_text_cells_written_privately(per: RunPer, tricky: str, tmp_path: Path) -> None:
    import openpyxl  # type: ignore[import-untyped]

    target = tmp_path / "patienter.xlsx"
    result = per("patient", "list", "--format", "xlsx", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    sheet = openpyxl.load_workbook(target).active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    assert header[:3] == ["personnummer", "first_name", "last_name"]
    record = {h: c for h, c in zip(header, rows[1], strict=True)}
    assert record["personnummer"].value == "19121212-1212"
    assert record["pal"].value == "Åsa Öberg"
    assert record["comment"].value == '=HYPERLINK("http://x")' and record["comment"].data_type == "s"
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_csv_for_swedish_excel(per: RunPer, tricky: str, tmp_path: Path) -> None:
    for args in (["--excel"], ["--format", "csv", "--excel"]):
        result = per("patient", "list", *args)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("\ufeffpersonnummer;first_name;last_name;")
        assert ";Åsa Öberg;" in result.stdout
        assert "'=HYPERLINK" in result.stdout  # neutralised, as every CSV per writes
    target = tmp_path / "p.csv"
    assert per("patient", "list", "--excel", "--output", str(target)).exit_code == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbfpersonnummer;")


def test_any_format_to_a_file(per: RunPer, tricky: str, tmp_path: Path) -> None:
    target = tmp_path / "p.json"
    result = per("patient", "list", "--format", "json", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert [p["personnummer"] for p in json.loads(target.read_text(encoding="utf-8"))] == ["19121212-1212"]
    assert per("unit", "list", "--format", "csv", "--output", "-").stdout.startswith("code,name,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], "Error: --format xlsx writes a workbook: add --output FILE"),
        (["--format", "json", "--excel"], "Error: --excel is CSV for Excel; it does not go with --format json"),
    ],
)
def test_bad_combinations_are_usage_errors(per: RunPer, unit: str, args: list[str], message: str) -> None:
    result = per("unit", "list", *args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message
    assert result.stdout == ""


def test_a_folder_as_output_is_one_line(per: RunPer, unit: str, tmp_path: Path) -> None:
    result = per("unit", "list", "--format", "xlsx", "--output", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"Error: --output: {tmp_path} is a folder; name a file"]


@pytest.mark.parametrize(
    ("command", "first"),
    [
        (["patient", "list", "--search", "ingen"], "personnummer"),
        (["unit", "list"], "code"),
        (["caregiver", "list"], "username"),
        (["session", "list", "--all"], "id"),
    ],
)
def test_empty_csv_and_tsv_have_their_header_row(per: RunPer, unit: str, command: list[str], first: str) -> None:
    if command[0] == "unit":
        command = ["unit", "list"]
    for fmt, sep in (("csv", ","), ("tsv", "\t")):
        result = per(*command, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        if command[0] == "unit":
            lines = lines[:1]  # the unit fixture's unit is there
        assert len(lines) == 1 and lines[0].startswith(first + sep), result.stdout
