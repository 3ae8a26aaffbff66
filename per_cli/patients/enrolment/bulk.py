"""Bulk enrolment: stream a spreadsheet, validate its rows (on every core for large files), write them in chunks.

This module reads, validates and screens rows (known unit, not named earlier in the file) and reports each
rejected row; ``writer`` puts each screened chunk into the register in one transaction. Nothing here imports
SQLAlchemy: the validation workers start first and work while this process loads the database layer.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from itertools import chain, islice
from typing import TYPE_CHECKING

from per_cli.errors import InvalidInput
from per_cli.files import check_target
from per_cli.patients.enrolment.rows import EnrolRow, RejectedRow, RowResult, Summary, validate_rows
from per_cli.patients.fields import override_reason, validate_unit_code
from per_cli.spreadsheet.headers import map_headers
from per_cli.spreadsheet.rejects import RejectsWriter
from per_cli.spreadsheet.sources import open_table
from per_cli.workers import cpu_count, ordered_map

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

CHUNK = 2000


@dataclass(frozen=True)
class BulkOptions:
    file: str
    unit: str | None = None
    dry_run: bool = False
    on_existing: str = "skip"
    rejects: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    ignore_unknown_columns: bool = False
    override_objection: str | None = None  # staff's reason to enrol erased or objecting people all the same
    chunk_size: int = CHUNK
    workers: int | None = None  # validation processes; 0: validate inline; None: one per core but the main one


Reject = Callable[[int, str], None]
#: after each chunk: the counts so far, the share of the input read (None: unknown) and the data rows in it
Progress = Callable[[Summary, float | None, int | None], None]


class _Seen:
    """Who the file has named so far: any form of one person's number twice is a duplicate row.

    Kept in a private temporary SQLite database (``sqlite3.connect("")``: a file of its own, deleted on close,
    with a small page cache), not in Python sets: a dict of a million numbers and lines holds ~100 MB, this
    ~2 MB whatever the size of the file. Each chunk asks once (``look_up``) for all its rows' numbers; rows
    accepted are stored once the chunk is screened (``store``).
    """

    def __init__(self) -> None:
        import sqlite3

        self._db = sqlite3.connect("")
        # full: canonical 12 digits; short: the last 10 digits of rows given as 10 digits; value: the first line
        self._db.execute("CREATE TABLE full (number INTEGER PRIMARY KEY, line INTEGER NOT NULL)")
        self._db.execute("CREATE TABLE short (number INTEGER PRIMARY KEY, line INTEGER NOT NULL)")
        self._full: dict[int, int] = {}  # the chunk's own: looked up, and accepted in it
        self._short: dict[int, int] = {}
        self._new_full: list[tuple[int, int]] = []
        self._new_short: list[tuple[int, int]] = []

    def look_up(self, rows: list[EnrolRow]) -> None:
        """Load what earlier chunks stored about these rows' numbers."""
        import json

        self._full, self._short = {}, {}
        for table, found, numbers in (
            ("full", self._full, {int(c) for row in rows for c in row.candidates}),
            ("short", self._short, {int(row.personnummer[2:]) for row in rows}),
        ):
            query = f"SELECT number, line FROM {table} WHERE number IN (SELECT value FROM json_each(?))"
            found.update(self._db.execute(query, (json.dumps(sorted(numbers)),)))

    def duplicate_of(self, row: EnrolRow) -> int | None:
        for candidate in row.candidates:
            line = self._full.get(int(candidate))
            if line is not None:
                return line
        return self._short.get(int(row.personnummer[2:]))

    def add(self, row: EnrolRow) -> None:
        number = int(row.personnummer)
        if number not in self._full:
            self._full[number] = row.line
            self._new_full.append((number, row.line))
        if row.is_short and (short := int(row.personnummer[2:])) not in self._short:
            self._short[short] = row.line
            self._new_short.append((short, row.line))

    def store(self) -> None:
        """Keep the chunk's accepted rows for the chunks after it."""
        self._db.executemany("INSERT INTO full VALUES (?, ?)", self._new_full)
        self._db.executemany("INSERT INTO short VALUES (?, ?)", self._new_short)
        self._new_full, self._new_short = [], []

    def close(self) -> None:
        self._db.close()


