"""Bulk enrolment: stream a spreadsheet, validate rows (on every core for large files), write in chunks.

Each chunk of rows is one transaction that inserts new patients with ``ON CONFLICT DO NOTHING`` and writes
their audit events, so a run killed at any moment leaves whole chunks behind, and a re-run (or a second run
over an overlapping file at the same time) finds those patients already there and creates each one once.
Rows within a chunk are written in personnummer order, so two concurrent PostgreSQL runs take row locks in
the same order and cannot deadlock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from per_cli.audit import Event, record_many
from per_cli.db.models import CareUnit, Patient, table_of, utcnow
from per_cli.db.rows import insert_rows, insert_unnest_returning, where_in
from per_cli.enrolment.rows import RowResult, validate_rows
from per_cli.errors import InvalidInput
from per_cli.patients import PatientData, new_patient
from per_cli.spreadsheet.headers import map_headers
from per_cli.spreadsheet.rejects import RejectsWriter
from per_cli.spreadsheet.sources import open_table
from per_cli.workers import cpu_count, process_pool

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from per_cli.app import App

CHUNK = 2000
_EXISTING = (
    "id",
    "personnummer",
    "unit_id",
    "first_name",
    "last_name",
    "mobile",
    "mobile_type",
    "email",
    "pal",
    "comment",
    "registered_on",
)
_UPDATABLE = ("first_name", "last_name", "unit_id", "mobile", "mobile_type", "email", "pal", "comment", "registered_on")


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
    chunk_size: int = CHUNK
    workers: int | None = None  # validation processes; 0: validate inline; None: one per core but the main one


@dataclass
class Summary:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    dry_run: bool = False
    warnings: int = 0
    rejects_file: str | None = field(default=None)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


Reject = Callable[[int, str], None]


@dataclass
class _Seen:
    """Who the file has named so far: any form of one person's number twice is a duplicate row."""

    full: dict[int, int] = field(default_factory=dict)  # canonical 12 digits -> line
    short: dict[int, int] = field(default_factory=dict)  # last 10 digits of rows given as 10 digits -> line

    def duplicate_of(self, data: PatientData) -> int | None:
        for candidate in data.candidates:
            line = self.full.get(int(candidate))
            if line is not None:
                return line
        return self.short.get(int(data.personnummer.canonical[2:]))

    def add(self, data: PatientData, line: int) -> None:
        self.full[int(data.personnummer.canonical)] = line
        if data.is_short:
            self.short[int(data.personnummer.canonical[2:])] = line


