"""Delimited text: encodings, delimiters, quoting, line numbers, stdin."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from per_cli.errors import InvalidInput
from per_cli.spreadsheet import open_table
from tests.helpers.spreadsheets import SWEDISH_HEADER, SWEDISH_ROWS, swedish_excel_csv


def read(path: Path | str, **options: object) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    with open_table(str(path), **options) as table:  # type: ignore[arg-type]
        return table.columns, list(table.rows()), table.describe()


def test_swedish_excel_export_needs_no_options(tmp_path: Path) -> None:
    path = swedish_excel_csv(tmp_path / "export.csv")
    with open_table(str(path)) as table:
        assert (table.kind, table.encoding, table.delimiter) == ("csv", "cp1252", ";")
        assert table.columns == SWEDISH_HEADER
        assert list(table.rows()) == [(2, SWEDISH_ROWS[0]), (3, SWEDISH_ROWS[1])]
        assert table.describe() == f"{path}: text, Windows-1252, delimiter ';', 7 column(s)"


@pytest.mark.parametrize(
    ("encoding", "bom", "label"),
    [("utf-8", b"", "UTF-8"), ("utf-8", codecs.BOM_UTF8, "UTF-8 with BOM"), ("utf-16", b"", "UTF-16")],
)
def test_unicode_encodings_are_detected(tmp_path: Path, encoding: str, bom: bytes, label: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(bom + "Personnummer,Förnamn\n19121212-1212,Åsa\n".encode(encoding))
    columns, rows, describe = read(path)
    assert columns == ["Personnummer", "Förnamn"]  # no '\ufeff' left on the first name
    assert rows == [(2, ["19121212-1212", "Åsa"])]
    assert label in describe


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "in.tsv"
    path.write_text('personnummer\tkommentar\n19121212-1212\tsäger "hej", ok; bra\n', encoding="utf-8")
    with open_table(str(path)) as table:
        assert table.delimiter == "\t"
        assert list(table.rows()) == [(2, ["19121212-1212", 'säger "hej", ok; bra'])]
        assert "delimiter tab" in table.describe()


def test_quoted_delimiters_and_newlines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        b'pnr;kommentar\r\n1;"a;b"\r\n2;"rad 1\r\nrad 2\r\nrad 3"\r\n\r\n;;\r\n  ;\t\r\n3;"sa ""hej"""\r\n'
    )
    assert read(path)[1] == [(2, ["1", "a;b"]), (3, ["2", "rad 1\r\nrad 2\r\nrad 3"]), (9, ["3", 'sa "hej"'])]


def test_header_after_blank_lines_and_short_and_long_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("\n\n a ; b ;c;;\n1\n1;2;3;;;\n1;2;3;4\n", encoding="utf-8")
    with open_table(str(path)) as table:
        assert table.header_line == 3
        assert table.columns == ["a", "b", "c"]  # stripped, trailing unnamed columns dropped
        assert list(table.rows()) == [(4, ["1", "", ""]), (5, ["1", "2", "3"]), (6, ["1", "2", "3", "4"])]


def test_rows_can_be_read_twice(tmp_path: Path) -> None:
    path = swedish_excel_csv(tmp_path / "export.csv")
    with open_table(str(path)) as table:
        first = list(table.rows())
        assert list(table.rows()) == first


def test_single_column_file_is_not_split(tmp_path: Path) -> None:
    path = tmp_path / "pnr.txt"
    path.write_text("personnummer\n19121212-1212\n191212121212, 19121212-1212\n", encoding="utf-8")
    with open_table(str(path)) as table:
        assert table.delimiter is None
        assert list(table.rows()) == [(2, ["19121212-1212"]), (3, ["191212121212, 19121212-1212"])]
        assert "delimiter none (one column)" in table.describe()


