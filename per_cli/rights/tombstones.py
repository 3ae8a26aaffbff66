"""Tombstones: what an erasure leaves, and how enrolment honours it.

An erased patient's personnummer stays in ``patient_erasure`` with the erasure date and reason, so a later
enrolment (single or bulk, in any form of the number) is refused unless staff override the objection with a
reason. The checks here take the ``Session`` or ``Connection`` of a transaction already open and import no
patient module, so enrolment, erasure and the access log can all use them.

Enrolment and erasure exclude each other on one key (``hold_enrolment_lock``): SQLite already runs one writer at
a time (``BEGIN IMMEDIATE``); PostgreSQL takes a transaction-level advisory lock, shared by enrolments (which
then still run side by side) and exclusive for an erasure. So an enrolment that reads "no patient, no tombstone"
cannot have an erasure commit between that read and its insert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from per_cli.db.models import Patient, PatientErasure

REASONS = ("objection", "request", "other")
_ENROLMENT_LOCK = 4242018
_LOCK_WAIT = "3s"  # as long as the access log's lock is waited for (migration i13c)


class Tombstone(NamedTuple):
    personnummer: str
    erased_at: datetime
    reason: str

    @property
    def erased_on(self) -> date:
        """The erasure date, in local time (as every date the user types or reads)."""
        return self.erased_at.astimezone().date()

    def refusal(self, typed: str | None = None) -> str:
        """Why an enrolment of this person is refused, and the way past it.

        ``typed``: the canonical reading of a 10-digit number; when the tombstone is of the other century, the
        person enrolled may be someone else, and all 12 digits tell them apart.
        """
        lead = {"objection": "objected to registration", "request": "asked to be erased"}.get(self.reason, "was erased")
        other = (
            "; or give all 12 digits if this is someone born a century apart"
            if typed not in (None, self.personnummer)
            else ""
        )
        return (
            f"{lead} on {self.erased_on.isoformat()}; erased "
            f"(to enrol again, give --override-objection --reason TEXT{other})"
        )


def hold_enrolment_lock(session: Session, *, exclusive: bool) -> None:
    """Enrolments (shared) and erasures (exclusive) exclude each other until the transaction ends.

    Any login may take an advisory lock, so the wait for it gives up after a few seconds (``lock_timeout`` for
    this one statement: the setting is put back in the same statement) instead of stalling every enrolment.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        statement = (
            f"SELECT set_config('lock_timeout', :wait, true), {function}(:k), set_config('lock_timeout', old.value, "
            "true) FROM (SELECT current_setting('lock_timeout') AS value) AS old"
        )
        conn.execute(text(statement), {"k": _ENROLMENT_LOCK, "wait": _LOCK_WAIT})


def _tombstone(values: Sequence[Any]) -> Tombstone:
    at = values[1] if isinstance(values[1], datetime) else datetime.fromisoformat(str(values[1]))  # SQLite: text
    return Tombstone(str(values[0]), at if at.tzinfo else at.replace(tzinfo=UTC), str(values[2]))


def tombstones(conn: Connection, candidates: Iterable[str]) -> dict[str, Tombstone]:
    """The newest tombstone of each personnummer among ``candidates`` (canonical, 12 digits), in one query
    however many there are (a bulk chunk's: ``db.rows.where_in``).

    PostgreSQL: through ``per_erased(number)``, which answers for the number asked in any unit, while the table
    shows registry and support only their units' tombstones.
    """
    from per_cli.db.rows import where_in

    wanted = sorted(set(candidates))
    if not wanted:
        return {}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text("SELECT e.* FROM unnest(CAST(:n AS text[])) AS n, per_erased(n) AS e ORDER BY e.erased_at"),
            {"n": wanted},
        )
    else:
        condition, params = where_in(conn, "personnummer", wanted)
        rows = conn.exec_driver_sql(
            f"SELECT personnummer, erased_at, reason FROM patient_erasure WHERE {condition} "
            "ORDER BY erased_at, patient_id",
            params,
        )
    return {str(row[0]): _tombstone(row) for row in rows}


def first_tombstone(found: dict[str, Tombstone], candidates: Iterable[str]) -> Tombstone | None:
    """The tombstone a typed number names, if any (a 10-digit number may mean either century)."""
    named = [found[c] for c in candidates if c in found]
    return max(named, key=lambda t: t.erased_at) if named else None


def next_patient_id(conn: Connection) -> int:
    """SQLite: the id for a new patient, past every id a tombstone keeps.

    SQLite gives a new row the largest id plus one, so without this the next patient enrolled after erasing
    the newest one would inherit its id, and with it the erased patient's access log. PostgreSQL's sequence
    never hands an id out twice.
    """
    return 1 + int(
        conn.exec_driver_sql(
            "SELECT max(coalesce((SELECT max(id) FROM patient), 0), "
            "coalesce((SELECT max(patient_id) FROM patient_erasure), 0))"
        ).scalar_one()
    )


@dataclass(frozen=True)
class Subject:
    """A person the register holds or held: the canonical personnummer, the enrolled patient (None once erased)
    and every patient id the person has had (the enrolled one and those their tombstones keep)."""

    personnummer: str
    patient: Patient | None
    ids: tuple[int, ...]

    @property
    def patient_id(self) -> int:
        """The id events about this person are recorded under now: the enrolled one, else the newest erased."""
        return self.patient.id if self.patient is not None else self.ids[-1]


def find_subject(session: Session, text: str, *, fld: str = "personnummer") -> Subject:
    """The person a typed number names, enrolled or erased (``find_patient`` finds only the enrolled).

    Raises ``NotFound`` when the register has never known them, ``Conflict`` when 10 digits name two people.
    """
    from per_cli.errors import Conflict
    from per_cli.identity.personnummer import parse_personnummer

    candidates = [c.canonical for c in parse_personnummer(text).candidates]
    enrolled = {
        p.personnummer: p
        for p in session.execute(select(Patient).where(Patient.personnummer.in_(candidates))).scalars()
    }
    erased = session.execute(
        select(PatientErasure.personnummer, PatientErasure.patient_id)
        .where(PatientErasure.personnummer.in_(candidates))
        .order_by(PatientErasure.erased_at, PatientErasure.patient_id)
    ).tuples()
    ids: dict[str, list[int]] = {pnr: [] for pnr in enrolled}
    for pnr, pid in erased:
        ids.setdefault(pnr, []).append(pid)
    if len(ids) > 1:
        raise Conflict("these 10 digits match more than one person; give all 12 digits (YYYYMMDD-NNNN)", field=fld)
    if not ids:
        from per_cli.staff.scope import not_found

        raise not_found(session, "no patient with this personnummer is enrolled", fld, candidates)
    ((pnr, found),) = ids.items()
    patient = enrolled.get(pnr)
    return Subject(pnr, patient, (*found, *([patient.id] if patient else [])))


def erased_personnummer(session: Session, patient_ids: Iterable[int]) -> dict[int, str]:
    """Former patient id -> personnummer, for the access log's events about erased patients."""
    wanted = sorted(set(patient_ids))
    if not wanted:
        return {}
    query = select(PatientErasure.patient_id, PatientErasure.personnummer).where(PatientErasure.patient_id.in_(wanted))
    return dict(session.execute(query).tuples().all())
