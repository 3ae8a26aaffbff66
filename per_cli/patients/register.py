"""The patient register: enrolment, look-up and profile changes (field validation is in ``patients.fields``).

Commands call these functions inside ``App.transaction()`` and write the audit event themselves through
``per_cli.audit.events``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from per_cli.db.models import CareUnit, Patient, PatientCredential, utcnow
from per_cli.errors import Conflict, InvalidInput, NotFound
from per_cli.identity.personnummer import parse_personnummer
from per_cli.patients.fields import PatientData, ProfileChange, optional_text, validate_change, validate_patient


def find_existing(session: Session, candidates: Sequence[str]) -> list[Patient]:
    return list(session.execute(select(Patient).where(Patient.personnummer.in_(candidates))).scalars())


def find_patient(session: Session, text: str, *, fld: str = "personnummer") -> Patient:
    """The registered patient a typed number names; a 10-digit number is resolved against the register."""
    parsed = parse_personnummer(text)
    matches = find_existing(session, [c.canonical for c in parsed.candidates])
    if not matches:
        raise NotFound("no patient with this personnummer is enrolled", field=fld)
    if len(matches) > 1:
        raise Conflict("these 10 digits match more than one patient; give all 12 digits (YYYYMMDD-NNNN)", field=fld)
    return matches[0]


def new_patient(data: PatientData, unit_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Column values for an insert (shared by single and bulk enrolment)."""
    now = now or utcnow()
    return {
        "personnummer": data.personnummer.canonical,
        "first_name": data.first_name,
        "last_name": data.last_name,
        "unit_id": unit_id,
        "mobile": data.mobile.e164 if data.mobile else None,
        "mobile_type": data.mobile.number_type if data.mobile else None,
        "email": data.email,
        "contact_person": "patient",
        "pal": data.pal,
        "comment": data.comment,
        "registered_on": data.registered_on,
        "created_at": now,
        "updated_at": now,
    }


def enrol(session: Session, data: PatientData, unit: CareUnit) -> Patient:
    if find_existing(session, data.candidates):
        raise Conflict("this patient is already enrolled", field="personnummer")
    patient = Patient(**new_patient(data, unit.id))
    session.add(patient)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("this patient is already enrolled", field="personnummer") from None
    return patient


def apply_change(patient: Patient, values: Mapping[str, Any]) -> list[str]:
    """Set the values that differ; returns the names of the fields that changed."""
    changed = [k for k, v in values.items() if getattr(patient, k) != v]
    for key in changed:
        setattr(patient, key, values[key])
    if changed:
        patient.updated_at = utcnow()
    return changed


def exclude(patient: Patient, on: date, reason: str | None) -> None:
    if patient.excluded_on is not None:
        raise Conflict(f"already excluded on {patient.excluded_on.isoformat()}", field="personnummer")
    if on < patient.registered_on:
        raise InvalidInput(f"{on.isoformat()} is before the registration date", field="--on")
    patient.excluded_on = on
    patient.exclusion_reason = optional_text(reason, "--reason", 2000)
    patient.updated_at = utcnow()


def display_pnr(canonical: str) -> str:
    return f"{canonical[:8]}-{canonical[8:]}"


def patient_record(patient: Patient, unit_code: str, credential: PatientCredential | None = None) -> dict[str, Any]:
    """The patient as printed: stable snake_case keys, personnummer as YYYYMMDD-NNNN."""
    return {
        "personnummer": display_pnr(patient.personnummer),
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "unit": unit_code,
        "mobile": patient.mobile,
        "mobile_type": patient.mobile_type,
        "email": patient.email,
        "contact_person": patient.contact_person,
        "pal": patient.pal,
        "comment": patient.comment,
        "registered_on": patient.registered_on,
        "excluded_on": patient.excluded_on,
        "exclusion_reason": patient.exclusion_reason,
        "password_sent_to": credential.last_sent_to if credential else None,
        "password_sent_at": credential.last_sent_at if credential else None,
    }


def load_with_unit(session: Session, patient: Patient) -> tuple[str, PatientCredential | None]:
    unit_code = session.execute(select(CareUnit.code).where(CareUnit.id == patient.unit_id)).scalar_one()
    credential = session.get(PatientCredential, patient.id)
    return unit_code, credential


def list_patients(
    session: Session, *, unit: CareUnit | None, search: str | None, limit: int
) -> list[tuple[Patient, str]]:
    query = select(Patient, CareUnit.code).join(CareUnit, CareUnit.id == Patient.unit_id)
    if unit is not None:
        query = query.where(Patient.unit_id == unit.id)
    if search:
        like = f"%{search.strip().lower()}%"
        from sqlalchemy import func

        query = query.where(
            or_(
                func.lower(Patient.first_name).like(like),
                func.lower(Patient.last_name).like(like),
                Patient.email.like(like),
            )
        )
    query = query.order_by(Patient.last_name, Patient.first_name, Patient.personnummer).limit(limit)
    return [(p, code) for p, code in session.execute(query).tuples()]


# --- use cases: each reads or changes patient data and writes its audit event in the same transaction ---


def _audit(
    session: Session,
    actor: str,
    action: str,
    patient: Patient,
    unit_code: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    from per_cli.audit.events import Event, record

    record(
        session, Event(actor=actor, action=action, patient_id=patient.id, unit_code=unit_code, details=details or {})
    )


def enrol_one(session: Session, actor: str, raw: Mapping[str, str | None]) -> tuple[dict[str, Any], list[str]]:
    from per_cli.patients.units import get_unit

    data = validate_patient(raw)
    unit = get_unit(session, data.unit)
    patient = enrol(session, data, unit)
    _audit(session, actor, "patient.enrol", patient, unit.code, {"source": "single"})
    return patient_record(patient, unit.code), list(data.warnings)


def show_patient(session: Session, actor: str, text: str) -> dict[str, Any]:
    patient = find_patient(session, text)
    unit_code, credential = load_with_unit(session, patient)
    _audit(session, actor, "patient.show", patient, unit_code)
    return patient_record(patient, unit_code, credential)


def edit_profile(
    session: Session, actor: str, text: str, change: ProfileChange
) -> tuple[dict[str, Any], list[str], list[str]]:
    values, warnings = validate_change(change)
    patient = find_patient(session, text)
    changed = apply_change(patient, values)
    unit_code, credential = load_with_unit(session, patient)
    _audit(session, actor, "patient.edit_profile", patient, unit_code, {"changed": changed})
    return patient_record(patient, unit_code, credential), changed, warnings


def exclude_patient(session: Session, actor: str, text: str, on: date, reason: str | None) -> dict[str, Any]:
    patient = find_patient(session, text)
    exclude(patient, on, reason)
    unit_code, credential = load_with_unit(session, patient)
    _audit(session, actor, "patient.exclude", patient, unit_code, {"excluded_on": on.isoformat()})
    return patient_record(patient, unit_code, credential)


def list_records(
    session: Session, actor: str, *, unit_code: str | None, search: str | None, limit: int
) -> list[dict[str, Any]]:
    from per_cli.audit.events import Event, record_many
    from per_cli.patients.units import get_unit

    unit = get_unit(session, unit_code, field="--unit") if unit_code else None
    rows = list_patients(session, unit=unit, search=search, limit=limit)
    record_many(
        session, [Event(actor=actor, action="patient.list", patient_id=p.id, unit_code=code) for p, code in rows]
    )
    return [patient_record(p, code) for p, code in rows]
