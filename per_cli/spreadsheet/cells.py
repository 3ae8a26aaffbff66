"""Cells for spreadsheets: the one place ``per`` turns values into CSV/TSV text or XLSX cells.

Spreadsheet programs evaluate a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab or
carriage return at the start can smuggle one in (OWASP, "CSV Injection"). Text from data -- a comment, a name,
a PAL, a value read from another system's export -- is therefore written with a leading ``'`` when it begins
with one of those characters. Values ``per`` itself knows to be numbers, dates or times are written as they
are, so scores stay numeric for R and pandas; so is a text that is nothing but a signed number (``+46701740606``),
which no spreadsheet can run. Workbooks get text cells (never formulas) for every string.

Reading undoes it: a cell ``'=…`` read back (a rejects file fed back in) is ``=…`` again (:func:`restore`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

#: the characters that make a spreadsheet program read a cell as a formula (OWASP)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Typed:
    """A cell text ``per`` produced from a number, date or time: written as it is, never neutralised."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


#: a signed number and nothing else (``+46701740606``, ``-1.5``): a spreadsheet reads it as a number, never a formula
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would take it for a formula.

    A text that is only a signed number (an E.164 mobile number) holds no formula and is left as it is.
    """
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """Undo :func:`neutralise` on a cell read back from a file ``per`` wrote."""
    return text[1:] if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_STARTS) else text


def is_typed(value: Any) -> bool:
    """True for values that are numbers, dates or times in Python (not text that looks like one)."""
    return isinstance(value, int | float | Decimal | date | datetime | Typed) and not isinstance(value, bool)


def text_cell(value: Any) -> str:
    """The CSV/TSV text of one cell: typed values as they are, any other text neutralised."""
    if value is None:
        return ""
    if isinstance(value, Typed):
        return value.text
    if is_typed(value):
        return value.isoformat() if isinstance(value, date | datetime) else str(value)
    return neutralise(str(value))


class CsvWriter:
    """``csv.writer`` whose every cell goes through :func:`text_cell`: the one CSV/TSV writer of ``per``."""

    def __init__(self, stream: IO[str], *, delimiter: str = ",", lineterminator: str = "\n") -> None:
        self._stream = stream
        self._end = lineterminator
        # rows go through a "\r\n" writer, which quotes a field holding either character (a "\n" writer leaves
        # a lone "\r" bare, and a reader then splits the row there)
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, delimiter=delimiter, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow([text_cell(v) for v in row])
        self._stream.write(self._buf.getvalue()[:-2] + self._end)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def excel_cell(sheet: Any, value: Any) -> Any:
    """An openpyxl write-only cell: numbers, dates and booleans as data, every string a text cell.

    A string is never a formula, whatever it begins with; times become local naive times (Excel has no zones).
    """
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

    if isinstance(value, Typed):
        value = value.text
    elif isinstance(value, datetime):
        value = value.astimezone().replace(tzinfo=None, microsecond=0) if value.tzinfo else value
    elif not (isinstance(value, date | bool | int | float | Decimal) or value is None):
        value = str(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(cell.value, str):
        cell.data_type = "s"  # text, never a formula
    return cell
