"""Limits that keep a hostile workbook from taking the machine: size, compression ratio, cell length, empty rows.

An XLSX file is a ZIP of XML parts, so a 1 MB file can unpack to gigabytes: one cell of 1 GiB, a "zip bomb" of
whitespace, millions of shared strings or a million empty rows. Before anything is parsed, the ZIP directory's
declared sizes (which ``zipfile`` enforces while reading) are checked: a part read whole (workbook, styles,
relationships) may unpack to at most ``PART_LIMIT``; a large part that unpacks to more than ``RATIO_LIMIT`` times
its compressed size is refused as a zip bomb. While the sheet and the shared strings stream through the parser,
:class:`GuardedXml` refuses a run of text longer than any cell within the CSV field limit can be (so memory stays
small whatever the file holds), and drops empty self-closing rows (``<row r="7"/>``) before the XML parser sees
them, so a million of them cost a regular expression, not a million parser events. A cell longer than the field
limit but within that run is a rejected row (``check_cell_lengths``), as it would be in a CSV file.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Sequence
from typing import IO

from per_cli.errors import InvalidInput

#: the longest cell: what Python's csv module accepts in a field by default (131 072 characters)
FIELD_LIMIT = csv.field_size_limit()
#: the most bytes a run of text without markup may have: a cell of FIELD_LIMIT characters written as
#: character references (``&#x1F600;``) at worst; anything longer cannot be a valid cell
RUN_LIMIT = FIELD_LIMIT * 8
#: a part parsed whole (workbook, styles, relationships, the content types)
PART_LIMIT = 64 << 20
#: a part larger than this that unpacks to more than RATIO_LIMIT times its compressed size is a zip bomb
BOMB_FLOOR = 64 << 20
RATIO_LIMIT = 100

_EMPTY_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\b[^<>]*/>")
_READ = 1 << 16


def check_archive(zf: zipfile.ZipFile, source: str) -> None:
    """Refuse a workbook whose parts would unpack to more than the limits allow, before any is read."""
    for info in zf.infolist():
        if info.file_size > BOMB_FLOOR and info.file_size > RATIO_LIMIT * max(info.compress_size, 1):
            raise InvalidInput(
                f"{source}: part {info.filename} would unpack to {info.file_size >> 20} MiB from "
                f"{max(info.compress_size >> 10, 1)} KiB (a zip bomb?); save the sheet again from Excel, or as CSV",
                field="file",
            )


def check_part(zf: zipfile.ZipFile, name: str, source: str) -> None:
    """Refuse a part that is read whole and would unpack to more than ``PART_LIMIT``."""
    info = zf.NameToInfo.get(name)
    if info is not None and info.file_size > PART_LIMIT:
        raise InvalidInput(
            f"{source or 'the workbook'}: part {name} would unpack to {info.file_size >> 20} MiB; "
            "that is not a spreadsheet part; save it again from Excel, or as CSV",
            field="file",
        )


def too_long(source: str) -> InvalidInput:
    return InvalidInput(
        f"{source}: a cell or value holds more than {FIELD_LIMIT} characters (the CSV field limit); "
        "shorten it or remove it from the file",
        field="file",
    )


class GuardedXml:
    """A part's bytes for ``ElementTree.iterparse``: long text runs refused, empty self-closing rows dropped."""

    def __init__(self, raw: IO[bytes], source: str, *, drop_empty_rows: bool) -> None:
        self._raw = raw
        self._source = source
        self._drop = drop_empty_rows
        self._pending = b""
        self._run = 0  # bytes since the last "<"

    def read(self, size: int = -1) -> bytes:
        """The next bytes (any amount; ``b""`` only at the end), never splitting a tag."""
        while True:
            chunk = self._raw.read(_READ)
            if not chunk:
                data, self._pending = self._pending, b""
                self._check(data)
                return data
            data = self._pending + chunk
            last = data.rfind(b"<")
            if last != -1 and data.find(b">", last) == -1:  # a tag split across reads: keep it for the next
                data, self._pending = data[:last], data[last:]
                if len(self._pending) > RUN_LIMIT:
                    raise too_long(self._source)
            else:
                self._pending = b""
            self._check(data)
            if self._drop:
                data = _EMPTY_ROW.sub(b"", data)
            if data:
                return data

    def _check(self, data: bytes) -> None:
        first = data.find(b"<")
        if first == -1:
            self._run += len(data)
        else:
            if self._run + first > RUN_LIMIT or (
                len(data) > RUN_LIMIT and re.search(b"[^<]{%d}" % (RUN_LIMIT + 1), data)
            ):
                raise too_long(self._source)
            self._run = len(data) - data.rfind(b"<") - 1
        if self._run > RUN_LIMIT:
            raise too_long(self._source)


def check_cell_lengths(values: Sequence[str]) -> None:
    """Refuse a row with a cell longer than the CSV field limit (a rejected row, like in a CSV file)."""
    for value in values:
        if len(value) > FIELD_LIMIT:
            raise InvalidInput(f"a cell holds {len(value)} characters, more than the CSV field limit {FIELD_LIMIT}")