def _chunks(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


@contextmanager
def _validated(
    chunks: Iterator[list[tuple[int, list[str]]]],
    fn: Callable[[list[tuple[int, list[str]]]], list[RowResult]],
    workers: int | None,
) -> Iterator[Iterator[tuple[list[tuple[int, list[str]]], list[RowResult]]]]:
    """Validate chunk by chunk, in worker processes too once the file proves larger than one chunk."""
    head = list(islice(chunks, 2))
    # one worker per core but this one: this process writes each chunk, and validates only when it would wait
    count = (workers if workers is not None else cpu_count() - 1) if len(head) == 2 else 0
    with ordered_map(fn, chain(head, chunks), count) as validated:
        yield validated


@contextmanager
def _fewer_collections(threshold: int = 20_000) -> Iterator[None]:
    """Run the young-generation collector every ``threshold`` allocations instead of every 700.

    This process holds chunks of rows read ahead and in flight, so each of the default's frequent collections
    walks thousands of live containers: on 100 000 rows they took about a tenth of its time (0.57 s), at this
    threshold about a hundredth (0.07 s). Cycles are still collected, only less often.
    """
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def enrol_file(
    uow: UnitOfWork,
    opts: BulkOptions,
    *,
    on_reject: Reject,
    on_warning: Callable[[int, str], None],
    on_progress: Progress | None = None,
    on_difference: Callable[[int, str, list[str]], None] | None = None,
) -> Summary:
    """Enrol every row of ``opts.file``; each rejected row goes to ``on_reject`` (and the rejects file), in the
    order of the file; an existing patient whose row differs goes to ``on_difference`` (``writer.write_chunk``)."""
    if opts.on_existing not in ("skip", "update", "fail"):
        raise InvalidInput("must be skip, update or fail", field="on_existing")
    override = override_reason(opts.override_objection)
    summary = Summary(dry_run=opts.dry_run, rejects_file=opts.rejects)
    inputs = () if opts.file == "-" else (opts.file,)
    if opts.rejects:
        check_target(opts.rejects, field="rejects", inputs=inputs)  # before a row is read
    chunk_size = uow.config.get_int("enrolment", "chunk_size", opts.chunk_size, lo=1, hi=50_000)
    with (
        _fewer_collections(),
        open_table(opts.file, encoding=opts.encoding, delimiter=opts.delimiter, sheet=opts.sheet) as table,
    ):
        mapping = map_headers(
            table.columns,
            ignore_unknown=opts.ignore_unknown_columns,
            required=("personnummer", "first_name", "last_name"),
            hint=table.sheet_hint(),
        )
        if "unit" not in mapping.values() and not opts.unit:
            raise InvalidInput("has no unit column (enhet/unit); give --unit CODE for its rows", field="file")
        default_unit = validate_unit_code(opts.unit, field="default_unit") if opts.unit else None
        last_line = table.last_line() if on_progress else None
        total = last_line - table.header_line if last_line and last_line > table.header_line else None
        fn = partial(
            validate_rows, mapping=mapping, width=len(table.columns), default_unit=default_unit, today=date.today()
        )
        with _validated(_chunks(table.rows(), chunk_size), fn, opts.workers) as validated:
            from per_cli.patients.enrolment.writer import unit_ids, write_chunk  # SQLAlchemy: the workers run meanwhile

            units, scope = unit_ids(uow)
            if default_unit is not None and default_unit not in units:
                raise InvalidInput(f"no care unit {default_unit}; see `per unit list`", field="default_unit")
            rejects = RejectsWriter.for_table(opts.rejects, table, inputs=inputs) if opts.rejects else None
            seen = _Seen()
            try:
                for chunk, results in validated:
                    pending: list[tuple[int, str]] = []  # screening rejects first, the register's after: sorted
                    try:
                        valid = _screen(results, units, seen, summary, _collect(pending), on_warning, scope)
                        if valid:
                            write_chunk(
                                uow,
                                valid,
                                units,
                                summary,
                                _collect(pending),
                                on_existing=opts.on_existing,
                                dry_run=opts.dry_run,
                                override_objection=override,
                                on_difference=on_difference,
                            )
                    finally:
                        values = dict(chunk)
                        for line, reason in sorted(pending):
                            summary.rejected += 1
                            on_reject(line, reason)
                            if rejects is not None:
                                rejects.write(line, values[line], reason)
                    if on_progress:
                        done = chunk[-1][0] - table.header_line
                        on_progress(summary, min(done / total, 1.0) if total else None, total)
            finally:
                seen.close()
                if rejects is not None:
                    rejects.close()
    return summary


def _collect(pending: list[tuple[int, str]]) -> Reject:
    return lambda line, reason: pending.append((line, reason))


def _screen(
    results: list[RowResult],
    units: Mapping[str, int],
    seen: _Seen,
    summary: Summary,
    reject: Reject,
    on_warning: Callable[[int, str], None],
    scope: frozenset[str] | None = None,
) -> list[EnrolRow]:
    """The chunk's rows that may be written: valid, not named earlier in the file, and of a known unit that the
    login may enrol in (``scope``: those units' codes; None: every unit)."""
    summary.read += len(results)
    valid: list[EnrolRow] = []
    seen.look_up([res for res in results if isinstance(res, EnrolRow)])
    for res in results:
        if isinstance(res, RejectedRow):
            reject(res.line, res.reason)
            continue
        first = seen.duplicate_of(res)
        if first is not None:
            reject(res.line, f"personnummer: the same person as on line {first}")
            continue
        if res.unit not in units:
            reject(res.line, f"unit: no care unit {res.unit}; see `per unit list`")
            continue
        if scope is not None and res.unit not in scope:
            reject(res.line, f"unit: care unit {res.unit} is not granted to you; an admin can (`per staff grant`)")
            continue
        seen.add(res)
        for warning in res.warnings:
            summary.warnings += 1
            on_warning(res.line, warning)
        valid.append(res)
    seen.store()
    return valid
