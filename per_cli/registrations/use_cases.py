"""Registration use cases: start one for the ticked scales, answer a part, show one, list a patient's.

Each takes the unit of work first and opens its own transaction; the helpers above them take its ``Session``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.audit.events import Event, record
from per_cli.db.models import CareUnit, Patient, Registration, RegistrationPart, utcnow
from per_cli.errors import Conflict, NotFound, PerError
from per_cli.patients.register import display_pnr, find_patient
from per_cli.registrations.acting import Acting, refusals_audited, session_settings, who_acts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.scales.model import Catalogue, Scale
    from per_cli.unit_of_work import UnitOfWork

STARTED, COMPLETE = "started", "complete"
PENDING, DONE = "pending", "done"


# ------------------------------------------------------------------------------------------------- helpers


def _scales(catalogue: Catalogue, codes: str) -> list[Scale]:
    try:
        return catalogue.get_many(codes)
    except PerError as exc:
        raise type(exc)(exc.message, field="scales") from None


def _unit_code(session: Session, patient: Patient) -> str:
    return session.execute(select(CareUnit.code).where(CareUnit.id == patient.unit_id)).scalar_one()


def _refuse_excluded(patient: Patient, today: date | None = None) -> None:
    if patient.excluded_on is not None and patient.excluded_on <= (today or date.today()):
        raise Conflict(
            f"the patient was excluded on {patient.excluded_on.isoformat()}; registrations are refused",
            field="personnummer",
        )


def _parts(session: Session, registration_id: int) -> list[RegistrationPart]:
    query = select(RegistrationPart).where(RegistrationPart.registration_id == registration_id)
    return list(session.execute(query.order_by(RegistrationPart.id)).scalars())


def _load(session: Session, registration_id: int, *, lock: bool = False) -> tuple[Registration, Patient, str]:
    """The registration, its patient and the patient's unit; ``lock`` serialises answers to one registration."""
    query = select(Registration).where(Registration.id == registration_id)
    registration = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if registration is None:
        raise NotFound(f"no registration {registration_id}", field="registration")
    patient = session.get(Patient, registration.patient_id)
    assert patient is not None  # a foreign key
    return registration, patient, _unit_code(session, patient)


def _audit(
    session: Session, actor: str, action: str, patient: Patient, unit_code: str, details: Mapping[str, Any]
) -> None:
    record(session, Event(actor=actor, action=action, patient_id=patient.id, unit_code=unit_code, details=details))


#: the keys of a registration as listed (the header row of an empty listing)
SUMMARY_COLUMNS = (
    "registration_id", "personnummer", "unit", "status", "scales", "pending", "started_by", "started_at", "completed_at"
)  # fmt: skip


def _summary(
    registration: Registration, parts: Sequence[RegistrationPart], patient: Patient, unit_code: str
) -> dict[str, Any]:
    """One registration as a row (``new``, ``list``)."""
    return {
        "registration_id": registration.id,
        "personnummer": display_pnr(patient.personnummer),
        "unit": unit_code,
        "status": COMPLETE if registration.completed_at else STARTED,
        "scales": [p.scale_code for p in parts],
        "pending": [p.scale_code for p in parts if p.completed_at is None],
        "started_by": registration.started_by,
        "started_at": registration.created_at,
        "completed_at": registration.completed_at,
    }


def _part_record(part: RegistrationPart) -> dict[str, Any]:
    return {
        "scale": part.scale_code,
        "version": part.scale_version,
        "status": DONE if part.completed_at else PENDING,
        "completed_at": part.completed_at,
        "answers": json.loads(part.answers) if part.answers is not None else None,
        "scores": json.loads(part.scores) if part.scores is not None else None,
    }


# --------------------------------------------------------------------------------------------------- use cases


def new_registration(uow: UnitOfWork, personnummer: str, *, scales: str, token: str | None = None) -> dict[str, Any]:
    """Start a registration for the ticked scales (``"MSIS-29,EQ-5D-5L"``), one pending part each.

    With ``token`` the patient (or the care giver by proxy) behind that login session acts.
    """
    from per_cli.scales.catalogue import catalogue_for

    chosen = _scales(catalogue_for(uow), scales)
    settings = session_settings(uow, token)
    with refusals_audited(uow), uow.transaction() as session:
        patient = find_patient(session, personnummer)
        unit_code = _unit_code(session, patient)
        acting = who_acts(session, uow.actor, "registration.new", patient, unit_code, token, settings)
        _refuse_excluded(patient)
        now = utcnow()
        registration = Registration(
            patient_id=patient.id, started_by=acting.name, session_id=acting.session_id, created_at=now
        )
        session.add(registration)
        session.flush()
        parts = [
            RegistrationPart(registration_id=registration.id, scale_code=s.code, scale_version=s.version)
            for s in chosen
        ]
        session.add_all(parts)
        session.flush()
        details = {"registration_id": registration.id, "scales": [s.code for s in chosen], **(acting.details or {})}
        _audit(session, acting.name, "registration.new", patient, unit_code, details)
        return _summary(registration, parts, patient, unit_code)


