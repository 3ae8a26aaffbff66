"""The rejects file: same columns plus line and reason, same format family, fed back without options."""

from __future__ import annotations

import codecs
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from per_cli.errors import InvalidInput
from per_cli.spreadsheet import RejectsWriter, map_headers, open_table
from tests.helpers.spreadsheets import SWEDISH_HEADER, SWEDISH_ROWS, swedish_excel_csv


def reject_all(source: Path, target: Path, reason: str = "ogiltigt personnummer: fel kontrollsiffra") -> None:
    with open_table(str(source)) as table, RejectsWriter.for_table(str(target), table) as rejects:
        for line, values in table.rows():
            rejects.write(line, values, reason)
        assert rejects.count == len(SWEDISH_ROWS)


def test_swedish_export_round_trip(tmp_path: Path) -> None:
    source = swedish_excel_csv(tmp_path / "export.csv")
    target = tmp_path / "rejects.csv"
    reject_all(source, target)
    raw = target.read_bytes()
    assert raw.startswith("Personnummer;Förnamn".encode("cp1252"))  # same encoding and delimiter
    assert b"\r\n" in raw
    with open_table(str(target)) as table:
        assert (table.encoding, table.delimiter) == ("cp1252", ";")
        assert table.columns == [*SWEDISH_HEADER, "line", "reason"]
        assert list(table.rows()) == [
            (2, [*SWEDISH_ROWS[0], "2", "ogiltigt personnummer: fel kontrollsiffra"]),
            (3, [*SWEDISH_ROWS[1], "3", "ogiltigt personnummer: fel kontrollsiffra"]),
        ]
        map_headers(table.columns, ignore_unknown=False)  # fed back: line/reason are not "unknown"


def test_fed_back_rejects_replace_line_and_reason(tmp_path: Path) -> None:
    first = tmp_path / "rejects.csv"
    reject_all(swedish_excel_csv(tmp_path / "export.csv"), first)
    second = tmp_path / "rejects2.csv"
    reject_all(first, second, "ny orsak")
    with open_table(str(second)) as table:
        assert table.columns == [*SWEDISH_HEADER, "line", "reason"]
        assert [values[-2:] for _, values in table.rows()] == [["2", "ny orsak"], ["3", "ny orsak"]]


def test_utf8_bom_input_keeps_bom_and_unencodable_reason_is_replaced(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(codecs.BOM_UTF8 + "pnr,namn\n1,Åsa\n".encode())
    target = tmp_path / "rej.csv"
    with open_table(str(source)) as table, RejectsWriter.for_table(str(target), table) as rejects:
        for line, values in table.rows():
            rejects.write(line, values, "fel → rätta")
    assert target.read_bytes() == codecs.BOM_UTF8 + "pnr,namn,line,reason\r\n1,Åsa,2,fel → rätta\r\n".encode()
    cp = tmp_path / "cp.csv"
    with RejectsWriter(str(cp), ["pnr"], kind="csv", delimiter=";", encoding="cp1252") as rejects:
        rejects.write(7, ["Åsa"], "fel → rätta")
    assert cp.read_bytes().decode("cp1252") == "pnr;line;reason\r\nÅsa;7;fel ? rätta\r\n"


def test_header_only_when_nothing_is_rejected(tmp_path: Path) -> None:
    target = tmp_path / "rej.csv"
    with RejectsWriter(str(target), ["Personnummer"], kind="csv", delimiter=",", encoding="utf-8") as rejects:
        assert rejects.count == 0
    assert target.read_bytes() == b"Personnummer,line,reason\r\n"


def test_xlsx_input_gives_excel_friendly_csv(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["Personnummer", "Förnamn", "Kommentar"])
    wb.active.append([191212121212, "Åsa", "a;b"])
    source = tmp_path / "in.xlsx"
    wb.save(source)
    target = tmp_path / "rej.csv"
    with open_table(str(source)) as table, RejectsWriter.for_table(str(target), table) as rejects:
        for line, values in table.rows():
            rejects.write(line, values, "fel")
    assert target.read_bytes() == codecs.BOM_UTF8 + (
        'Personnummer;Förnamn;Kommentar;line;reason\r\n191212121212;Åsa;"a;b";2;fel\r\n'.encode()
    )


def test_xlsx_and_tsv_by_suffix(tmp_path: Path) -> None:
    source = swedish_excel_csv(tmp_path / "export.csv")
    xlsx = tmp_path / "rejects.xlsx"
    with open_table(str(source)) as table, RejectsWriter.for_table(str(xlsx), table) as rejects:
        rows = list(table.rows())
        rejects.write(*rows[0], "fel")
        rejects.write(rows[1][0], ['=HYPERLINK("http://x")', "Märta"], "kort rad")
    ws = openpyxl.load_workbook(xlsx).active
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values[0] == [*SWEDISH_HEADER, "line", "reason"]
    assert values[1] == [*SWEDISH_ROWS[0], 2, "fel"]
    assert values[2] == ['=HYPERLINK("http://x")', "Märta", None, None, None, None, None, 3, "kort rad"]
    assert ws.cell(3, 1).data_type == "s"  # text, not a formula
    tsv = tmp_path / "rejects.tsv"
    with open_table(str(source)) as table, RejectsWriter.for_table(str(tsv), table) as rejects:
        rejects.write(*next(table.rows()), "fel")
    assert tsv.read_bytes().decode("cp1252").splitlines()[1].split("\t")[-2:] == ["2", "fel"]


def test_unwritable_path(tmp_path: Path) -> None:
    for name in ("missing/dir/rej.csv", "missing/dir/rej.xlsx"):
        with pytest.raises(InvalidInput, match="cannot write") as err:
            RejectsWriter(str(tmp_path / name), ["a"], kind="csv", delimiter=",", encoding="utf-8")
        assert err.value.field == "rejects"
