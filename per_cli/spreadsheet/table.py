"""What every spreadsheet reader yields: a header and streamed rows (``Table``), and the row helpers they share.

Kept apart from ``sources`` (which picks a reader) so the readers depend on this and not on each other.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Literal

from per_cli.errors import InvalidInput


class Table(ABC):
    """A header row and the data rows under it, whatever the file format.

    ``columns`` are the header names as written (stripped, byte order mark removed, trailing unnamed columns
    dropped). ``rows()`` yields ``(line, values)`` for every non-blank row after the header; values are the raw
    cell texts, padded with ``""`` to ``len(columns)``. A row longer than that has non-empty cells beyond the
    header -- usually an unquoted delimiter -- and should be rejected (``to_record`` does). ``rows()`` may be
    called again to re-read from the start, but not while another iteration is running.
    """

    kind: Literal["csv", "xlsx"]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    #: a workbook's worksheets, in its order (none for text)
    sheets: tuple[str, ...] = ()

    def __init__(self, source: str, columns: list[str], header_line: int) -> None:
        self.source = source
        self.columns = columns
        self.header_line = header_line

    @abstractmethod
    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line, values)`` for each non-blank data row, streaming."""

    def last_line(self) -> int | None:
        """The number of the file's last line (text) or row (XLSX), for progress; None when it cannot be told
        cheaply. Call it before ``rows()``."""
        return None

    def sheet_hint(self) -> str:
        """For an error about the header row: which sheet was read, the others, and ``--sheet`` ("" for text)."""
        return sheet_hint(self.sheet, self.sheets)

    def empty_sheet(self) -> InvalidInput:
        """The error for a workbook sheet without a header row: the workbook's sheets and ``--sheet``."""
        others = sheet_hint(self.sheet, self.sheets, named=False)
        return InvalidInput(f"{self.source}: sheet {self.sheet!r} is empty: no header row{others}", field="file")

    @abstractmethod
    def describe(self) -> str:
        """One line for the ``-v`` log: format, encoding, delimiter or sheet, column count."""

    @abstractmethod
    def close(self) -> None:
        """Release what the reader holds open; ``open_table`` calls it."""


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]*\d*:?[A-Z]+(\d+)"')


def dimension_last_row(head: bytes) -> int | None:
    """The last row named by a worksheet's ``<dimension>`` in the first bytes of its XML, if any."""
    found = _DIMENSION.search(head)
    return int(found.group(1)) if found else None


def sheet_hint(sheet: str | None, sheets: tuple[str, ...], *, named: bool = True) -> str:
    """``; read sheet 'Blad1' of the workbook's 'Blad1', 'Patienter': choose one with --sheet NAME`` (or "");
    ``named`` False leaves out the sheet read (the message already names it)."""
    if sheet is None or not sheets:
        return ""
    names = ", ".join(repr(s) for s in sheets)
    read = f"read sheet {sheet!r} of the workbook's" if named else "the workbook's sheets:"
    return f"; {read} {names}: choose one with --sheet NAME"


def blank(values: list[str]) -> bool:
    """True for a row with no visible content (Excel exports end in ``;;;;`` lines)."""
    return not "".join(values).strip()


def shape(values: list[str], width: int) -> list[str]:
    """Pad to ``width``; drop empty cells beyond it, keep non-empty ones so the row can be rejected."""
    n = len(values)
    if n < width:
        values.extend([""] * (width - n))
    elif n > width:
        while n > width and not values[-1].strip():
            values.pop()
            n -= 1
    return values


def header(values: list[str]) -> list[str]:
    """Header names stripped, BOM removed, trailing unnamed columns dropped."""
    names = [v.replace("\ufeff", "").strip() for v in values]
    while names and not names[-1]:
        names.pop()
    return names
