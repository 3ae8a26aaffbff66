"""Reading the access log: filtered listings (verification and extracts build on this)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from per_cli.db.models import AuditEvent, Patient, PatientErasure
from per_cli.patients.register import display_pnr
from per_cli.rights.tombstones import find_subject

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class AuditFilter:
    patient: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None


def filtered(session: Session, flt: AuditFilter) -> tuple[Select[tuple[AuditEvent, str | None]], int | None]:
    # outer joins: the personnummer is None for events without a patient; an erased patient's events keep their
    # patient_id, and the tombstone names them
    query: Select[tuple[AuditEvent, str | None]] = (
        select(AuditEvent, func.coalesce(Patient.personnummer, PatientErasure.personnummer))  # type: ignore[assignment]
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        .outerjoin(PatientErasure, PatientErasure.patient_id == AuditEvent.patient_id)
    )
    patient_id = None
    if flt.patient:
        subject = find_subject(session, flt.patient, fld="patient")
        patient_id = subject.patient_id
        query = query.where(AuditEvent.patient_id.in_(subject.ids))
    if flt.actor:
        query = query.where(AuditEvent.actor == flt.actor)
    if flt.action:
        from per_cli.db.rows import LIKE_ESCAPE, escape_like

        pattern = escape_like(flt.action).replace("*", "%")  # only * is a wildcard; _ in action names is literal
        query = query.where(AuditEvent.action.like(pattern, escape=LIKE_ESCAPE))
    if flt.since:
        query = query.where(AuditEvent.at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.at < flt.until)
    if flt.outcome:
        query = query.where(AuditEvent.outcome == flt.outcome)
    return query.order_by(AuditEvent.id), patient_id


#: the keys of an event as listed
COLUMNS = ("id", "at", "actor", "action", "personnummer", "unit", "outcome", "details")


def event_record(ev: AuditEvent, personnummer: str | None) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": ev.at,
        "actor": ev.actor,
        "action": ev.action,
        "personnummer": display_pnr(personnummer) if personnummer else None,
        "unit": ev.unit_code,
        "outcome": ev.outcome,
        "details": json.loads(ev.details),
    }


@dataclass
class Listed:
    """How many events were listed, and whether ``limit`` left newer-than-the-rest ones out."""

    shown: int = 0
    more: bool = False


def list_events(
    uow: UnitOfWork,
    flt: AuditFilter,
    out: Callable[[Iterable[dict[str, Any]]], None],
    *,
    limit: int | None = 50,
) -> Listed:
    """Hand the newest ``limit`` events matching the filter (all with ``None``), newest first, to ``out``.

    They stream from the database as ``out`` consumes them. Reading one patient's log is itself an audited
    access, recorded in the same transaction once they are read.
    """
    from per_cli.audit.events import Event, record

    with uow.transaction() as session:
        query, patient_id = filtered(session, flt)
        query = query.order_by(None).order_by(_newest_first(session, flt))
        if limit is not None:
            query = query.limit(limit + 1)  # one more tells whether there are more
        listed = Listed()
        result = session.execute(query.execution_options(yield_per=500)).tuples()

        def records() -> Iterator[dict[str, Any]]:
            for ev, pnr in result:
                if listed.shown == limit:
                    listed.more = True
                    return
                listed.shown += 1
                yield event_record(ev, pnr)

        try:
            out(records())
        finally:
            result.close()
        details = {"events": listed.shown, "filter": used_filter(flt, limit=limit)}
        record(session, Event(actor=uow.actor, action="audit.list", patient_id=patient_id, details=details))
        return listed


#: a period with fewer events than this is read from the ``(at, id)`` index and sorted
_FEW = 10_000


def _newest_first(session: Session, flt: AuditFilter) -> Any:
    """``ORDER BY id DESC``, said so that a short period is read from the ``(at, id)`` index and sorted.

    Left to themselves, both databases walk the primary key from the newest event and filter on ``at``: quick
    when the period holds many events, a walk over the whole log when it holds fewer than ``limit`` (``--since``
    an hour ago; PostgreSQL's estimate of a recent range is off when many events share an instant). A count of at
    most ``_FEW`` index entries tells the two apart; ``+id`` keeps the primary key out of the ordering.
    """
    if not (flt.since or flt.until) or flt.patient:
        return AuditEvent.id.desc()
    period = select(AuditEvent.id)
    if flt.since:
        period = period.where(AuditEvent.at >= flt.since)
    if flt.until:
        period = period.where(AuditEvent.at < flt.until)
    few = session.execute(select(func.count()).select_from(period.limit(_FEW).subquery())).scalar_one() < _FEW
    return text("+audit_event.id DESC") if few else AuditEvent.id.desc()


def used_filter(flt: Any, **extra: Any) -> dict[str, Any]:
    """The filter a reading of many rows used, for its audit event: every field given, times as ISO text.

    A personnummer never goes into details: the patient filter is the event's ``patient_id`` instead.
    """
    from dataclasses import asdict

    given = {**asdict(flt), **extra}
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in given.items()
        if value is not None and key != "patient"
    }
