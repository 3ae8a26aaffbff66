"""A workbook whose sheet lacks the expected header row: the error lists the workbook's sheets and names --sheet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.per import RunPer

ENROL = ("patient", "enrol", "--unit", "NEURO-SU", "--file")
SEND = ("password", "send", "--sms", "--dry-run", "--file")
KNOWN = (
    "personnummer, förnamn/first_name, efternamn/last_name, mobiltelefon/mobile, e-post/email, enhet/unit, "
    "registreringsdatum/registered_on, pal, kommentar/comment"
)


def _book(path: Path, *sheets: tuple[str, list[list[object]]]) -> str:
    import openpyxl  # type: ignore[import-untyped]

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return str(path)


@pytest.mark.parametrize(
    ("command", "known"), [(ENROL, KNOWN), (SEND, "personnummer, kontakt_verifierad/contact_verified_by")]
)
def test_the_wrong_sheet_lists_the_sheets(
    per_proc: RunPer, tmp_path: Path, command: tuple[str, ...], known: str
) -> None:
    book = _book(
        tmp_path / "export.xlsx",
        ("Notes", [["nothing here"]]),
        ("Patients", [["Personnummer", "First name", "Last name"], [191212121212, "Tolvan", "Tolvansson"]]),
    )
    result = per_proc(*command, book)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: --file: no known column name in the header row (found 'nothing here'; known: {known}); read sheet "
        "'Notes' of the workbook's 'Notes', 'Patients': choose one with --sheet NAME\n",
    )


def test_a_sheet_without_the_required_columns(per_proc: RunPer, tmp_path: Path) -> None:
    book = _book(tmp_path / "namn.xlsx", ("Blad1", [["Förnamn", "Efternamn"], ["Åsa", "Öberg"]]), ("Blad2", []))
    result = per_proc(*ENROL, book)
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --file: missing column(s): personnummer (or pnr, personnr, personal_number, "
        "personal_identity_number); found: 'Förnamn', 'Efternamn'; read sheet 'Blad1' of the workbook's 'Blad1', "
        "'Blad2': choose one with --sheet NAME\n",
    )


def test_an_empty_sheet_and_a_sheet_of_data(per_proc: RunPer, tmp_path: Path) -> None:
    empty = _book(tmp_path / "tom.xlsx", ("Tom", []), ("Lista", [["personnummer"]]))
    result = per_proc(*SEND, empty)
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: --file: {empty}: sheet 'Tom' is empty: no header row; the workbook's sheets: 'Tom', 'Lista': "
        "choose one with --sheet NAME\n",
    )
    data = _book(tmp_path / "data.xlsx", ("Data", [[191212121212, "Tolvan", "Tolvansson"]]), ("Lista", []))
    result = per_proc(*ENROL, data)
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --file: the first row looks like data, not column names (1 value(s) such as a personnummer, number "
        "or e-mail address): add a header row (e.g. personnummer;förnamn;efternamn;enhet); read sheet 'Data' of "
        "the workbook's 'Data', 'Lista': choose one with --sheet NAME\n",
    )
    assert "1212" not in result.stderr.replace("191212121212", "") and "Tolvan" not in result.stderr
