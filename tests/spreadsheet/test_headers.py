"""Header aliasing, unknown/duplicate/missing columns, records, personnummer lists."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from per_cli.errors import InvalidInput
from per_cli.spreadsheet import (
    ALIASES,
    FIELDS,
    PnrRow,
    known_columns_text,
    map_headers,
    normalize_header,
    open_pnr_list,
    to_record,
)
from tests.helpers.per import RunPer

KNOWN = (
    "personnummer, förnamn/first_name, efternamn/last_name, mobiltelefon/mobile, e-post/email, enhet/unit, "
    "registreringsdatum/registered_on, pal, kommentar/comment"
)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Personnummer", "personnummer"),
        ("\ufeffPersonnummer", "personnummer"),
        ("PNR", "personnummer"),
        ("Personnr.", "personnummer"),
        ("Personnummer (ÅÅÅÅMMDD-NNNN)", "personnummer"),
        ("Förnamn", "first_name"),
        ("fornamn", "first_name"),
        ("FÖRNAMN", "first_name"),
        ("Fo\u0308rnamn", "first_name"),  # decomposed ö, as macOS writes it
        ("First Name", "first_name"),
        ("first-name", "first_name"),
        ("first_name", "first_name"),
        ("Efternamn", "last_name"),
        ("Surname", "last_name"),
        ("Mobiltelefon", "mobile"),
        ("Mobil", "mobile"),
        ("mobilnummer", "mobile"),
        ("Mobile phone", "mobile"),
        ("E-post", "email"),
        ("epost", "email"),
        ("E_post", "email"),
        ("e post", "email"),
        ("E-postadress", "email"),
        ("Mejl", "email"),
        ("E-mail", "email"),
        ("Email", "email"),
        ("Enhet", "unit"),
        ("Vårdenhet", "unit"),
        ("Unit", "unit"),
        ("Registreringsdatum", "registered_on"),
        ("registered_on", "registered_on"),
        ("Registered on", "registered_on"),
        ("PAL", "pal"),
        ("Patientansvarig läkare", "pal"),
        ("Kommentar", "comment"),
        ("Anteckning", "comment"),
        ("Comment", "comment"),
        ("  kommentar:  ", "comment"),
    ],
)
def test_aliases(header: str, field: str) -> None:
    assert map_headers([header], ignore_unknown=False, required=()) == {0: field}


@pytest.mark.parametrize("header", ["Telefon", "Phone", "Namn", "Datum", "Personnummer2"])
def test_ambiguous_names_are_not_guessed(header: str) -> None:
    with pytest.raises(InvalidInput, match="unknown column"):
        map_headers([header], ignore_unknown=False, required=())


def test_every_alias_names_one_field_and_every_field_has_aliases() -> None:
    keys = [normalize_header(a) for names in ALIASES.values() for a in names]
    assert len(keys) == len(set(keys))
    assert tuple(ALIASES) == (*FIELDS, "contact_verified_by")  # a password list's column, not a patient field
    assert known_columns_text() == KNOWN


def test_swedish_enrolment_header() -> None:
    columns = [
        "Personnummer",
        "Förnamn",
        "Efternamn",
        "Mobiltelefon",
        "E-post",
        "Enhet",
        "Registreringsdatum",
        "PAL",
        "Kommentar",
    ]
    assert map_headers(columns, ignore_unknown=False) == dict(enumerate(FIELDS))


def test_unknown_columns_message() -> None:
    with pytest.raises(InvalidInput) as err:
        map_headers(["Personnummer", "Foo", "", "Bar"], ignore_unknown=False)
    assert err.value.field == "file"
    assert str(err.value) == (
        f"file: unknown column(s) 'Foo', (unnamed column 3), 'Bar'; known: {KNOWN}; "
        "use --ignore-unknown-columns to skip them"
    )


def test_unknown_columns_can_be_ignored() -> None:
    assert map_headers(["Foo", "pnr", "Bar"], ignore_unknown=True) == {1: "personnummer"}


def test_duplicate_field() -> None:
    with pytest.raises(InvalidInput) as err:
        map_headers(["pnr", "Mobil", "Mobiltelefon"], ignore_unknown=True)
    assert err.value.message == "columns 2 'Mobil' and 3 'Mobiltelefon' are both mobiltelefon/mobile; keep one"


def test_missing_required_column() -> None:
    with pytest.raises(InvalidInput) as err:
        map_headers(["Förnamn", "Efternamn"], ignore_unknown=False)
    assert err.value.message == (
        "missing column(s): personnummer (or pnr, personnr, personal_number, personal_identity_number); "
        "found: 'Förnamn', 'Efternamn'"
    )
    with pytest.raises(InvalidInput, match=r"missing column\(s\): personnummer .*; unit \(or enhet"):
        map_headers(["x"], ignore_unknown=True, required=("unit", "personnummer"))


def test_known_set_is_a_parameter() -> None:
    with pytest.raises(InvalidInput) as err:
        map_headers(["pnr", "Förnamn"], ignore_unknown=False, known=("personnummer",))
    assert err.value.message == (
        "unknown column(s) 'Förnamn'; known: personnummer; use --ignore-unknown-columns to skip them"
    )


def test_rejects_bookkeeping_columns_are_ignored() -> None:
    assert map_headers(["pnr", "line", "Reason"], ignore_unknown=False) == {0: "personnummer"}


def test_to_record() -> None:
    mapping = {0: "personnummer", 2: "first_name"}
    assert to_record([" 19121212-1212 ", "x", " Åsa "], mapping, 3) == {
        "personnummer": "19121212-1212",
        "first_name": "Åsa",
    }
    with pytest.raises(InvalidInput, match="the row has 4 fields but the header has 3"):
        to_record(["1", "2", "3", "4"], mapping, 3)


def pnrs(path: Path | str, **options: object) -> tuple[bool, list[PnrRow]]:
    with open_pnr_list(str(path), **options) as plist:  # type: ignore[arg-type]
        return plist.has_header, list(plist.rows())


def test_plain_list_without_header(tmp_path: Path) -> None:
    path = tmp_path / "pnr.txt"
    path.write_text("19121212-1212\n\n  191212121212 \n121212+1212\n", encoding="utf-8")
    assert pnrs(path) == (
        False,
        [PnrRow(1, "19121212-1212"), PnrRow(3, "191212121212"), PnrRow(4, "121212+1212")],
    )


def test_list_with_header_and_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "pnr.csv"
    path.write_bytes("Förnamn;Personnummer\r\nÅsa;19121212-1212\r\nMärta;20080808-8800;x\r\n".encode("cp1252"))
    assert pnrs(path) == (
        True,
        [PnrRow(2, "19121212-1212"), PnrRow(3, "", "the row has 3 fields but the header has 2")],
    )
    with pytest.raises(
        InvalidInput,
        match="unknown column\\(s\\) 'Förnamn'; known: personnummer, kontakt_verifierad/contact_verified_by;",
    ):
        pnrs(path, ignore_unknown=False)


def test_list_header_only_named_personnummer(tmp_path: Path) -> None:
    path = tmp_path / "pnr.txt"
    path.write_text("personnummer\n19121212-1212\n", encoding="utf-8")
    assert pnrs(path) == (True, [PnrRow(2, "19121212-1212")])


def test_list_without_personnummer_column(tmp_path: Path) -> None:
    path = tmp_path / "pnr.txt"
    path.write_text("namn\nÅsa\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="missing column\\(s\\): personnummer"):
        pnrs(path)


def test_list_from_xlsx_numbers_and_stdin() -> None:
    wb = openpyxl.Workbook()
    for value in (191212121212, 200808088800):
        wb.active.append([value])
    buffer = io.BytesIO()
    wb.save(buffer)
    assert pnrs("-", stdin=io.BytesIO(buffer.getvalue())) == (
        False,
        [PnrRow(1, "191212121212"), PnrRow(2, "200808088800")],
    )


def test_a_wrong_delimiter_is_named_with_the_option_to_give(per: RunPer, unit: str, tmp_path: Path) -> None:
    path = tmp_path / "semikolon.csv"
    path.write_text("personnummer;förnamn;efternamn\n191212121212;Tolvan;Tolvansson\n", encoding="utf-8")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit, "--delimiter", ",")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --file: the header row is one column holding ';' characters: the columns are probably separated "
        "by ';'; give --delimiter ';'\n",
    )
    tabs = tmp_path / "tabbar.csv"
    tabs.write_text("personnummer\tförnamn\tefternamn\n191212121212\tTolvan\tTolvansson\n", encoding="utf-8")
    result = per("patient", "enrol", "--file", str(tabs), "--unit", unit, "--delimiter", ";")
    assert result.stderr == (
        "Error: --file: the header row is one column holding tab characters: the columns are probably separated "
        "by tab; give --delimiter tab\n"
    )


def test_a_first_row_of_data_is_named_without_showing_it(per: RunPer, unit: str, tmp_path: Path) -> None:
    path = tmp_path / "utan-rubriker.csv"
    path.write_text("191212121212;Tolvan;Tolvansson\n197010632391;Åsa;Öberg\n", encoding="utf-8")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit)
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --file: the first row looks like data, not column names (1 value(s) such as a personnummer, number "
        "or e-mail address): add a header row (e.g. personnummer;förnamn;efternamn;enhet)\n",
    )
    assert "1212" not in result.stderr and "Tolvan" not in result.stderr
