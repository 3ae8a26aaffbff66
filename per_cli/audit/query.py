"""Reading the access log: filtered listings (verification and extracts build on this)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
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
    return query.order_by(AuditEvent.id), patient_id


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


def list_events(uow: UnitOfWork, flt: AuditFilter, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Events matching the filter; reading the log is itself an audited access (filter and rows shown)."""
    with uow.transaction() as session:
        return _list_events(session, uow.actor, flt, limit)


def _list_events(session: Session, actor: str, flt: AuditFilter, limit: int | None) -> list[dict[str, Any]]:
    from per_cli.audit.events import Event, record

    query, patient_id = filtered(session, flt)
    if limit:
        query = query.limit(limit)
    records: Sequence[dict[str, Any]] = [event_record(ev, pnr) for ev, pnr in session.execute(query).tuples()]
    details = {"events": len(records), "filter": used_filter(flt, limit=limit)}
    record(session, Event(actor=actor, action="audit.list", patient_id=patient_id, details=details))
    return list(records)


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
