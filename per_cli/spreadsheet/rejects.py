"""The rejects file: refused rows in the input's own columns plus ``line`` and ``reason``, so the user can fix
them in the same program they came from and feed the file back (``line``/``reason`` are ignored on input).

Format: a path ending in ``.xlsx`` gets a workbook (cells written as text, so a value such as ``=1+1`` is never
turned into a formula); ``.tsv`` gets tab-separated text; anything else gets delimited text in the input's
delimiter and encoding. For an XLSX input that means UTF-8 with BOM and ``;`` -- what Excel with Swedish regional
settings opens correctly by double-click. Characters the output encoding cannot hold (Windows-1252 input, a
reason quoting a rare character) become ``?`` rather than losing the row. The file is created, header included,
even when nothing is rejected, so scripts always find it. Rows are written as they come: nothing is buffered.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from per_cli.files import PrivateFile
from per_cli.spreadsheet.cells import CsvWriter, excel_cell
from per_cli.spreadsheet.table import Table

EXTRA_COLUMNS = ("line", "reason")


class RejectsWriter:
    """Streams rejected rows to ``path`` (``-``: stdout); use as a context manager or call ``close()``.

    The file is private and whole (``per_cli.files``): it appears under its name when the run ends, and a
    write error (full disk) leaves no half file. Cells are written by the spreadsheet writer, so a rejected
    value such as ``=HYPERLINK(…)`` is never a formula when the file is opened.
    """

    def __init__(
        self,
        path: str,
        columns: Sequence[str],
        *,
        kind: str,
        delimiter: str | None,
        encoding: str | None,
        inputs: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.count = 0
        # a fed-back rejects file already has line/reason: replace them rather than repeat them
        self._keep = [i for i, c in enumerate(columns) if c.strip().casefold() not in EXTRA_COLUMNS]
        names = [columns[i] for i in self._keep] + list(EXTRA_COLUMNS)
        self._csv: CsvWriter | None = None
        self._wb: Any = None
        self._ws: Any = None
        if path.lower().endswith(".xlsx"):
            import openpyxl  # type: ignore[import-untyped]

            self._file = PrivateFile(path, field="rejects", binary=True, inputs=inputs)
            self._wb = openpyxl.Workbook(write_only=True)
            self._ws = self._wb.create_sheet("rejects")
            self._ws.append([excel_cell(self._ws, n) for n in names])
        else:
            if kind == "xlsx" or encoding is None:
                encoding = "utf-8-sig"
            if path.lower().endswith(".tsv"):
                delimiter = "\t"
            elif delimiter is None:
                delimiter = ";" if kind == "xlsx" else ","
            self._file = PrivateFile(path, field="rejects", encoding=encoding, errors="replace", inputs=inputs)
            self._csv = CsvWriter(self._file.stream, delimiter=delimiter, lineterminator="\r\n")
            self._write(names)

    @classmethod
    def for_table(cls, path: str, table: Table, *, inputs: tuple[str, ...] = ()) -> RejectsWriter:
        """A writer matching ``table``'s columns, format, delimiter and encoding."""
        return cls(
            path, table.columns, kind=table.kind, delimiter=table.delimiter, encoding=table.encoding, inputs=inputs
        )

    def _write(self, row: list[Any]) -> None:
        if self._csv is not None:
            try:
                self._csv.writerow(row)
            except OSError as exc:  # a full disk: no half file, one line
                self._file.fail(exc)

    def write(self, line: int, values: Sequence[str], reason: str) -> None:
        """One rejected row: its cells as read, the line it came from, and why."""
        n = len(values)
        row = [values[i] if i < n else "" for i in self._keep]
        self.count += 1
        if self._csv is not None:
            self._write([*row, line, reason])
        else:  # a write-only workbook: rows stream to openpyxl's own temporary file, zipped at the end
            cells = [excel_cell(self._ws, value) for value in [*row, reason]]
            cells.insert(len(row), line)
            self._ws.append(cells)

    def close(self) -> None:
        """Finish the file and put it under its name; idempotent."""
        if self._wb is not None:
            wb, self._wb = self._wb, None
            try:
                wb.save(self._file.stream)
            except OSError as exc:
                self._file.fail(exc)
        self._file.commit()

    def discard(self) -> None:
        """Leave no file (the run was refused before any row was read)."""
        self._file.discard()

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
