"""Header names (Swedish or English) to canonical fields, and the personnummer-list reader.

Names are compared after folding: Unicode NFKD with accents dropped (``fornamn`` is ``förnamn``), case folded,
text in brackets dropped (``Personnummer (ÅÅÅÅMMDD-NNNN)``), everything but letters and digits removed
(``E-post``, ``e_post`` and ``e post`` are all ``epost``). Aliases are deliberately narrow: a generic
``telefon``/``phone`` column is not taken as the mobile number, since it often holds a landline and would then
clash with a real ``mobil`` column; it is refused as unknown like any other column the user must rename or skip.
The ``line`` and ``reason`` columns of a rejects file are ignored, so a corrected rejects file can be fed back.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO, NamedTuple

from per_cli.errors import InvalidInput
from per_cli.spreadsheet.cells import restore
from per_cli.spreadsheet.limits import check_cell_lengths
from per_cli.spreadsheet.sources import open_table
from per_cli.spreadsheet.table import Table

FIELDS: tuple[str, ...] = (
    "personnummer",
    "first_name",
    "last_name",
    "mobile",
    "email",
    "unit",
    "registered_on",
    "pal",
    "comment",
)

ALIASES: dict[str, tuple[str, ...]] = {
    "personnummer": ("personnummer", "pnr", "personnr", "personal_number", "personal_identity_number"),
    "first_name": ("förnamn", "first_name", "given_name"),
    "last_name": ("efternamn", "last_name", "surname", "family_name"),
    "mobile": (
        "mobiltelefon",
        "mobil",
        "mobilnummer",
        "mobiltelefonnummer",
        "mobile",
        "mobile_phone",
        "mobile_number",
    ),
    "email": ("e-post", "e-postadress", "mejl", "mejladress", "email", "email_address", "mail"),
    "unit": ("enhet", "vårdenhet", "unit", "care_unit"),
    "registered_on": (
        "registreringsdatum",
        "registrerad",
        "regdatum",
        "registered_on",
        "registered",
        "registration_date",
    ),
    "pal": ("pal", "patientansvarig_läkare", "responsible_physician"),
    "comment": ("kommentar", "kommentarer", "anteckning", "anmärkning", "comment", "comments", "note", "notes"),
    # a password list's column: how staff confirmed a recently changed contact (not a patient field)
    "contact_verified_by": ("kontakt_verifierad", "contact_verified_by"),
}
"""Field -> accepted header names; the first Swedish and first English ones are shown in messages."""

REJECTS_COLUMNS = ("line", "reason")

_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_PNR_LIKE = re.compile(r"[0-9 +\-]+")


def normalize_header(name: str) -> str:
    """The folded form header names are compared in (see module docstring)."""
    name = _BRACKETED.sub("", name)
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum() and not unicodedata.combining(ch))


_BY_KEY: dict[str, str] = {normalize_header(a): f for f, names in ALIASES.items() for a in names}
_IGNORED_KEYS = frozenset(normalize_header(c) for c in REJECTS_COLUMNS)


def label(field: str) -> str:
    """``förnamn/first_name`` -- the Swedish and English name of a field, or just one if they coincide."""
    names = ALIASES[field]
    swedish, english = names[0], next((n for n in names if n == field), field)
    return swedish if swedish == english else f"{swedish}/{english}"


def known_columns_text(known: Iterable[str] = FIELDS) -> str:
    """``personnummer, förnamn/first_name, …`` in canonical field order."""
    wanted = set(known)
    return ", ".join(label(f) for f in ALIASES if f in wanted)


def map_headers(
    columns: Sequence[str],
    *,
    ignore_unknown: bool,
    required: Iterable[str] = ("personnummer",),
    known: Iterable[str] = FIELDS,
    hint: str = "",
) -> dict[int, str]:
    """Column index -> field; unknown (unless ignored), duplicate and missing columns are refused.

    ``hint`` ends the error of a header row without the expected names (a workbook's sheets: ``Table.sheet_hint``).
    """
    known_set = set(known)
    required_list = [f for f in FIELDS if f in set(required)]
    mapping: dict[int, str] = {}
    where: dict[str, int] = {}
    unknown: list[str] = []
    for index, name in enumerate(columns):
        key = normalize_header(name)
        field = _BY_KEY.get(key)
        if field is None or field not in known_set:
            if key not in _IGNORED_KEYS:
                unknown.append(repr(name) if key else f"(unnamed column {index + 1})")
            continue
        if field in where:
            first = where[field]
            raise InvalidInput(
                f"columns {first + 1} {columns[first]!r} and {index + 1} {name!r} are both {label(field)}; keep one",
                field="file",
            )
        where[field] = index
        mapping[index] = field
    if unknown and not where:  # not one known column name: the file's shape may say why
        cause = likely_cause(columns)
        if cause:
            raise InvalidInput(cause + hint, field="file")
        if hint:  # a workbook: most likely the wrong sheet
            raise InvalidInput(
                f"no known column name in the header row (found {', '.join(unknown)}; known: "
                f"{known_columns_text(known_set)}){hint}",
                field="file",
            )
    if unknown and not ignore_unknown:
        raise InvalidInput(
            f"unknown column(s) {', '.join(unknown)}; known: {known_columns_text(known_set)}; "
            "use --ignore-unknown-columns to skip them",
            field="file",
        )
    missing = [f for f in required_list if f not in where]
    if missing:
        found = ", ".join(repr(c) for c in columns) or "none"
        accepted = "; ".join(f"{f} (or {', '.join(a for a in ALIASES[f] if a != f)})" for f in missing)
        raise InvalidInput(f"missing column(s): {accepted}; found: {found}{hint}", field="file")
    return mapping


_DELIMITERS = {";": "';'", "\t": "tab", ",": "','", "|": "'|'"}
_DATA_LIKE = re.compile(r"\d{6}|@|^\+?\d[\d\s-]{5,}$")


def likely_cause(columns: Sequence[str]) -> str | None:
    """Why a header row has no known column names, when its shape tells: the wrong delimiter (one column holding
    ``;`` or tabs) or no header row at all (the first row is data); a workbook's sheets are the caller's hint."""
    if len(columns) == 1:
        counts = {d: columns[0].count(d) for d in _DELIMITERS}
        found = max(counts, key=lambda d: counts[d])
        if counts[found]:
            name = _DELIMITERS[found]
            return (
                f"the header row is one column holding {name} characters: the columns are probably separated by "
                f"{name}; give --delimiter {'tab' if found == chr(9) else repr(found)}"
            )
    data = [c for c in columns if _DATA_LIKE.search(c)]
    if data:
        return (
            f"the first row looks like data, not column names ({len(data)} value(s) such as a personnummer, "
            "number or e-mail address): add a header row (e.g. personnummer;förnamn;efternamn;enhet)"
        )
    return None


def to_record(values: Sequence[str], mapping: Mapping[int, str], width: int) -> dict[str, str]:
    """Field -> stripped value for one row; refuses a row with more fields than the header (``width``).

    A value ``per`` neutralised for spreadsheets (``'=…``, ``'+46…``: a rejects file fed back) is read as it was.
    """
    if len(values) > width:
        raise InvalidInput(
            f"the row has {len(values)} fields but the header has {width}; quote values that contain the delimiter"
        )
    check_cell_lengths(values)
    return {field: restore(values[index].strip()) for index, field in mapping.items()}


class PnrRow(NamedTuple):
    """One entry of a personnummer list: the value to validate, or why the row cannot be read."""

    line: int
    value: str
    error: str | None = None
    verified_by: str = ""  # the list's contact_verified_by cell, if it has that column


class PnrList:
    """A personnummer column, from a headed table or from a plain one-per-line list."""

    def __init__(self, table: Table, *, ignore_unknown: bool) -> None:
        self.table = table
        self.has_header = not _looks_like_pnr(table.columns)
        if self.has_header:
            mapping = map_headers(
                table.columns,
                ignore_unknown=ignore_unknown,
                required=("personnummer",),
                known=("personnummer", "contact_verified_by"),
                hint=table.sheet_hint(),
            )
            by_field = {f: i for i, f in mapping.items()}
            self.column = by_field["personnummer"]
            self.verified_column: int | None = by_field.get("contact_verified_by")
        else:
            self.column = 0
            self.verified_column = None

    def rows(self) -> Iterator[PnrRow]:
        """Each entry in file order, the first line too when the list has no header."""
        width = len(self.table.columns)
        if not self.has_header:
            yield PnrRow(self.table.header_line, self.table.columns[0])
        for line, values in self.table.rows():
            if len(values) > width:
                yield PnrRow(line, "", f"the row has {len(values)} fields but the header has {width}")
            else:
                verified = values[self.verified_column].strip() if self.verified_column is not None else ""
                yield PnrRow(line, values[self.column].strip(), verified_by=verified)


@contextlib.contextmanager
def open_pnr_list(
    path: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    stdin: BinaryIO | None = None,
    ignore_unknown: bool = True,
) -> Iterator[PnrList]:
    """Open a personnummer list: one per line without header, or any table with a personnummer column.

    A first row holding a single personnummer-looking value (digits, spaces, ``-``, ``+``; at least six digits)
    means there is no header. Other columns of a table are ignored unless ``ignore_unknown`` is False.
    """
    with open_table(path, encoding=encoding, delimiter=delimiter, sheet=sheet, stdin=stdin) as table:
        yield PnrList(table, ignore_unknown=ignore_unknown)


def _looks_like_pnr(columns: Sequence[str]) -> bool:
    return (
        len(columns) == 1
        and _PNR_LIKE.fullmatch(columns[0]) is not None
        and sum(ch.isdigit() for ch in columns[0]) >= 6
    )
