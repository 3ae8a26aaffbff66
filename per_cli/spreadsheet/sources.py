"""Open a bulk input file -- CSV, TSV, XLSX or stdin -- as a header plus streamed rows.

The format is decided by content, not by name: a ZIP signature means XLSX (so a piped workbook or a misnamed
``.csv`` still works), anything else is delimited text. Rows are streamed so a million-row file stays within a
few megabytes; each row carries its 1-based line (text) or row (XLSX) number in the file, so rejects and
messages can point the user at it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from per_cli.errors import InvalidInput
from per_cli.spreadsheet.table import Table

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
STDIN_SPOOL_BYTES = 8 << 20
"""Piped input up to this size stays in memory; larger input spills to an unlinked temporary file."""


@contextlib.contextmanager
def open_table(
    path: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    stdin: BinaryIO | None = None,
) -> Iterator[Table]:
    """Open ``path`` (``"-"`` for stdin) as a ``Table``; options that do not fit the format are refused."""
    with contextlib.ExitStack() as stack:
        if path == "-":
            source = "stdin"
            fp = stack.enter_context(_spool(stdin if stdin is not None else sys.stdin.buffer))
        else:
            source = path
            fp = stack.enter_context(_open_file(path))
        magic = fp.read(8)
        fp.seek(0)
        suffix = os.path.splitext(path)[1].lower()
        table: Table
        if magic.startswith(ZIP_MAGIC):
            if encoding is not None:
                raise InvalidInput(f"applies to CSV/TSV text; {source} is an XLSX workbook", field="encoding")
            if delimiter is not None:
                raise InvalidInput(f"applies to CSV/TSV text; {source} is an XLSX workbook", field="delimiter")
            from per_cli.spreadsheet.xlsx import XlsxTable  # openpyxl: 0.1 s, only for workbooks

            table = XlsxTable(fp, source, sheet)
        elif magic.startswith(OLE_MAGIC):
            raise InvalidInput(
                f"{source} is an Excel 97-2003 (.xls) or password-protected workbook; "
                "save it as .xlsx without a password, or as CSV",
                field="file",
            )
        elif suffix in XLSX_SUFFIXES:
            raise InvalidInput(f"{source} is not an XLSX workbook (no ZIP signature)", field="file")
        else:
            if sheet is not None:
                raise InvalidInput(f"applies to XLSX workbooks; {source} is a text file", field="sheet")
            from per_cli.spreadsheet.text import TextTable

            table = TextTable(fp, source, encoding=encoding, delimiter=delimiter)
        stack.callback(table.close)
        yield table


@contextlib.contextmanager
def _open_file(path: str) -> Iterator[BinaryIO]:
    try:
        fp = open(path, "rb")  # noqa: SIM115 -- closed by the with below, after the error mapping
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}", field="file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field="file") from None
    with fp:
        if fp.seekable():
            yield fp
        else:  # a pipe or process substitution (`--file <(…)`): read it once, like stdin
            with _spool(fp) as buf:
                yield buf


@contextlib.contextmanager
def _spool(stream: BinaryIO) -> Iterator[BinaryIO]:
    """Copy stdin to a seekable buffer: detection needs to look at the whole input before the first row."""
    with tempfile.SpooledTemporaryFile(max_size=STDIN_SPOOL_BYTES) as buf:
        shutil.copyfileobj(stream, buf, 1 << 20)
        buf.seek(0)
        yield buf  # type: ignore[misc]  # SpooledTemporaryFile is a BinaryIO in all but name
