"""The analysts' export: one row per answered part, one column per score key (``registration export``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.audit.events import Event, record_many
from per_cli.audit.query import used_filter
from per_cli.db.models import CareUnit, Patient, Registration, RegistrationPart
from per_cli.errors import PerError
from per_cli.patients.register import display_pnr

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.scales.model import Catalogue
    from per_cli.unit_of_work import UnitOfWork

#: the export's leading columns; score keys follow
EXPORT_COLUMNS = ("registration_id", "personnummer", "unit", "scale", "version", "completed_at")


def export_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``: unambiguous across time zones, parsed by pandas and lubridate as is."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ExportFilter:
    since: datetime | None = None
    until: datetime | None = None
    unit: str | None = None
    scales: str | None = None


def export(uow: UnitOfWork, flt: ExportFilter) -> tuple[list[str], list[dict[str, Any]]]:
    """Every answered part (one row each) with its scores as columns; one audit event per patient exported.

    Columns: :data:`EXPORT_COLUMNS`, then the union of the score keys, scale by scale (named scales in the order
    given, else the exported scales by code), each scale's keys in catalogue order. A row has only its own
    scale's scores; other score cells are empty. Naming one scale (``--scale``) gives a dense table whose header
    does not depend on the data, which is what a recurring analysis job wants.
    """
    from per_cli.scales.catalogue import catalogue_for

    catalogue = catalogue_for(uow)
    with uow.transaction() as session:
        return _export(session, uow.actor, catalogue, flt)


def _export(
    session: Session, actor: str, catalogue: Catalogue, flt: ExportFilter
) -> tuple[list[str], list[dict[str, Any]]]:
    from per_cli.patients.units import get_unit

    query = (
        select(RegistrationPart, Patient, CareUnit.code)
        .join(Registration, Registration.id == RegistrationPart.registration_id)
        .join(Patient, Patient.id == Registration.patient_id)
        .join(CareUnit, CareUnit.id == Patient.unit_id)
        .where(RegistrationPart.completed_at.is_not(None))
    )
    named: list[str] = []
    if flt.scales:
        try:
            named = [s.code for s in catalogue.get_many(flt.scales)]
        except PerError as exc:
            raise type(exc)(exc.message, field="scales") from None
        query = query.where(RegistrationPart.scale_code.in_(named))
    if flt.unit:
        query = query.where(Patient.unit_id == get_unit(session, flt.unit).id)
    if flt.since:
        query = query.where(RegistrationPart.completed_at >= flt.since)
    if flt.until:
        query = query.where(RegistrationPart.completed_at < flt.until)
    rows = list(session.execute(query.order_by(RegistrationPart.registration_id, RegistrationPart.id)).tuples())

    order = named or sorted({part.scale_code for part, _, _ in rows})
    keys_by_scale = {code: dict.fromkeys(catalogue.get(code).score_keys if code in catalogue else ()) for code in order}

    records: list[dict[str, Any]] = []
    per_patient: dict[int, tuple[str, int]] = {}
    for part, patient, unit_code in rows:
        record_ = {
            "registration_id": part.registration_id,
            "personnummer": display_pnr(patient.personnummer),
            "unit": unit_code,
            "scale": part.scale_code,
            "version": part.scale_version,
            "completed_at": export_timestamp(part.completed_at) if part.completed_at else None,
        }
        for key, value in json.loads(part.scores or "{}").items():
            keys_by_scale[part.scale_code].setdefault(key)  # a key the catalogue no longer has stays exported
            record_[_column(key)] = value
        records.append(record_)
        count = per_patient.get(patient.id, (unit_code, 0))[1]
        per_patient[patient.id] = (unit_code, count + 1)
    columns = list(EXPORT_COLUMNS)
    for keys in keys_by_scale.values():
        columns += [c for c in map(_column, keys) if c not in columns]
    record_many(
        session,
        (
            Event(
                actor=actor, action="registration.export", patient_id=pid, unit_code=unit_code, details={"rows": count}
            )
            for pid, (unit_code, count) in per_patient.items()
        ),
    )
    # and the export as a whole: the filter used and the rows handed out (README, "The access log")
    summary = {"filter": used_filter(flt), "rows": len(records), "patients": len(per_patient)}
    record_many(session, [Event(actor=actor, action="registration.export", unit_code=flt.unit, details=summary)])
    return columns, records


def _column(key: str) -> str:
    """A score key as a column; one that clashes with a leading column (``unit``…) gets a ``score_`` prefix."""
    return f"score_{key}" if key in EXPORT_COLUMNS else key