def test_delimiter_from_header_beats_decimal_commas_in_data(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("pnr;vikt;längd\n1;72,5;180,5\n2;80,1;190,2\n", encoding="utf-8")
    with open_table(str(path)) as table:
        assert table.delimiter == ";"
        assert next(table.rows()) == (2, ["1", "72,5", "180,5"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Efternamn, förnamn";pnr;enhet\n"Öberg, Åsa";1;A\n', ";"),  # comma only inside quotes
        ("a,b;c,d\n1,2;3,4\n5,6;7,8\n", ","),  # both present: settled by the sniffer / counts
    ],
)
def test_header_with_several_candidates(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    with open_table(str(path)) as table:
        assert table.delimiter == expected


@pytest.mark.parametrize(("given", "actual"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|"), ("comma", ",")])
def test_explicit_delimiter(tmp_path: Path, given: str, actual: str) -> None:
    path = tmp_path / "in.txt"
    other = ";" if actual == "," else ","
    path.write_text(f"a{actual}b{other}c\n1{actual}2{other}3\n", encoding="utf-8")
    with open_table(str(path), delimiter=given) as table:
        assert table.columns == ["a", f"b{other}c"]


@pytest.mark.parametrize("bad", ["", ";;", "a", "1", '"', "\n"])
def test_bad_delimiter_is_refused(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a;b\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        read(path, delimiter=bad)
    assert err.value.field == "delimiter"


def test_windows_1252_detected_even_when_the_first_64k_are_ascii(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    body = "".join(f"19121212{i:04d};Anna\r\n" for i in range(20_000))  # ~360 kB of ASCII first
    path.write_bytes(("pnr;namn\r\n" + body + "19121212-1212;Åsa Öberg\r\n").encode("cp1252"))
    with open_table(str(path)) as table:
        assert table.encoding == "cp1252"
        *_, last = table.rows()
        assert last == (20_002, ["19121212-1212", "Åsa Öberg"])


def test_explicit_encoding_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("pnr;namn\n1;Åsa\n".encode())
    assert read(path, encoding="latin-1")[1] == [(2, ["1", "Ã\x85sa"])]  # what the user asked for
    assert read(path, encoding="UTF8")[1] == [(2, ["1", "Åsa"])]


def test_explicit_encoding_that_does_not_fit_is_a_one_line_error(tmp_path: Path) -> None:
    path = swedish_excel_csv(tmp_path / "export.csv")
    with pytest.raises(InvalidInput) as err:
        read(path, encoding="utf-8")
    assert err.value.field == "encoding"
    assert str(err.value) == (f"encoding: {path} is not valid UTF-8: byte 0xF6 on line 1; try --encoding cp1252")
    assert "\n" not in str(err.value)


def test_unknown_or_non_text_encoding_is_refused(tmp_path: Path) -> None:
    path = swedish_excel_csv(tmp_path / "export.csv")
    for name in ("klingon", "base64"):
        with pytest.raises(InvalidInput, match="unknown text encoding") as err:
            read(path, encoding=name)
        assert err.value.field == "encoding"


def test_neither_utf8_nor_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"pnr;namn\n1;\xe5\n2;\x81\n")
    with pytest.raises(InvalidInput) as err:
        read(path)
    assert str(err.value) == (
        f"encoding: {path} is neither UTF-8 (byte 0xE5 on line 2) nor Windows-1252 (byte 0x81 on line 3); "
        "give its encoding with --encoding"
    )


def test_mixed_encodings_are_refused_not_turned_into_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("pnr;namn\n1;Åsa\n".encode() + "2;Märta\n".encode("cp1252"))
    with pytest.raises(InvalidInput, match="mixes encodings: line 2 is UTF-8 but line 3 is not") as err:
        read(path)
    assert err.value.field == "encoding"


def test_bom_but_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(codecs.BOM_UTF8 + "pnr;namn\n1;Åsa\n".encode("cp1252"))
    with pytest.raises(
        InvalidInput, match="starts with a UTF-8 byte order mark but is not valid UTF-8: byte 0xC5 on line 2"
    ):
        read(path)


def test_unclosed_quote_is_reported_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv, "field_size_limit", csv.field_size_limit)  # restored after the test
    csv.field_size_limit(1000)
    path = tmp_path / "in.csv"
    path.write_text('pnr;kommentar\n1;"oj\n' + "2;x\n" * 500, encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"line 2: field larger than field limit \(1000\) \(a quote that is never"):
        read(path)
    csv.field_size_limit(131072)


def test_utf16_without_bom_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("pnr;namn\n1;Åsa\n".encode("utf-16-le"))
    with pytest.raises(InvalidInput, match="contains NUL bytes: UTF-16 without a byte order mark") as err:
        read(path)
    assert err.value.field == "encoding"
    assert read(path, encoding="utf-16-le")[1] == [(2, ["1", "Åsa"])]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"\r\n;;\r\n")
    with pytest.raises(InvalidInput, match="is empty: no header row"):
        read(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file") as err:
        read(tmp_path / "nope.csv")
    assert err.value.field == "file"
    with pytest.raises(InvalidInput, match="cannot read"):
        read(tmp_path)


def test_sheet_option_on_text_is_refused(tmp_path: Path) -> None:
    path = swedish_excel_csv(tmp_path / "export.csv")
    with pytest.raises(InvalidInput, match="applies to XLSX workbooks") as err:
        read(path, sheet="Blad1")
    assert err.value.field == "sheet"


def test_stdin(tmp_path: Path) -> None:
    data = swedish_excel_csv(tmp_path / "export.csv").read_bytes()
    with open_table("-", stdin=io.BytesIO(data)) as table:
        assert table.source == "stdin"
        assert (table.encoding, table.delimiter) == ("cp1252", ";")
        assert [line for line, _ in table.rows()] == [2, 3]


def test_big_stdin_spills_to_disk_and_still_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from per_cli.spreadsheet import sources

    monkeypatch.setattr(sources, "STDIN_SPOOL_BYTES", 1024)
    data = ("pnr,namn\n" + "".join(f"{i},Åsa\n" for i in range(5000))).encode()
    with open_table("-", stdin=io.BytesIO(data)) as table:
        assert sum(1 for _ in table.rows()) == 5000


def test_misnamed_csv_with_xlsx_suffix(tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    path.write_text("pnr\n1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="is not an XLSX workbook \\(no ZIP signature\\)"):
        read(path)


CELL = st.text(alphabet=st.sampled_from(list("aåäöÅÄÖé 1-+;,\t\"'\r\n€")), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=8),
    delimiter=st.sampled_from([";", ",", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_round_trip_of_anything_csv_writes(
    tmp_path: Path, rows: list[list[str]], delimiter: str, encoding: str
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["personnummer", "förnamn", "kommentar"])
    writer.writerows(rows)
    path = tmp_path / "prop.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    with open_table(str(path)) as table:
        assert table.delimiter == delimiter
        assert table.encoding == ("utf-8" if encoding == "cp1252" and path.read_bytes().isascii() else encoding)
        assert [values for _, values in table.rows()] == [r for r in rows if "".join(r).strip()]
