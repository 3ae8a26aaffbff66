"""Hostile workbooks: a zip bomb, a text run longer than any cell, a huge whole-read part, a million empty rows."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from per_cli.errors import InvalidInput
from per_cli.spreadsheet import open_table
from per_cli.spreadsheet.limits import BOMB_FLOOR, FIELD_LIMIT, RUN_LIMIT, GuardedXml, check_cell_lengths
from tests.helpers.spreadsheets import row, xlsx_package

HEAD = row(1, '<c r="A1" t="inlineStr"><is><t>personnummer</t></is></c>')


def _cell(n: int, text: str) -> str:
    return row(n, f'<c r="A{n}" t="inlineStr"><is><t>{text}</t></is></c>')


def test_a_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = xlsx_package(tmp_path / "bomb.xlsx", {"S": HEAD})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z, z.open("xl/padding.xml", "w", force_zip64=True) as f:
        for _ in range((BOMB_FLOOR >> 20) + 1):
            f.write(b" " * (1 << 20))
    with pytest.raises(InvalidInput, match=r"padding\.xml would unpack to 65 MiB .*zip bomb"), open_table(str(path)):
        pass


def test_a_text_run_longer_than_any_cell_is_refused_with_little_memory(tmp_path: Path) -> None:
    path = xlsx_package(tmp_path / "long.xlsx", {"S": HEAD + _cell(2, "x" * (RUN_LIMIT + 10))})
    with pytest.raises(InvalidInput, match=f"more than {FIELD_LIMIT} characters"), open_table(str(path)) as table:
        list(table.rows())


def test_a_cell_over_the_field_limit_is_read_and_its_row_refused(tmp_path: Path) -> None:
    path = xlsx_package(tmp_path / "cell.xlsx", {"S": HEAD + _cell(2, "y" * (FIELD_LIMIT + 1)) + _cell(3, "ok")})
    with open_table(str(path)) as table:
        rows = list(table.rows())
    assert [line for line, _ in rows] == [2, 3]
    with pytest.raises(InvalidInput, match="more than the CSV field limit"):
        check_cell_lengths(rows[0][1])
    check_cell_lengths(rows[1][1])


def test_empty_rows_are_skipped_before_the_parser(tmp_path: Path) -> None:
    empty = "".join(f'<row r="{n}" spans="1:3"/>' for n in range(2, 200_002))
    path = xlsx_package(tmp_path / "empty.xlsx", {"S": HEAD + empty + _cell(200_002, "sist")})
    with open_table(str(path)) as table:
        assert list(table.rows()) == [(200_002, ["sist"])]


def test_the_guard_never_splits_a_tag_and_returns_empty_only_at_the_end() -> None:
    data = b"<a>" + b"<row r='1'/>" * 10_000 + b"<b x='" + b"y" * 70_000 + b"'/></a>"
    guarded = GuardedXml(io.BytesIO(data), "t", drop_empty_rows=True)
    out = b"".join(iter(lambda: guarded.read(16384), b""))
    assert out == b"<a><b x='" + b"y" * 70_000 + b"'/></a>"
