"""Bulk enrolment: stream a spreadsheet, validate rows (on every core for large files), write in chunks.

Each chunk of rows is one transaction that inserts new patients with ``ON CONFLICT DO NOTHING`` and writes
their audit events, so a run killed at any moment leaves whole chunks behind, and a re-run (or a second run
over an overlapping file at the same time) finds those patients already there and creates each one once.
Rows within a chunk are written in personnummer order, so two concurrent PostgreSQL runs take row locks in
the same order and cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import partial
from itertools import chain, islice
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from per_cli.audit import Event, record_batch, record_many
from per_cli.db.models import CareUnit, Patient, table_of, utcnow
from per_cli.db.rows import insert_rows, insert_unnest_returning, stored, where_in
from per_cli.enrolment.rows import EnrolRow, RejectedRow, RowResult, validate_rows
from per_cli.errors import InvalidInput
from per_cli.patient_fields import validate_unit_code
from per_cli.spreadsheet.headers import map_headers
from per_cli.spreadsheet.rejects import RejectsWriter
from per_cli.spreadsheet.sources import open_table
from per_cli.workers import cpu_count, ordered_map

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
#: the columns a bulk insert fills, in the order of the tuples handed to the driver
_INSERT = (
    "personnummer",
    "first_name",
    "last_name",
    "unit_id",
    "mobile",
    "mobile_type",
    "email",
    "contact_person",
    "pal",
    "comment",
    "registered_on",
    "created_at",
    "updated_at",
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

    def duplicate_of(self, row: EnrolRow) -> int | None:
        for candidate in row.candidates:
            line = self.full.get(int(candidate))
            if line is not None:
                return line
        return self.short.get(int(row.personnummer[2:]))

    def add(self, row: EnrolRow) -> None:
        self.full[int(row.personnummer)] = row.line
        if row.is_short:
            self.short[int(row.personnummer[2:])] = row.line


def _chunks(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _validated(
    chunks: Iterator[list[tuple[int, list[str]]]],
    fn: Callable[[list[tuple[int, list[str]]]], list[RowResult]],
    workers: int | None,
) -> Iterator[tuple[list[tuple[int, list[str]]], list[RowResult]]]:
    """Validate chunk by chunk, in worker processes too once the file proves larger than one chunk."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    # one worker per core but this one: this process writes each chunk, and validates only when it would wait
    count = workers if workers is not None else cpu_count() - 1
    yield from ordered_map(fn, chain([first], [] if second is None else [second], chunks), count if second else 0)


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
            default_unit = validate_unit_code(opts.unit, field="--unit")
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
    valid: list[EnrolRow] = []
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
        seen.add(res)
        for warning in res.warnings:
            summary.warnings += 1
            on_warning(res.line, warning)
        valid.append(res)
    if not valid:
        return
    from sqlalchemy.orm import Session

    from per_cli.db.faults import translate_db_errors

    app.ensure_schema()
    with translate_db_errors(), Session(app.engine) as session, session.begin():
        conn = session.connection()
        existing = _existing(conn, {c for row in valid for c in row.candidates})
        inserts: list[EnrolRow] = []
        updates: list[tuple[int, int, dict[str, Any]]] = []
        for row in valid:
            matches = [existing[c] for c in row.candidates if c in existing] if existing else []
            if len(matches) > 1:
                reject(row.line, "personnummer: these 10 digits match more than one patient; give all 12 digits")
            elif not matches:
                inserts.append(row)
            elif opts.on_existing == "fail":
                reject(row.line, "personnummer: this patient is already enrolled (--on-existing fail)")
            elif opts.on_existing == "update" and (changes := _changes(matches[0], _proposed(row, units))):
                updates.append((row.line, matches[0]["id"], changes))
            else:
                summary.unchanged += 1
        if opts.dry_run:
            summary.created += len(inserts)
            summary.updated += len(updates)
            session.rollback()
            return
        record_batch(session, app.actor, "patient.enrol", _insert(conn, inserts, units, summary))
        record_many(session, _update(conn, updates, summary, app.actor))


def _proposed(row: EnrolRow, units: Mapping[str, int]) -> dict[str, Any]:
    """The row's updatable columns, as the ORM writes them."""
    return {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "unit_id": units[row.unit],
        "mobile": row.mobile,
        "mobile_type": row.mobile_type,
        "email": row.email,
        "pal": row.pal,
        "comment": row.comment,
        "registered_on": date.fromisoformat(row.registered_on),
    }


def _insert(
    conn: Connection, rows: list[EnrolRow], units: Mapping[str, int], summary: Summary
) -> list[tuple[int | None, str | None, Mapping[str, Any]]]:
    """Insert the new patients; returns one audit entry (patient id, unit, details) per patient created."""
    if not rows:
        return []
    rows.sort(key=attrgetter("personnummer"))
    table = table_of(Patient)
    now = stored(conn, utcnow())
    values = [
        (
            r.personnummer,
            r.first_name,
            r.last_name,
            units[r.unit],
            r.mobile,
            r.mobile_type,
            r.email,
            "patient",
            r.pal,
            r.comment,
            r.registered_on,  # ISO text: SQLite's storage form of a date; PostgreSQL casts it
            now,
            now,
        )
        for r in rows
    ]
    ids: dict[str, int]
    if conn.dialect.name == "postgresql":
        # RETURNING tells our rows from those a concurrent run inserted meanwhile (DO NOTHING returns none)
        returned = insert_unnest_returning(
            conn, table, _INSERT, values, conflict="personnummer", returning=("id", "personnummer")
        )
        ids = {row.personnummer: row.id for row in returned}
    else:
        # SQLite: this transaction has held the write lock (BEGIN IMMEDIATE) since it read `existing`, so no
        # other writer can have inserted any of these rows, and the ids are ours to give: the next after the
        # largest, exactly what SQLite itself would choose. A conflict cannot happen; if it did, the chunk fails.
        first = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM patient").scalar_one())
        insert_rows(conn, table, ("id", *_INSERT), [(first + i, *v) for i, v in enumerate(values)])
        ids = {r.personnummer: first + i for i, r in enumerate(rows)}
    summary.created += len(ids)
    summary.unchanged += len(rows) - len(ids)  # enrolled meanwhile by a concurrent run
    return [(ids[r.personnummer], r.unit, {"source": "file", "line": r.line}) for r in rows if r.personnummer in ids]


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
