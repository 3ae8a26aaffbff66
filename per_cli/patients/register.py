"""The patient register: enrolment, look-up and profile changes (field validation is in ``patients.fields``).

The helpers take the ``Session`` of a transaction already open; the use cases at the end take the unit of work
first, open their own transaction and write their audit event in it. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from per_cli.db.faults import is_unique
from per_cli.db.models import CareUnit, Patient, PatientCredential, utcnow
from per_cli.errors import Conflict, InvalidInput
from per_cli.identity.personnummer import parse_personnummer
from per_cli.patients.fields import (
    PatientData,
    ProfileChange,
    optional_text,
    override_reason,
    parse_date,
    validate_change,
    validate_patient,
)
from per_cli.rights.tombstones import Tombstone, first_tombstone, hold_enrolment_lock, next_patient_id, tombstones

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


#: why a second enrolment of a patient is refused, and what to do instead
ALREADY_ENROLLED = (
    "this patient is already enrolled: `per patient show` shows the profile, `per patient edit-profile` changes it"
)


def find_existing(session: Session, candidates: Sequence[str]) -> list[Patient]:
    from per_cli.staff.scope import open_lookup

    open_lookup(session, candidates)  # a login with key-only access (service) may see this number's patient
    return list(session.execute(select(Patient).where(Patient.personnummer.in_(candidates))).scalars())


def find_patient(session: Session, text: str, *, fld: str = "personnummer") -> Patient:
    """The registered patient a typed number names; a 10-digit number is resolved against the register."""
    parsed = parse_personnummer(text)
    candidates = [c.canonical for c in parsed.candidates]
    matches = find_existing(session, candidates)
    if not matches:
        erased = first_tombstone(tombstones(session.connection(), candidates), candidates)
        when = f" (erased on {erased.erased_on.isoformat()}; see `per patient objections`)" if erased else ""
        from per_cli.staff.scope import not_found

        raise not_found(session, f"{_UNKNOWN}{when}", fld, candidates)
    if len(matches) > 1:
        raise Conflict("these 10 digits match more than one patient; give all 12 digits (YYYYMMDD-NNNN)", field=fld)
    return matches[0]


_UNKNOWN = "no patient with this personnummer is enrolled"


def lock_enrolled(session: Session, patient_ids: Iterable[int]) -> set[int]:
    """Which of these patients are still enrolled, kept so until the transaction ends.

    For writers that read the patient in an earlier transaction or without a lock (a login, a code or a
    password sent): on PostgreSQL the rows' ``FOR KEY SHARE`` lock (the one a foreign key takes) makes an
    erasure wait for this transaction, or this wait for the erasure and then find no patient. SQLite runs one
    writer at a time. Rows are locked in id order, as every bulk writer does. Take it before writing any row
    that belongs to the patient (a code, a credential): the erasure locks the patient first and then deletes
    those rows, and the same order on both sides is what keeps them from deadlocking.
    """
    wanted = sorted(set(patient_ids))
    if not wanted:
        return set()
    query = select(Patient.id).where(Patient.id.in_(wanted)).order_by(Patient.id)
    return set(session.execute(query.with_for_update(read=True, key_share=True)).scalars())


def new_patient(data: PatientData, unit_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Column values for an insert (shared by single and bulk enrolment)."""
    from per_cli.patients.search import search_columns

    now = now or utcnow()
    mobile = data.mobile.e164 if data.mobile else None
    columns = search_columns(
        personnummer=data.personnummer.canonical,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        mobile=mobile,
    )
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
        **columns,
    }


def enrol(
    session: Session, data: PatientData, unit: CareUnit, *, override: bool = False
) -> tuple[Patient, Tombstone | None]:
    """Insert the patient; returns it and the tombstone overridden (``override``), if there is one.

    The caller holds the enrolment lock (``hold_enrolment_lock``), so an erasure cannot slip in between the
    checks and the insert.
    """
    if find_existing(session, data.candidates):
        raise Conflict(ALREADY_ENROLLED, field="personnummer")
    conn = session.connection()
    erased = first_tombstone(tombstones(conn, data.candidates), data.candidates)
    if erased is not None and not override:
        raise Conflict(erased.refusal(data.personnummer.canonical if data.is_short else None), field="personnummer")
    patient = Patient(**new_patient(data, unit.id))
    if erased is not None:  # 10 digits name the erased person, whichever century the number alone would mean
        patient.personnummer = erased.personnummer
    if conn.dialect.name == "sqlite":
        patient.id = next_patient_id(conn)
    try:
        with session.begin_nested():  # added inside: begin_nested() flushes what is pending outside the savepoint
            session.add(patient)
            session.flush()
    except IntegrityError as error:
        if not is_unique(error):
            raise  # another rule of the database: one line, without the row (per_cli.db.faults)
        from per_cli.staff.scope import HiddenEnrolled, limited_to_units

        if limited_to_units(session):  # enrolled where this login cannot see it: a denied access too (App)
            raise HiddenEnrolled(ALREADY_ENROLLED, field="personnummer", candidates=data.candidates) from None
        raise Conflict(ALREADY_ENROLLED, field="personnummer") from None
    return patient, erased


