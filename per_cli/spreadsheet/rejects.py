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

import csv
from collections.abc import Sequence
from types import TracebackType
from typing import Any, TextIO

from per_cli.errors import InvalidInput
from per_cli.spreadsheet.table import Table

EXTRA_COLUMNS = ("line", "reason")


class RejectsWriter:
    """Streams rejected rows to ``path``; use as a context manager or call ``close()``."""

    def __init__(
        self,
        path: str,
        columns: Sequence[str],
        *,
        kind: str,
        delimiter: str | None,
        encoding: str | None,
    ) -> None:
        self.path = path
        self.count = 0
        # a fed-back rejects file already has line/reason: replace them rather than repeat them
        self._keep = [i for i, c in enumerate(columns) if c.strip().casefold() not in EXTRA_COLUMNS]
        names = [columns[i] for i in self._keep] + list(EXTRA_COLUMNS)
        lower = path.lower()
        self._text: TextIO | None = None
        self._csv: Any = None
        self._wb: Any = None
        self._ws: Any = None
        try:
            if lower.endswith(".xlsx"):
                import openpyxl  # type: ignore[import-untyped]

                open(path, "wb").close()  # fail now, not after the run, if the path is unwritable
                self._wb = openpyxl.Workbook(write_only=True)
                self._ws = self._wb.create_sheet("rejects")
                self._ws.append(names)
            else:
                if kind == "xlsx" or encoding is None:
                    encoding = "utf-8-sig"
                if lower.endswith(".tsv"):
                    delimiter = "\t"
                elif delimiter is None:
                    delimiter = ";" if kind == "xlsx" else ","
                self._text = open(path, "w", encoding=encoding, errors="replace", newline="")  # noqa: SIM115
                self._csv = csv.writer(self._text, delimiter=delimiter, lineterminator="\r\n")
                self._csv.writerow(names)
        except OSError as exc:
            raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}", field="rejects") from None

    @classmethod
    def for_table(cls, path: str, table: Table) -> RejectsWriter:
        """A writer matching ``table``'s columns, format, delimiter and encoding."""
        return cls(path, table.columns, kind=table.kind, delimiter=table.delimiter, encoding=table.encoding)

    def write(self, line: int, values: Sequence[str], reason: str) -> None:
        """One rejected row: its cells as read, the line it came from, and why."""
        n = len(values)
        row = [values[i] if i < n else "" for i in self._keep]
        self.count += 1
        if self._csv is not None:
            self._csv.writerow([*row, line, reason])
        else:
            from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

            cells = []
            for value in [*row, reason]:
                cell = WriteOnlyCell(self._ws, value=value)
                cell.data_type = "s"  # never a formula, whatever the text starts with
                cells.append(cell)
            cells.insert(len(row), line)
            self._ws.append(cells)

    def close(self) -> None:
        """Flush and close; idempotent."""
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._wb is not None:
            wb, self._wb = self._wb, None
            try:
                wb.save(self.path)
            except OSError as exc:
                raise InvalidInput(f"cannot write {self.path}: {exc.strerror or exc}", field="rejects") from None

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