def answer(
    uow: UnitOfWork,
    registration_id: int,
    *,
    scale: str,
    answers: Sequence[int | None],
    replace: bool = False,
    token: str | None = None,
) -> dict[str, Any]:
    """Validate one scale's answers, score them and mark the part done; complete the registration with its last part.

    The registration row is locked first, so two parts answered at once cannot both miss that the other was
    the last one pending.
    """
    from per_cli.scales.catalogue import catalogue_for

    catalogue = catalogue_for(uow)
    settings = session_settings(uow, token)
    with refusals_audited(uow), uow.transaction() as session:
        registration, patient, unit_code = _load(session, registration_id, lock=True)
        acting = who_acts(session, uow.actor, "registration.answer", patient, unit_code, token, settings)
        return _answer(session, acting, catalogue, registration, patient, unit_code, scale, answers, replace)


def _answer(
    session: Session,
    acting: Acting,
    catalogue: Catalogue,
    registration: Registration,
    patient: Patient,
    unit_code: str,
    scale_code: str,
    answers: Sequence[int | None],
    replace: bool,
) -> dict[str, Any]:
    from per_cli.scales.scoring import score

    _refuse_excluded(patient)
    parts = _parts(session, registration.id)
    wanted = scale_code.strip().casefold()
    part = next((p for p in parts if p.scale_code.casefold() == wanted), None)
    if part is None:
        raise NotFound(
            f"registration {registration.id} has no {scale_code.strip()} part; its scales: "
            f"{', '.join(p.scale_code for p in parts)}",
            field="scale",
        )
    if registration.completed_at is not None:
        raise Conflict(
            f"registration {registration.id} is complete; its answers can no longer be changed", field="registration"
        )
    if part.completed_at is not None and not replace:
        raise Conflict(
            f"{part.scale_code} is already answered in registration {registration.id}; give --replace "
            "to change its answers (possible until the registration is complete)",
            field="scale",
        )
    try:
        scale = catalogue.get(part.scale_code)
    except NotFound:
        raise NotFound(f"{part.scale_code} is no longer in the scale catalogue", field="scale") from None
    if scale.version != part.scale_version:
        raise Conflict(
            f"registration {registration.id} was started with {scale.code} version {part.scale_version}; "
            f"the catalogue now has version {scale.version}: start a new registration",
            field="scale",
        )
    scores = score(scale, answers)  # validates count and every answer first
    replaced = part.completed_at is not None
    now = utcnow()
    part.answers = json.dumps(list(answers))
    part.scores = json.dumps(scores)
    part.completed_at = now
    if all(p.completed_at is not None for p in parts):
        registration.completed_at = now
    session.flush()
    status = COMPLETE if registration.completed_at else STARTED
    details = {
        "registration_id": registration.id,
        "scale": scale.code,
        "replaced": replaced,
        "registration_status": status,
        **(acting.details or {}),
    }
    _audit(session, acting.name, "registration.answer", patient, unit_code, details)
    return {
        "registration_id": registration.id,
        "personnummer": display_pnr(patient.personnummer),
        **_part_record(part),
        "registration_status": status,
        "pending": [p.scale_code for p in parts if p.completed_at is None],
    }


def show(uow: UnitOfWork, registration_id: int) -> dict[str, Any]:
    """One registration with every part: status, answers and scores."""
    with uow.transaction() as session:
        registration, patient, unit_code = _load(session, registration_id)
        parts = _parts(session, registration.id)
        _audit(session, uow.actor, "registration.show", patient, unit_code, {"registration_id": registration.id})
        summary = _summary(registration, parts, patient, unit_code)
        del summary["scales"], summary["pending"]
        return {**summary, "parts": [_part_record(p) for p in parts]}


def list_for_patient(uow: UnitOfWork, personnummer: str) -> list[dict[str, Any]]:
    """A patient's registrations, oldest first (one audit event for the patient)."""
    with uow.transaction() as session:
        return _list_for_patient(session, uow.actor, personnummer)


def _list_for_patient(session: Session, actor: str, personnummer: str) -> list[dict[str, Any]]:
    patient = find_patient(session, personnummer)
    unit_code = _unit_code(session, patient)
    registrations = list(
        session.execute(
            select(Registration).where(Registration.patient_id == patient.id).order_by(Registration.id)
        ).scalars()
    )
    parts: dict[int, list[RegistrationPart]] = {r.id: [] for r in registrations}
    if registrations:
        query = (
            select(RegistrationPart).where(RegistrationPart.registration_id.in_(parts)).order_by(RegistrationPart.id)
        )
        for part in session.execute(query).scalars():
            parts[part.registration_id].append(part)
    _audit(session, actor, "registration.list", patient, unit_code, {"registrations": len(registrations)})
    return [_summary(r, parts[r.id], patient, unit_code) for r in registrations]