def apply_change(patient: Patient, values: Mapping[str, Any]) -> list[str]:
    """Set the values that differ; returns the names of the fields that changed."""
    changed = [k for k, v in values.items() if getattr(patient, k) != v]
    for key in changed:
        setattr(patient, key, values[key])
    if changed:
        patient.updated_at = utcnow()
        refresh_search(patient)
    return changed


def refresh_search(patient: Patient) -> None:
    """Store the search column and sort key that the patient's names, e-mail and mobile give now."""
    from per_cli.patients.search import search_columns

    columns = search_columns(
        personnummer=patient.personnummer,
        first_name=patient.first_name,
        last_name=patient.last_name,
        email=patient.email,
        mobile=patient.mobile,
    )
    patient.search_text, patient.sort_key = columns["search_text"], columns["sort_key"]


def exclude(patient: Patient, on: date, reason: str | None) -> None:
    if patient.excluded_on is not None:
        raise Conflict(f"already excluded on {patient.excluded_on.isoformat()}", field="personnummer")
    if on < patient.registered_on:
        raise InvalidInput(f"{on.isoformat()} is before the registration date", field="excluded_on")
    patient.excluded_on = on
    patient.exclusion_reason = optional_text(reason, "exclusion_reason", 2000)
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


def _matching(unit: CareUnit | None, search: str | None, *, sqlite: bool = False) -> list[ColumnElement[bool]]:
    """The conditions of a patient listing: the unit, and every search term in the search column.

    On SQLite a term also names the rows the trigram table ``patient_search`` finds for it (migration i19a), so
    the ``LIKE`` checks those rows only, not every patient; PostgreSQL's trigram index serves the ``LIKE`` itself.
    """
    from per_cli.db.rows import LIKE_ESCAPE, escape_like
    from per_cli.patients.search import search_terms

    conditions: list[ColumnElement[bool]] = []
    if unit is not None:
        conditions.append(Patient.unit_id == unit.id)
    for alternatives in search_terms(search or ""):
        likes = [Patient.search_text.like(f"%{escape_like(t)}%", escape=LIKE_ESCAPE) for t in alternatives]
        conditions.append(or_(*likes))
        if sqlite and (found := _trigram_rows(alternatives)) is not None:
            conditions.append(Patient.id.in_(found))
    return conditions


def _trigram_rows(alternatives: tuple[str, ...]) -> Any:
    """The ids ``patient_search`` finds for any of the alternatives; None if one cannot be looked up there (under
    three characters: no trigram; a LIKE wildcard: FTS5 serves LIKE without ESCAPE only)."""
    from sqlalchemy import column, table, union_all

    if any(len(t) < 3 or not _PLAIN.isdisjoint(t) for t in alternatives):
        return None
    fts = table("patient_search", column("rowid"), column("search_text"))
    selects = [select(fts.c.rowid).where(fts.c.search_text.like(f"%{t}%")) for t in alternatives]
    return selects[0] if len(selects) == 1 else union_all(*selects)


_PLAIN = frozenset("%_\\")


