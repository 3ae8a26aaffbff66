"""The one spreadsheet writer: formulas from data are neutralised, numbers and dates per made stay as they are."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl  # type: ignore[import-untyped]
import pytest

from per_cli.cli.output import render
from per_cli.spreadsheet.cells import CsvWriter, Typed, excel_cell, neutralise, restore, text_cell

HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\t=1", "\r=1", "=1+1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_starts_get_a_quote_and_read_back_unchanged(value: str) -> None:
    assert neutralise(value) == "'" + value
    assert restore(neutralise(value)) == value


@pytest.mark.parametrize("value", ["Åsa", "'quoted", "", "a=b", "+46701740606", "-1.5", "12"])
def test_harmless_text_is_unchanged(value: str) -> None:
    assert neutralise(value) == value
    assert restore(value) == value


def test_typed_values_are_never_neutralised() -> None:
    assert text_cell(-3) == "-3"
    assert text_cell(-1.5) == "-1.5"
    assert text_cell(Decimal("-2")) == "-2"
    assert text_cell(date(2026, 1, 2)) == "2026-01-02"
    assert text_cell(Typed("-7")) == "-7"
    assert text_cell("-7 dagar") == "'-7 dagar"
    assert text_cell(None) == ""


def test_csv_writer_neutralises_every_cell() -> None:
    buf = io.StringIO()
    CsvWriter(buf).writerow([*HOSTILE, -4])
    assert next(csv.reader(io.StringIO(buf.getvalue(), newline=""))) == [*("'" + v for v in HOSTILE), "-4"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_render_neutralises_text_but_not_numbers_dates_or_json(fmt: str) -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    records = [{"comment": "=1+1", "score": -3, "on": date(2026, 3, 1), "at": at, "pal": "@x"}]
    rows = list(csv.reader(io.StringIO(render(records, fmt)), delimiter="," if fmt == "csv" else "\t"))
    assert rows[1][:3] == ["'=1+1", "-3", "2026-03-01"]
    assert rows[1][4] == "'@x"
    assert '"=1+1"' in render(records, "json")  # JSON stays exact


def test_excel_cells_are_text_never_formulas() -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("s")
    sheet.append([excel_cell(sheet, v) for v in ["=1+1", 5, date(2026, 1, 1)]])
    buf = io.BytesIO()
    book.save(buf)
    buf.seek(0)
    ws = openpyxl.load_workbook(buf).active
    cells = next(ws.iter_rows())
    assert [c.value for c in cells][:2] == ["=1+1", 5]
    assert cells[0].data_type == "s" and cells[1].data_type == "n"
