"""``per patient objections``: the tombstones, for the registry's records of erasures and objections.

A tombstone names a person who objected or asked to be erased, so listing it is an audited access like listing
patients (``patient.objections``, one event per tombstone shown).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import Patient, PatientErasure
from per_cli.patients.register import display_pnr

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

COLUMNS = ("personnummer", "erased_on", "reason", "note", "erased_by", "enrolled_again")


def list_objections(
    uow: UnitOfWork, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Tombstones, oldest erasure first; ``enrolled_again`` when staff later overrode the objection."""
    from per_cli.audit.events import Event, record_many

    query = (
        select(PatientErasure, Patient.id)
        .outerjoin(Patient, Patient.personnummer == PatientErasure.personnummer)
        .order_by(PatientErasure.erased_at, PatientErasure.patient_id)
    )
    if since:
        query = query.where(PatientErasure.erased_at >= since)
    if until:
        query = query.where(PatientErasure.erased_at < until)
    with uow.transaction() as session:
        rows = list(session.execute(query).tuples())
        record_many(
            session, [Event(actor=uow.actor, action="patient.objections", patient_id=t.patient_id) for t, _ in rows]
        )
        return [
            {
                "personnummer": display_pnr(t.personnummer),
                "erased_on": t.erased_at.astimezone().date(),
                "reason": t.reason,
                "note": t.note,
                "erased_by": t.erased_by,
                "enrolled_again": enrolled is not None,
            }
            for t, enrolled in rows
        ]