def _chunks(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _validated(
    chunks: Iterator[list[tuple[int, list[str]]]],
    fn: Callable[[Sequence[tuple[int, list[str]]]], list[RowResult]],
    workers: int | None,
) -> Iterator[tuple[list[tuple[int, list[str]]], list[RowResult]]]:
    """Validate chunk by chunk, in worker processes once the file proves larger than one chunk."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    # the main process is busy writing the previous chunk meanwhile: leave it a core of its own
    count = workers if workers is not None else cpu_count() - 1
    if second is None or count < 1:
        yield first, fn(first)
        if second is not None:
            yield second, fn(second)
            for chunk in chunks:
                yield chunk, fn(chunk)
        return
    with process_pool(count) as pool:
        pending = deque([(first, pool.submit(fn, first)), (second, pool.submit(fn, second))])
        for chunk in chunks:
            pending.append((chunk, pool.submit(fn, chunk)))
            if len(pending) > 2 * count:  # bounded read-ahead keeps memory flat on huge files
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def _units(app: App) -> dict[str, int]:
    with app.transaction() as session:
        return dict(session.execute(select(CareUnit.code, CareUnit.id)).tuples().all())


def _existing(conn: Connection, candidates: set[str]) -> dict[str, Any]:
    if not candidates:
        return {}
    condition, params = where_in(conn, "personnummer", sorted(candidates))
    rows = conn.exec_driver_sql(f"SELECT {', '.join(_EXISTING)} FROM patient WHERE {condition}", params)
    return {row[1]: dict(zip(_EXISTING, row, strict=True)) for row in rows}


def _changes(current: Mapping[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """Fields the file gives (non-empty) that differ from the register; empty cells keep what is stored."""
    return {k: proposed[k] for k in _UPDATABLE if proposed[k] is not None and not _same(current[k], proposed[k])}


def _same(stored: Any, given: Any) -> bool:
    """Compare a raw stored value with a validated one (SQLite hands dates back as text)."""
    if isinstance(given, date) and not isinstance(stored, date):
        return str(stored)[:10] == given.isoformat()
    return bool(stored == given)


def enrol_file(
    app: App,
    opts: BulkOptions,
    *,
    on_reject: Reject,
    on_warning: Callable[[int, str], None],
    on_progress: Callable[[Summary], None] | None = None,
) -> Summary:
    if opts.on_existing not in ("skip", "update", "fail"):
        raise InvalidInput("must be skip, update or fail", field="--on-existing")
    summary = Summary(dry_run=opts.dry_run, rejects_file=opts.rejects)
    chunk_size = app.config.get_int("enrolment", "chunk_size", opts.chunk_size, lo=1, hi=50_000)
    with open_table(opts.file, encoding=opts.encoding, delimiter=opts.delimiter, sheet=opts.sheet) as table:
        mapping = map_headers(
            table.columns,
            ignore_unknown=opts.ignore_unknown_columns,
            required=("personnummer", "first_name", "last_name"),
        )
        if "unit" not in mapping.values() and not opts.unit:
            raise InvalidInput("has no unit column (enhet/unit); give --unit CODE for its rows", field="--file")
        units = _units(app)
        default_unit = None
        if opts.unit:
            from per_cli.units import validate_code

            default_unit = validate_code(opts.unit, field="--unit")
            if default_unit not in units:
                raise InvalidInput(f"no care unit {default_unit}; see `per unit list`", field="--unit")
        rejects = RejectsWriter.for_table(opts.rejects, table) if opts.rejects else None
        try:
            fn = partial(
                validate_rows, mapping=mapping, width=len(table.columns), default_unit=default_unit, today=date.today()
            )
            seen = _Seen()
            for chunk, results in _validated(_chunks(table.rows(), chunk_size), fn, opts.workers):
                values = dict(chunk)

                def reject(line: int, reason: str, values: dict[int, list[str]] = values) -> None:
                    summary.rejected += 1
                    on_reject(line, reason)
                    if rejects is not None:
                        rejects.write(line, values[line], reason)

                _process_chunk(app, opts, results, units, seen, summary, reject, on_warning)
                if on_progress:
                    on_progress(summary)
        finally:
            if rejects is not None:
                rejects.close()
    return summary


def _process_chunk(
    app: App,
    opts: BulkOptions,
    results: list[RowResult],
    units: dict[str, int],
    seen: _Seen,
    summary: Summary,
    reject: Reject,
    on_warning: Callable[[int, str], None],
) -> None:
    summary.read += len(results)
    valid: list[tuple[int, PatientData]] = []
    for res in results:
        if res.data is None:
            reject(res.line, res.reason or "invalid")
            continue
        first = seen.duplicate_of(res.data)
        if first is not None:
            reject(res.line, f"personnummer: the same person as on line {first}")
            continue
        if res.data.unit not in units:
            reject(res.line, f"unit: no care unit {res.data.unit}; see `per unit list`")
            continue
        seen.add(res.data, res.line)
        for warning in res.data.warnings:
            summary.warnings += 1
            on_warning(res.line, warning)
        valid.append((res.line, res.data))
    if not valid:
        return
    from sqlalchemy.orm import Session

    from per_cli.db.faults import translate_db_errors

    app.ensure_schema()
    with translate_db_errors(), Session(app.engine) as session, session.begin():
        conn = session.connection()
        existing = _existing(conn, {c for _, d in valid for c in d.candidates})
        inserts: list[tuple[int, dict[str, Any]]] = []
        now = utcnow()
        updates: list[tuple[int, int, dict[str, Any]]] = []
        for line, data in valid:
            matches = [existing[c] for c in data.candidates if c in existing]
            if len(matches) > 1:
                reject(line, "personnummer: these 10 digits match more than one patient; give all 12 digits")
                continue
            proposed = new_patient(data, units[data.unit], now)
            if not matches:
                inserts.append((line, proposed))
            elif opts.on_existing == "fail":
                reject(line, "personnummer: this patient is already enrolled (--on-existing fail)")
            elif opts.on_existing == "update" and (changes := _changes(matches[0], proposed)):
                updates.append((line, matches[0]["id"], changes))
            else:
                summary.unchanged += 1
        if opts.dry_run:
            summary.created += len(inserts)
            summary.updated += len(updates)
            session.rollback()
            return
        events = _insert(conn, inserts, summary, app.actor)
        events += _update(conn, updates, summary, app.actor)
        record_many(session, events)


def _insert(conn: Connection, inserts: list[tuple[int, dict[str, Any]]], summary: Summary, actor: str) -> list[Event]:
    if not inserts:
        return []
    inserts.sort(key=lambda item: item[1]["personnummer"])
    table = table_of(Patient)
    values = [v for _, v in inserts]
    columns = list(values[0])
    tuples = [tuple(v[c] for c in columns) for v in values]
    if conn.dialect.name == "postgresql":
        # RETURNING tells our rows from those a concurrent run inserted meanwhile (DO NOTHING returns none)
        rows = insert_unnest_returning(
            conn, table, columns, tuples, conflict="personnummer", returning=("id", "personnummer", "unit_id")
        )
        created = {row.personnummer: row for row in rows}
    else:
        # SQLite: this transaction has held the write lock (BEGIN IMMEDIATE) since it read `existing`, so no
        # other writer inserted any of these rows meanwhile; read the new ids back in one query
        insert_rows(conn, table, columns, tuples, suffix="ON CONFLICT (personnummer) DO NOTHING")
        condition, params = where_in(conn, "personnummer", [v["personnummer"] for v in values])
        query = f"SELECT id, personnummer, unit_id FROM patient WHERE {condition}"
        created = {row.personnummer: row for row in conn.exec_driver_sql(query, params)}
    summary.created += len(created)
    summary.unchanged += len(inserts) - len(created)  # enrolled meanwhile by a concurrent run
    codes = _unit_codes(conn)
    return [
        Event(
            actor=actor,
            action="patient.enrol",
            patient_id=created[v["personnummer"]].id,
            unit_code=codes[v["unit_id"]],
            details={"source": "file", "line": line},
        )
        for line, v in inserts
        if v["personnummer"] in created
    ]


def _update(
    conn: Connection, updates: list[tuple[int, int, dict[str, Any]]], summary: Summary, actor: str
) -> list[Event]:
    if not updates:
        return []
    table = table_of(Patient)
    codes = _unit_codes(conn)
    now = utcnow()
    events = []
    for line, patient_id, changes in updates:  # few in practice; each row changes its own set of columns
        conn.execute(
            update(table).where(table.c.id == bindparam("pid")).values(**changes, updated_at=now), {"pid": patient_id}
        )
        unit_id = changes.get("unit_id")
        unit_code = (
            codes[unit_id]
            if unit_id
            else conn.execute(
                select(CareUnit.code).join(Patient, Patient.unit_id == CareUnit.id).where(Patient.id == patient_id)
            ).scalar_one()
        )
        events.append(
            Event(
                actor=actor,
                action="patient.update",
                patient_id=patient_id,
                unit_code=unit_code,
                details={"source": "file", "line": line, "changed": sorted(changes)},
            )
        )
    summary.updated += len(updates)
    return events


def _unit_codes(conn: Connection) -> dict[int, str]:
    return dict(conn.execute(select(CareUnit.id, CareUnit.code)).tuples().all())
