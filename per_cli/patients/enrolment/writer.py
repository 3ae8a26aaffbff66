"""Bulk enrolment's writes: one validated chunk of rows into the register, with its audit events, in one
transaction.

A chunk inserts the patients the register does not have yet and writes one ``patient.enrol`` event each, so a
run killed at any moment leaves whole chunks behind, and a re-run (or a second run over an overlapping file at
the same time) finds those patients already there and creates each one once. Rows are inserted in personnummer
order, so two concurrent PostgreSQL runs take row locks in the same order and cannot deadlock; there
``ON CONFLICT DO NOTHING … RETURNING`` tells this run's rows from a concurrent run's. SQLite has one writer at a
time (``BEGIN IMMEDIATE``), so there the chunk sees every committed patient and gives the new ones their ids.

Loaded only once the rows are being validated: SQLAlchemy takes a third of a second to import, which the
validation workers spend usefully meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DataError, IntegrityError

from per_cli.audit.events import Event, record_batch, record_many
from per_cli.db.faults import describe_refusal
from per_cli.db.models import CareUnit, Patient, table_of, utcnow
from per_cli.db.rows import (
    copy_allowed,
    copy_rows,
    copy_staged,
    insert_rows,
    insert_unnest_returning,
    staging_allowed,
    stored,
    where_in,
)
from per_cli.patients.enrolment.rows import EnrolRow, Summary
from per_cli.patients.search import search_columns
from per_cli.rights.tombstones import Tombstone, first_tombstone, hold_enrolment_lock, next_patient_id, tombstones

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from per_cli.unit_of_work import UnitOfWork

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
    "search_text",
    "sort_key",
)
#: a row's update: its line, the patient as read, the columns to change
_Update = tuple[int, Mapping[str, Any], dict[str, Any]]
_UPDATABLE = ("first_name", "last_name", "unit_id", "mobile", "mobile_type", "email", "pal", "comment", "registered_on")


def unit_ids(uow: UnitOfWork) -> tuple[dict[str, int], frozenset[str] | None]:
    """Care unit code -> id, as the register has them now, and the codes of the units this login may enrol in
    (None: every unit; a PostgreSQL staff login of registry or support has only its own)."""
    from per_cli.staff.scope import unit_scope

    with uow.transaction() as session:
        return dict(session.execute(select(CareUnit.code, CareUnit.id)).tuples().all()), unit_scope(session)


def write_chunk(
    uow: UnitOfWork,
    rows: list[EnrolRow],
    units: Mapping[str, int],
    summary: Summary,
    reject: Callable[[int, str], None],
    *,
    on_existing: str,
    dry_run: bool,
    override_objection: str | None = None,
    on_difference: Callable[[int, str, list[str]], None] | None = None,
) -> None:
    """Enrol the chunk's new patients and apply ``on_existing`` to the others, counting each row in ``summary``.

    ``on_difference(line, outcome, fields)`` hears of each existing patient whose row differs from the register:
    ``differs`` (kept as it is: skip) or ``updated`` (``--on-existing update``; in a dry run, would be), with
    the fields concerned (names only: what they hold is patient data).

    A row naming an erased or objecting person is rejected, unless ``override_objection`` gives staff's reason:
    then it is enrolled and its ``patient.enrol`` event records the reason and the erasure overridden.
    """
    with uow.transaction() as session:
        hold_enrolment_lock(session, exclusive=False)  # no erasure commits between these reads and the writes
        conn = session.connection()
        candidates = {c for row in rows for c in row.candidates}
        existing = _existing(conn, candidates)
        erased = tombstones(conn, candidates - existing.keys())
        inserts: list[EnrolRow] = []
        overridden: dict[str, Tombstone] = {}
        updates: list[_Update] = []
        for row in rows:
            matches = [existing[c] for c in row.candidates if c in existing] if existing else []
            if len(matches) > 1:
                reject(row.line, "personnummer: these 10 digits match more than one patient; give all 12 digits")
            elif not matches and erased and (tombstone := first_tombstone(erased, row.candidates)):
                if override_objection is None:
                    reject(row.line, f"personnummer: {tombstone.refusal(row.personnummer if row.is_short else None)}")
                else:  # 10 digits name the erased person, whichever century the number alone would mean
                    overridden[tombstone.personnummer] = tombstone
                    inserts.append(row._replace(personnummer=tombstone.personnummer))
            elif not matches:
                inserts.append(row)
            elif on_existing == "fail":
                reject(row.line, "personnummer: this patient is already enrolled (--on-existing fail)")
            elif not (changes := _changes(matches[0], _proposed(row, units))):
                summary.unchanged += 1
            elif on_existing == "update":
                updates.append((row.line, matches[0], changes))
                if on_difference is not None:
                    on_difference(row.line, "updated", _field_names(changes))
            else:
                summary.differs += 1
                if on_difference is not None:
                    on_difference(row.line, "differs", _field_names(changes))
        if dry_run:
            summary.created += len(inserts)
            summary.updated += len(updates)
            session.rollback()
            return
        extra = {
            pnr: {"override_objection": override_objection, "erased_on": t.erased_on.isoformat()}
            for pnr, t in overridden.items()
        }
        denied = _write(session, uow.actor, inserts, updates, units, summary, extra)
        if denied is None:
            # the database refused a row of the chunk: write row by row, so only the refused ones are rejected
            denied = []
            for row in list(inserts):
                denied += _write(session, uow.actor, [row], [], units, summary, extra, reject=reject) or []
            for change in updates:
                _write(session, uow.actor, [], [change], units, summary, extra, reject=reject)
        for line in denied:
            reject(line, HIDDEN)


#: the reason for a row whose patient is enrolled in a unit the login lacks (neither the unit nor the number)
HIDDEN = "personnummer: this patient is enrolled in a care unit not granted to you; an admin can enrol the row"


def _write(
    session: Session,
    actor: str,
    inserts: list[EnrolRow],
    updates: list[_Update],
    units: Mapping[str, int],
    summary: Summary,
    extra: Mapping[str, Mapping[str, Any]],
    *,
    reject: Callable[[int, str], None] | None = None,
) -> list[int] | None:
    """Write rows and their events under a savepoint; None, with nothing written, if the database refuses one.

    Returns the lines of the rows whose patient is enrolled in a unit the login lacks (the database wrote each
    as a denied access), for the caller to reject. With ``reject`` (one row at a time) the refused row is
    rejected with the database's reason, without its values. What the savepoint undid is undone in the counts
    and the session's cached audit chain tail too.
    """
    counts = (summary.created, summary.updated, summary.unchanged)
    info = dict(session.info)
    try:
        with session.begin_nested():
            conn = session.connection()  # asked for inside: that is what emits the SAVEPOINT
            entries, taken = _insert(conn, inserts, units, summary, extra)
            denied = _hidden(session, actor, taken)
            summary.unchanged += len(taken) - len(denied)  # enrolled meanwhile by a concurrent run
            record_batch(session, actor, "patient.enrol", entries)
            record_many(session, _update(conn, updates, summary, actor))
    except (DataError, IntegrityError) as error:
        summary.created, summary.updated, summary.unchanged = counts
        session.info.clear()
        session.info.update(info)
        if reject is not None:
            line = inserts[0].line if inserts else updates[0][0]
            reject(line, describe_refusal(error))
        return None
    return denied


def _hidden(session: Session, actor: str, taken: list[EnrolRow]) -> list[int]:
    """The lines of the rows whose patient row-level security hid (enrolled in a unit the login lacks)."""
    from per_cli.audit.events import claimed_actor
    from per_cli.staff.scope import refuse_hidden

    if not taken:
        return []
    numbers = [row.personnummer for row in taken]
    hidden = refuse_hidden(session, numbers, command="patient.enrol", claimed=claimed_actor(session, actor))
    return [row.line for row in taken if row.personnummer in hidden]


def _existing(conn: Connection, candidates: set[str]) -> dict[str, Any]:
    if not candidates:
        return {}
    condition, params = where_in(conn, "personnummer", sorted(candidates))
    rows = conn.exec_driver_sql(f"SELECT {', '.join(_EXISTING)} FROM patient WHERE {condition}", params)
    return {row[1]: dict(zip(_EXISTING, row, strict=True)) for row in rows}


def _changes(current: Mapping[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """Fields the file gives (non-empty) that differ from the register; empty cells keep what is stored."""
    return {k: proposed[k] for k in _UPDATABLE if proposed[k] is not None and not _same(current[k], proposed[k])}


def _field_names(changes: Mapping[str, Any]) -> list[str]:
    shown = [name for name in changes if name != "mobile_type" or "mobile" not in changes]
    return [{"unit_id": "unit"}.get(name, name) for name in shown]


def _same(kept: Any, given: Any) -> bool:
    """Compare a raw stored value with a validated one (SQLite hands dates back as text)."""
    if isinstance(given, date) and not isinstance(kept, date):
        return str(kept)[:10] == given.isoformat()
    return bool(kept == given)


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
    conn: Connection,
    rows: list[EnrolRow],
    units: Mapping[str, int],
    summary: Summary,
    extra: Mapping[str, Mapping[str, Any]],
) -> tuple[list[tuple[int | None, str | None, Mapping[str, Any]]], list[EnrolRow]]:
    """Insert the new patients; returns one audit entry (patient id, unit, details) per patient created, and the
    rows the register had meanwhile (a concurrent run's, or hidden from this login by row-level security).

    ``extra``: more audit details for some personnummer (an objection overridden).
    """
    if not rows:
        return [], []
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
            *_search(r.personnummer, r.first_name, r.last_name, r.email, r.mobile),
        )
        for r in rows
    ]
    ids: dict[str, int] | None
    if conn.dialect.name == "postgresql":
        ids = _copied(conn, table, values) if copy_allowed(conn, table) else None
        if ids is None:
            # RETURNING tells our rows from those a concurrent run inserted meanwhile (DO NOTHING returns none)
            if staging_allowed(conn):  # a staff login under row-level security: COPY into a staging table
                suffix = "ON CONFLICT (personnummer) DO NOTHING RETURNING id, personnummer"
                returned = copy_staged(conn, table, _INSERT, [_typed(v) for v in values], suffix=suffix)
            else:
                returned = insert_unnest_returning(
                    conn, table, _INSERT, values, conflict="personnummer", returning=("id", "personnummer")
                )
            ids = {row.personnummer: row.id for row in returned}
    else:
        # SQLite: this transaction has held the write lock (BEGIN IMMEDIATE) since it read `existing`, so no
        # other writer can have inserted any of these rows, and the ids are ours to give: the next after the
        # largest a patient or a tombstone has (an erased patient's id is never given again). A conflict cannot
        # happen; if it did, the chunk fails.
        first = next_patient_id(conn)
        insert_rows(conn, table, ("id", *_INSERT), [(first + i, *v) for i, v in enumerate(values)])
        ids = {r.personnummer: first + i for i, r in enumerate(rows)}
    summary.created += len(ids)
    entries: list[tuple[int | None, str | None, Mapping[str, Any]]] = [
        (ids[r.personnummer], r.unit, {"source": "file", "line": r.line, **extra.get(r.personnummer, {})})
        for r in rows
        if r.personnummer in ids
    ]
    return entries, [r for r in rows if r.personnummer not in ids]


def _copied(conn: Connection, table: Any, values: list[tuple[Any, ...]]) -> dict[str, int] | None:
    """PostgreSQL: the chunk's patients by binary ``COPY``, with ids taken from the table's sequence first (COPY
    returns none); personnummer -> id. None, with nothing written, when the COPY fails: a concurrent run enrolled
    one of them meanwhile (unique violation), or a value is refused; the INSERT path then sorts that out."""
    sequence = "SELECT nextval(pg_get_serial_sequence('patient', 'id')) FROM generate_series(1, %s)"
    new_ids = [int(row[0]) for row in conn.exec_driver_sql(sequence, (len(values),))]
    rows = ((pid, *_typed(v)) for pid, v in zip(new_ids, values, strict=True))
    try:
        with conn.begin_nested():
            copy_rows(conn, table, ("id", *_INSERT), rows)
    except (DataError, IntegrityError):
        return None
    return {v[0]: pid for pid, v in zip(new_ids, values, strict=True)}


_REGISTERED = _INSERT.index("registered_on")


def _typed(v: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row of ``_INSERT`` values as binary ``COPY`` takes it: the registration date as a ``date``."""
    return (*v[:_REGISTERED], date.fromisoformat(v[_REGISTERED]), *v[_REGISTERED + 1 :])


def _update(conn: Connection, updates: list[_Update], summary: Summary, actor: str) -> list[Event]:
    """Apply each row's changes to its patient (``current``: the patient as ``_existing`` read it)."""
    if not updates:
        return []
    table = table_of(Patient)
    codes = _unit_codes(conn)
    now = utcnow()
    events = []
    for line, current, changes in updates:  # few in practice; each row changes its own set of columns
        merged = {**current, **changes}
        text, key = _search(
            merged["personnummer"], merged["first_name"], merged["last_name"], merged["email"], merged["mobile"]
        )
        values = {**changes, "search_text": text, "sort_key": key}
        statement = update(table).where(table.c.id == bindparam("pid")).values(**values, updated_at=now)
        conn.execute(statement, {"pid": current["id"]})
        events.append(
            Event(
                actor=actor,
                action="patient.update",
                patient_id=current["id"],
                unit_code=codes[changes["unit_id"] if "unit_id" in changes else current["unit_id"]],
                details={"source": "file", "line": line, "changed": sorted(changes)},
            )
        )
    summary.updated += len(updates)
    return events


def _search(pnr: str, first: str, last: str, email: str | None, mobile: str | None) -> tuple[str, str]:
    """The search column and sort key of a row written here (``patients.search``)."""
    columns = search_columns(personnummer=pnr, first_name=first, last_name=last, email=email, mobile=mobile)
    return columns["search_text"], columns["sort_key"]


def _unit_codes(conn: Connection) -> dict[int, str]:
    return dict(conn.execute(select(CareUnit.id, CareUnit.code)).tuples().all())
