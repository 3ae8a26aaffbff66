"""The patient register: validation shared by single and bulk enrolment, look-up, profile changes.

Commands call these functions inside ``App.transaction()`` and write the audit event themselves through
``per_cli.audit``; nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from per_cli.db.models import CareUnit, Patient, PatientCredential, utcnow
from per_cli.errors import Conflict, InvalidInput, NotFound
from per_cli.identity.personnummer import Personnummer, parse_personnummer

if TYPE_CHECKING:
    from per_cli.identity.phone import PhoneNumber

CONTACT_PERSONS = ("patient", "relative", "other")
FIELDS = ("personnummer", "first_name", "last_name", "unit", "mobile", "email", "registered_on", "pal", "comment")
_MAX_NAME = 200
_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PatientData:
    """A validated enrolment: every field in its stored form."""

    personnummer: Personnummer
    is_short: bool
    candidates: tuple[str, ...]
    first_name: str
    last_name: str
    unit: str
    mobile: PhoneNumber | None
    email: str | None
    registered_on: date
    pal: str | None
    comment: str | None
    warnings: tuple[str, ...] = field(default=())


def _name(value: str | None, fld: str) -> str:
    text = _SPACES.sub(" ", (value or "").strip())
    if not text:
        raise InvalidInput("must not be empty", field=fld)
    if len(text) > _MAX_NAME:
        raise InvalidInput(f"longer than {_MAX_NAME} characters", field=fld)
    if _DIGIT.search(text):
        raise InvalidInput("must not contain digits (is a column shifted?)", field=fld)
    if not text.isprintable():
        raise InvalidInput("contains control characters", field=fld)
    return text


def _optional_text(value: str | None, fld: str, limit: int) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > limit:
        raise InvalidInput(f"longer than {limit} characters", field=fld)
    return text


def parse_date(value: str, fld: str, *, today: date | None = None, allow_future: bool = False) -> date:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``, or a spreadsheet's ``YYYY-MM-DD 00:00:00``)."""
    text = value.strip()
    if " " in text:
        text = text.split(" ", 1)[0]
    if "T" in text:
        text = text.split("T", 1)[0]
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"not a date in the form YYYY-MM-DD: {value.strip()!r}", field=fld) from None
    if not allow_future and parsed > (today or date.today()):
        raise InvalidInput(f"{parsed.isoformat()} is in the future", field=fld)
    return parsed


def parse_mobile(value: str, fld: str = "mobile") -> tuple[PhoneNumber, str | None]:
    """A mobile number in E.164, plus a warning when it is valid but not a mobile number."""
    from per_cli.identity.phone import parse_phone

    number = parse_phone(value, field=fld)
    warning = None
    if not number.is_mobile:
        warning = (
            f"{fld}: {number.e164} is a {number.number_type.replace('_', ' ')} number, not a mobile; "
            "stored, but SMS to it will be refused"
        )
    return number, warning


def validate_patient(
    raw: Mapping[str, str | None], *, default_unit: str | None = None, today: date | None = None
) -> PatientData:
    """Validate one enrolment, as typed or as read from a spreadsheet row; raises on the first bad field."""
    from per_cli.units import validate_code

    today = today or date.today()
    pnr_text = raw.get("personnummer") or ""
    if not pnr_text.strip():
        raise InvalidInput("missing", field="personnummer")
    parsed = parse_personnummer(pnr_text, today=today)
    first = _name(raw.get("first_name"), "first_name")
    last = _name(raw.get("last_name"), "last_name")
    unit_text = (raw.get("unit") or "").strip() or default_unit
    if not unit_text:
        raise InvalidInput("missing (give --unit or a unit column)", field="unit")
    unit = validate_code(unit_text)
    warnings: list[str] = []
    mobile = None
    if (raw.get("mobile") or "").strip():
        mobile, warning = parse_mobile(raw["mobile"] or "")
        if warning:
            warnings.append(warning)
    email = None
    if (raw.get("email") or "").strip():
        from per_cli.identity.email import normalise_email

        email = normalise_email(raw["email"] or "")
    reg_text = (raw.get("registered_on") or "").strip()
    registered_on = parse_date(reg_text, "registered_on", today=today) if reg_text else today
    return PatientData(
        personnummer=parsed.default,
        is_short=parsed.is_short,
        candidates=tuple(c.canonical for c in parsed.candidates),
        first_name=first,
        last_name=last,
        unit=unit,
        mobile=mobile,
        email=email,
        registered_on=registered_on,
        pal=_optional_text(raw.get("pal"), "pal", _MAX_NAME),
        comment=_optional_text(raw.get("comment"), "comment", 2000),
        warnings=tuple(warnings),
    )


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


@dataclass
class ProfileChange:
    """What ``patient edit-profile`` asks for; ``None`` leaves a field as it is."""

    mobile: str | None = None
    clear_mobile: bool = False
    email: str | None = None
    clear_email: bool = False
    contact_person: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    pal: str | None = None
    comment: str | None = None


def validate_change(change: ProfileChange) -> tuple[dict[str, Any], list[str]]:
    """Column values to set and warnings; every value is checked before anything is written."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    if change.mobile is not None:
        number, warning = parse_mobile(change.mobile, "--mobile")
        values["mobile"], values["mobile_type"] = number.e164, number.number_type
        if warning:
            warnings.append(warning)
    if change.clear_mobile:
        values["mobile"] = values["mobile_type"] = None
    if change.email is not None:
        from per_cli.identity.email import normalise_email

        values["email"] = normalise_email(change.email, field="--email")
    if change.clear_email:
        values["email"] = None
    if change.contact_person is not None:
        if change.contact_person not in CONTACT_PERSONS:
            raise InvalidInput(f"must be one of {', '.join(CONTACT_PERSONS)}", field="--contact-person")
        values["contact_person"] = change.contact_person
    if change.first_name is not None:
        values["first_name"] = _name(change.first_name, "--first-name")
    if change.last_name is not None:
        values["last_name"] = _name(change.last_name, "--last-name")
    if change.pal is not None:
        values["pal"] = _optional_text(change.pal, "--pal", _MAX_NAME)
    if change.comment is not None:
        values["comment"] = _optional_text(change.comment, "--comment", 2000)
    return values, warnings


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
    patient.exclusion_reason = _optional_text(reason, "--reason", 2000)
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
    from per_cli.audit import Event, record

    record(
        session, Event(actor=actor, action=action, patient_id=patient.id, unit_code=unit_code, details=details or {})
    )


def enrol_one(session: Session, actor: str, raw: Mapping[str, str | None]) -> tuple[dict[str, Any], list[str]]:
    from per_cli.units import get_unit

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
    from per_cli.audit import Event, record_many
    from per_cli.units import get_unit

    unit = get_unit(session, unit_code, field="--unit") if unit_code else None
    rows = list_patients(session, unit=unit, search=search, limit=limit)
    record_many(
        session, [Event(actor=actor, action="patient.list", patient_id=p.id, unit_code=code) for p, code in rows]
    )
    return [patient_record(p, code) for p, code in rows]