def list_patients(
    session: Session, *, unit: CareUnit | None, search: str | None, limit: int
) -> list[tuple[Patient, str]]:
    """The first ``limit`` matching patients in Swedish order of last name, first name (``patients.search``)."""
    sqlite = _is_sqlite(session)
    conditions = _matching(unit, search, sqlite=sqlite)
    query = select(Patient, CareUnit.code).join(CareUnit, CareUnit.id == Patient.unit_id)
    if search and not sqlite:
        # PostgreSQL: the matches by the trigram index first, then the page of them in order. Left to itself the
        # planner walks ix_patient_sort_key in order and filters, expecting the page early, but a common surname
        # sits far along that order ("lindqvist" took 2.5 s at 1 M patients instead of 0.9 at 100 000).
        matches = (
            select(Patient.id, Patient.sort_key, Patient.personnummer)
            .where(*conditions)
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        page = select(matches.c.id).order_by(matches.c.sort_key, matches.c.personnummer).limit(limit).subquery()
        query = query.join(page, page.c.id == Patient.id)
    else:
        query = query.where(*conditions).limit(limit)
    query = query.order_by(Patient.sort_key, Patient.personnummer)
    return [(p, code) for p, code in session.execute(query).tuples()]


def count_patients(session: Session, *, unit: CareUnit | None, search: str | None) -> int:
    conditions = _matching(unit, search, sqlite=_is_sqlite(session))
    return int(session.execute(select(func.count()).select_from(Patient).where(*conditions)).scalar_one())


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


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


def enrol_one(
    uow: UnitOfWork,
    personnummer: str,
    *,
    first_name: str | None,
    last_name: str | None,
    unit: str | None,
    mobile: str | None = None,
    email: str | None = None,
    pal: str | None = None,
    registered_on: str | None = None,
    comment: str | None = None,
    override_objection: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Enrol one patient as typed; returns the patient as printed and the warnings (a landline as mobile …).

    An erased or objecting personnummer is refused unless ``override_objection`` gives staff's reason, which
    the ``patient.enrol`` event then records with the erasure it overrides.
    """
    from per_cli.patients.units import get_unit
    from per_cli.staff.scope import check_unit

    raw = {
        "personnummer": personnummer,
        "first_name": first_name,
        "last_name": last_name,
        "unit": unit,
        "mobile": mobile,
        "email": email,
        "pal": pal,
        "registered_on": registered_on,
        "comment": comment,
    }
    data = validate_patient(raw)
    reason = override_reason(override_objection)
    with uow.transaction() as session:
        hold_enrolment_lock(session, exclusive=False)
        care_unit = get_unit(session, data.unit)
        check_unit(session, care_unit.code)
        patient, erased = enrol(session, data, care_unit, override=reason is not None)
        details: dict[str, Any] = {"source": "single"}
        warnings = list(data.warnings)
        if erased is not None:
            details.update(override_objection=reason, erased_on=erased.erased_on.isoformat())
        elif reason is not None:
            warnings.append("--override-objection: this personnummer has no objection on record; enrolled as usual")
        _audit(session, uow.actor, "patient.enrol", patient, care_unit.code, details)
        return patient_record(patient, care_unit.code), warnings


def show_patient(uow: UnitOfWork, personnummer: str) -> dict[str, Any]:
    """The patient as printed (``credentials.status.show_with_login_status`` adds the login status)."""
    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        unit_code, credential = load_with_unit(session, patient)
        _audit(session, uow.actor, "patient.show", patient, unit_code)
        return patient_record(patient, unit_code, credential)


def edit_profile(
    uow: UnitOfWork, personnummer: str, change: ProfileChange
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Apply the change; returns the patient as printed, the fields that changed and the warnings."""
    values, warnings = validate_change(change)
    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        changed = apply_change(patient, values)
        unit_code, credential = load_with_unit(session, patient)
        _audit(session, uow.actor, "patient.edit_profile", patient, unit_code, {"changed": changed})
        return patient_record(patient, unit_code, credential), changed, warnings


def exclude_patient(
    uow: UnitOfWork, personnummer: str, *, on: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """Exclude the patient from the registry on ``on`` (``YYYY-MM-DD``, not in the future; default today)."""
    when = parse_date(on, "excluded_on") if on else date.today()
    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        exclude(patient, when, reason)
        unit_code, credential = load_with_unit(session, patient)
        _audit(session, uow.actor, "patient.exclude", patient, unit_code, {"excluded_on": when.isoformat()})
        return patient_record(patient, unit_code, credential)


def include_patient(uow: UnitOfWork, personnummer: str) -> tuple[dict[str, Any], date]:
    """Undo an exclusion (audited ``patient.include``); returns the patient as printed and the date undone."""
    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        was = patient.excluded_on
        if was is None:
            raise Conflict("this patient is not excluded: nothing to undo", field="personnummer")
        patient.excluded_on = patient.exclusion_reason = None
        patient.updated_at = utcnow()
        unit_code, credential = load_with_unit(session, patient)
        _audit(session, uow.actor, "patient.include", patient, unit_code, {"excluded_on": was.isoformat()})
        return patient_record(patient, unit_code, credential), was


def list_records(
    uow: UnitOfWork, *, unit: str | None, search: str | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Patients in Swedish name order (each one listed is an audited access), and how many match in all."""
    from per_cli.audit.events import Event, record_many
    from per_cli.patients.units import get_unit

    with uow.transaction() as session:
        care_unit = get_unit(session, unit) if unit else None
        rows = list_patients(session, unit=care_unit, search=search, limit=limit)
        events = [Event(actor=uow.actor, action="patient.list", patient_id=p.id, unit_code=code) for p, code in rows]
        record_many(session, events)
        total = count_patients(session, unit=care_unit, search=search) if len(rows) == limit else len(rows)
        return [patient_record(p, code) for p, code in rows], total
