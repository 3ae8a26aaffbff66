"""XLSX: cell conversions, sheets, shared strings, broken and foreign files, stdin."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from per_cli.errors import InvalidInput
from per_cli.spreadsheet import open_table
from per_cli.spreadsheet import xlsx as xlsx_module
from per_cli.spreadsheet.xlsx import cell_text
from tests.helpers.spreadsheets import MAIN, n, row, s, xlsx_package


def read(path: Path | str, **options: object) -> tuple[list[str], list[tuple[int, list[str]]]]:
    with open_table(str(path), **options) as table:  # type: ignore[arg-type]
        return table.columns, list(table.rows())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  Åsa ", "  Åsa "),
        (True, "TRUE"),
        (191212121212, "191212121212"),
        (46701740605, "46701740605"),
        (191212121212.0, "191212121212"),
        (-3.0, "-3"),
        (1.5, "1.5"),
        (1.91212e20, "1.91212e+20"),
        (1e15, "1000000000000000.0"),
        (dt.datetime(2024, 1, 5), "2024-01-05"),
        (dt.datetime(2024, 1, 5, 13, 45, 10), "2024-01-05 13:45:10"),
        (dt.date(2024, 1, 5), "2024-01-05"),
        (dt.time(8, 30), "08:30:00"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_workbook_written_by_openpyxl(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patienter"
    ws.append(["Personnummer", "Förnamn", "Mobil", "Registreringsdatum", "Vikt", "Kommentar"])
    ws.append([191212121212, "Åsa", 46701740605, dt.date(2024, 1, 5), 72.5, None])
    ws.append([None, None, None, None, None, None])  # blank: skipped
    ws.append([200808088800.0, "Märta", "070-174 06 06", dt.datetime(2024, 1, 6, 9, 30), 80, "=1+1"])
    other = wb.create_sheet("Andra")
    other.append(["pnr"])
    other.append(["19121212-1212"])
    path = tmp_path / "patienter.xlsx"
    wb.save(path)
    with open_table(str(path)) as table:
        assert (table.kind, table.sheet, table.encoding, table.delimiter) == ("xlsx", "Patienter", None, None)
        assert table.describe() == f"{path}: XLSX, sheet 'Patienter', 6 column(s)"
        assert list(table.rows()) == [
            (2, ["191212121212", "Åsa", "46701740605", "2024-01-05", "72.5", ""]),
            (4, ["200808088800", "Märta", "070-174 06 06", "2024-01-06 09:30:00", "80", ""]),  # no cached value
        ]
    assert read(path, sheet="Andra") == (["pnr"], [(2, ["19121212-1212"])])
    assert read(path, sheet=" andra ")[0] == ["pnr"]


def test_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = xlsx_package(tmp_path / "b.xlsx", {"Blad1": "", "Blad 2": ""})
    with pytest.raises(InvalidInput) as err:
        read(path, sheet="Blad3")
    assert err.value.field == "sheet"
    assert err.value.message == "no sheet named 'Blad3'; sheets: Blad1, Blad 2"


def test_excel_style_package(tmp_path: Path) -> None:
    strings = [
        "Personnummer",
        "Förnamn",
        "Registreringsdatum",
        "Kommentar",
        "Åsa",
        "rad 1_x000D_\nrad 2",
        "a_x005F_x000D_",
    ]
    body = (
        row(1, s("A1", 0), s("B1", 1), s("C1", 2), s("D1", 3))
        + row(2, n("A2", "191212121212"), s("B2", 4), n("C2", "45296", style=1), s("D2", 5))
        + row(
            5,
            n("A5", "1.91212E+20"),
            '<c r="B5" t="inlineStr"><is><t xml:space="preserve"> Öberg </t></is></c>',
            n("C5", "45296.5", style=2),
            '<c r="D5" t="e"><v>#N/A</v></c>',
        )
        + row(
            6,
            '<c r="A6" t="str"><f>A2&amp;""</f><v>191212121212</v></c>',
            '<c r="B6" t="b"><v>1</v></c>',
            '<c r="C6" t="d"><v>2024-01-05T00:00:00</v></c>',
            s("D6", 6),
        )
        + row(7, n("B7", "1.5", style=3), n("D7", "0701740605"))
    )
    path = xlsx_package(tmp_path / "excel.xlsx", {"Blad1": body}, strings=strings)
    columns, rows = read(path)
    assert columns == ["Personnummer", "Förnamn", "Registreringsdatum", "Kommentar"]
    assert rows == [
        (2, ["191212121212", "Åsa", "2024-01-05", "rad 1\r\nrad 2"]),
        (5, ["1.91212e+20", " Öberg ", "2024-01-05 12:00:00", "#N/A"]),
        (6, ["191212121212", "TRUE", "2024-01-05", "a_x000D_"]),
        (7, ["", "1 day, 12:00:00", "", "701740605"]),
    ]


def test_1904_date_system(tmp_path: Path) -> None:
    body = row(1, s("A1", 0)) + row(2, n("A2", "1", style=1))
    path = xlsx_package(tmp_path / "mac.xlsx", {"Blad1": body}, strings=["datum"], date1904=True)
    assert read(path)[1] == [(2, ["1904-01-02"])]
    path = xlsx_package(tmp_path / "win.xlsx", {"Blad1": body}, strings=["datum"])
    assert read(path)[1] == [(2, ["1900-01-01"])]


def test_rich_text_without_phonetic_guide(tmp_path: Path) -> None:
    sst = f'<sst xmlns="{MAIN}"><si><r><t>Kom</t></r><r><rPr/><t>mentar</t></r><rPh><t>x</t></rPh></si></sst>'
    path = xlsx_package(tmp_path / "rich.xlsx", {"Blad1": row(1, s("A1", 0))}, strings_xml=sst)
    assert read(path)[0] == ["Kommentar"]


def test_prefixed_namespace_and_cells_without_references(tmp_path: Path) -> None:
    body = '<x:row><x:c t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c></x:row>'
    body += '<x:row><x:c><x:v>1</x:v></x:c><x:c/><x:c t="s"><x:v>2</x:v></x:c></x:row>'
    path = xlsx_package(tmp_path / "sdk.xlsx", {"Sheet1": body}, strings=["pnr", "namn", "Åsa"], prefix="x:")
    assert read(path) == (["pnr", "namn"], [(2, ["1", "", "Åsa"])])


def test_first_visible_sheet_and_chart_sheets(tmp_path: Path) -> None:
    path = xlsx_package(
        tmp_path / "h.xlsx",
        {"Dold": row(1, s("A1", 0)), "Synlig": row(1, s("A1", 1))},
        strings=["dold", "synlig"],
        hidden=("Dold",),
    )
    assert read(path)[0] == ["synlig"]
    assert read(path, sheet="Dold")[0] == ["dold"]


def test_empty_sheet(tmp_path: Path) -> None:
    path = xlsx_package(tmp_path / "e.xlsx", {"Blad1": row(3, '<c r="A3"/>')})
    with pytest.raises(InvalidInput, match="sheet 'Blad1' is empty: no header row"):
        read(path)


def test_shared_strings_spill_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_module, "STRINGS_IN_MEMORY", 10)
    strings = ["pnr", "namn"] + [f"Åsa {i}" for i in range(100)]
    body = row(1, s("A1", 0), s("B1", 1)) + "".join(
        row(i + 2, n(f"A{i + 2}", str(i)), s(f"B{i + 2}", i + 2)) for i in range(100)
    )
    path = xlsx_package(tmp_path / "many.xlsx", {"Blad1": body}, strings=strings)
    rows = read(path)[1]
    assert rows[0] == (2, ["0", "Åsa 0"])
    assert rows[-1] == (101, ["99", "Åsa 99"])


def test_stdin_workbook_is_sniffed_by_zip_magic(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["personnummer"])
    wb.active.append([191212121212])
    buffer = io.BytesIO()
    wb.save(buffer)
    with open_table("-", stdin=io.BytesIO(buffer.getvalue())) as table:
        assert table.kind == "xlsx"
        assert list(table.rows()) == [(2, ["191212121212"])]


@pytest.mark.parametrize("option", ["encoding", "delimiter"])
def test_text_options_on_a_workbook_are_refused(tmp_path: Path, option: str) -> None:
    path = xlsx_package(tmp_path / "b.xlsx", {"Blad1": row(1, s("A1", 0))}, strings=["pnr"])
    with pytest.raises(InvalidInput, match="applies to CSV/TSV text") as err:
        read(path, **{option: ";"})
    assert err.value.field == option


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "Excel 97-2003 \\(.xls\\) or password-protected"),
        (b"PK\x03\x04 broken", "is not a readable XLSX workbook"),
    ],
)
def test_foreign_and_broken_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message) as err:
        read(path)
    assert err.value.field == "file"


def test_opendocument_and_xlsb_are_named(tmp_path: Path) -> None:
    ods = tmp_path / "x.ods"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(InvalidInput, match="OpenDocument spreadsheet"):
        read(ods)
    xlsb = tmp_path / "x.xlsb"
    with zipfile.ZipFile(xlsb, "w") as z:
        z.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="r" Type="http://x/officeDocument" Target="xl/workbook.bin"/></Relationships>',
        )
    with pytest.raises(InvalidInput, match=r"binary \.xlsb workbook"):
        read(xlsb)


def test_malformed_sheet_xml(tmp_path: Path) -> None:
    path = xlsx_package(tmp_path / "bad.xlsx", {"Blad1": row(1, s("A1", 0)) + "<row r='2'><c>"}, strings=["pnr"])
    with pytest.raises(InvalidInput, match="sheet 'Blad1' cannot be read"):
        read(path)
