"""``per patient erase``: delete every row about a patient in one transaction and leave a tombstone.

Which rows are "about the patient" is read from the schema, not listed by hand: the patient row, every row whose
foreign key leads to it (directly, or through rows that do: a registration's answers, a session's
registrations), and every row of a table with a ``patient_id`` or ``personnummer`` column. A table added later
is therefore erased too; only the access log and the tombstones themselves are kept (README, "Patients'
rights"), and ``tests/rights/test_erase.py`` fails when a table with patient data is neither erased nor kept
on purpose.

The erasure takes the enrolment lock exclusively (``rights.tombstones``) and then the patient row itself, so a
bulk enrolment or a login touching the same patient either finishes first (and its rows are erased with the
rest) or comes after and finds the tombstone: never half a patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, delete, func, or_, select
from sqlalchemy.orm import Session

from per_cli.db.models import Base, Patient, PatientErasure, utcnow
from per_cli.errors import Contention, InvalidInput
from per_cli.patients.fields import optional_text
from per_cli.patients.register import display_pnr, find_patient, load_with_unit
from per_cli.rights.tombstones import REASONS, hold_enrolment_lock

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

#: tables kept on purpose: the access log (evidence with its own retention), its prune anchors, the tombstones
KEPT = frozenset({"audit_event", "audit_anchor", "patient_erasure"})

#: how the tables read in the preview and the summary line (a table without a label is named as it is)
LABELS: Mapping[str, str] = {
    "patient": "profile and contact details",
    "patient_credential": "password and login state",
    "password_delivery": "password deliveries",
    "otp_challenge": "one-time codes",
    "otp_send": "one-time code sends",
    "login_session": "sessions",
    "registration": "registrations",
    "registration_part": "scale answers and scores",
    "campaign_target": "places in password campaigns",
}


def rows_about(patient_id: int, personnummer: str) -> list[tuple[Table, ColumnElement[bool]]]:
    """Every table with rows about the patient and the condition that picks them, children before parents."""
    about: dict[str, ColumnElement[bool]] = {}
    tables = Base.metadata.sorted_tables  # parents before the tables that refer to them
    for table in tables:
        if table.name in KEPT:
            continue
        if table.name == Patient.__tablename__:
            about[table.name] = table.c.id == patient_id
            continue
        parts: list[ColumnElement[bool]] = []
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name == Patient.__tablename__:
                parts.append(fk.parent == patient_id)
            elif parent.name in about:
                parts.append(fk.parent.in_(select(fk.column).where(about[parent.name])))
        for column in table.columns:
            if column.name == "patient_id" and not column.foreign_keys:
                parts.append(column == patient_id)
            elif column.name == "personnummer":
                parts.append(column == personnummer)
        if parts:
            about[table.name] = or_(*parts)
    return [(table, about[table.name]) for table in reversed(tables) if table.name in about]


def _label(table: str) -> str:
    return LABELS.get(table, table)


def in_order(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts per table in reading order: the labelled tables as ``LABELS`` lists them, then any others."""
    order = {table: i for i, table in enumerate(LABELS)}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def describe(counts: Mapping[str, int]) -> str:
    """``profile and contact details, sessions (2), …`` for a person to read: what there was."""
    return ", ".join(
        _label(table) if table == Patient.__tablename__ else f"{_label(table)} ({n})"
        for table, n in in_order(counts).items()
        if n
    )


@dataclass(frozen=True)
class Preview:
    """What an erasure would delete: shown, and confirmed, before anything is deleted."""

    personnummer: str
    name: str
    unit: str
    registered_on: date
    counts: dict[str, int]

    def lines(self) -> list[str]:
        head = f"{self.personnummer} {self.name}, {self.unit}, registered {self.registered_on.isoformat()}"
        return [head, *(f"  {_label(table)}: {n}" for table, n in in_order(self.counts).items())]


def _counts(session: Session, patient: Patient) -> dict[str, int]:
    return in_order(
        {
            table.name: int(session.execute(select(func.count()).select_from(table).where(cond)).scalar_one())
            for table, cond in rows_about(patient.id, patient.personnummer)
        }
    )


def check_request(reason: str, note: str | None) -> tuple[str, str | None]:
    """The reason (``objection``, ``request`` or ``other``) and the note as kept, checked before anything is read."""
    if reason not in REASONS:
        raise InvalidInput(f"must be one of {', '.join(REASONS)}", field="reason")
    return reason, optional_text(note, "note", 2000)  # control characters refused there


def preview(uow: UnitOfWork, personnummer: str) -> Preview:
    """What ``erase`` would delete (reading it is an audited access, ``patient.erase_preview``)."""
    from per_cli.audit.events import Event, record

    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        unit_code, _ = load_with_unit(session, patient)
        counts = _counts(session, patient)
        record(session, Event(uow.actor, "patient.erase_preview", patient.id, unit_code, details={"rows": counts}))
        return Preview(
            display_pnr(patient.personnummer),
            f"{patient.first_name} {patient.last_name}",
            unit_code,
            patient.registered_on,
            counts,
        )


def erase(uow: UnitOfWork, personnummer: str, *, reason: str, note: str | None = None) -> dict[str, Any]:
    """Delete the patient's registry data, keep a tombstone and the access log; audited as ``patient.erase``.

    Returns the tombstone as printed, with how many rows of each table were deleted.
    """
    reason, note = check_request(reason, note)
    for _ in range(_ATTEMPTS - 1):
        try:
            return _erase(uow, personnummer, reason, note)
        except Contention:  # a writer took the patient's rows in another order and the database undid this one
            continue
    return _erase(uow, personnummer, reason, note)


#: how often an erasure is tried when a deadlock undoes it (PostgreSQL picks one of the two to undo)
_ATTEMPTS = 3


def _erase(uow: UnitOfWork, personnummer: str, reason: str, note: str | None) -> dict[str, Any]:
    from per_cli.audit.events import Event, database_actor, record

    with uow.transaction() as session:
        hold_enrolment_lock(session, exclusive=True)
        patient = find_patient(session, personnummer)
        # the row itself: a login that read the patient waits for this erasure, or this waits for it
        session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())
        patient_id, canonical = patient.id, patient.personnummer
        unit_code, _ = load_with_unit(session, patient)
        counts: dict[str, int] = {}
        for table, condition in rows_about(patient_id, canonical):
            counts[table.name] = int(session.execute(delete(table).where(condition)).rowcount)  # type: ignore[attr-defined]
        session.expunge(patient)
        now = utcnow()
        session.add(
            PatientErasure(
                patient_id=patient_id,
                personnummer=canonical,
                erased_at=now,
                reason=reason,
                note=note,
                erased_by=database_actor(session) or uow.actor,  # PostgreSQL: the login, as the access log
                unit_code=unit_code,
            )
        )
        session.flush()
        deleted = in_order(counts)
        details = {"reason": reason, "deleted": deleted}
        record(session, Event(uow.actor, "patient.erase", patient_id, unit_code, details=details))
        return {
            "personnummer": display_pnr(canonical),
            "erased_on": now.astimezone().date(),
            "reason": reason,
            "note": note,
            "deleted": deleted,
        }
