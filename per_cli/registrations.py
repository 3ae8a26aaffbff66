"""Registrations ("skapa nya registreringar"): the scales a patient ticks, their answers and their scores.

A registration is *started* with one *pending* part per scale; answering a part validates the answers against
the scale, computes its scores and marks it *done*; the registration is *complete* when every part is done.
Each use case runs inside ``App.transaction()`` and writes its audit event in that same transaction; nothing
here prints. A refused ``--session`` is the exception: the use case's transaction rolls back, so
:func:`run_use_case` writes the refusal in a transaction of its own (security.md: log authorisation failures).

Decisions, with the reason for each:

- The id users see is the integer primary key: short to type, and never reused.
- A done part may be answered again only with ``replace=True`` (``--replace``) and only while the registration
  is not complete: a typo can be fixed, a finished registration is a record and stays as it was.
- Answers and scores are health data: the audit log says *that* a part was answered, never *what*.
- Exports are wide (one column per score key) so that R's ``read.csv`` and pandas' ``read_csv`` give numeric
  columns at once; a JSON column would need a second parsing step in both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import select

from per_cli.audit import Event, record, record_many
from per_cli.db.models import Caregiver, CareUnit, Patient, Registration, RegistrationPart, utcnow
from per_cli.errors import AuthDenied, Conflict, InvalidInput, NotFound, PerError
from per_cli.patients import display_pnr, find_patient

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.credentials.sessions import SessionSettings
    from per_cli.scales.catalogue import Catalogue, Scale

STARTED, COMPLETE = "started", "complete"
PENDING, DONE = "pending", "done"
#: the export's leading columns; score keys follow
EXPORT_COLUMNS = ("registration_id", "personnummer", "unit", "scale", "version", "completed_at")
_SEPARATORS = re.compile(r"[,;\t]")

T = TypeVar("T")


# ------------------------------------------------------------------------------------------- session refusals


class RegistrationDenied(AuthDenied):
    """A refused ``--session`` (exit 4), carrying the audit event that must survive the rollback."""

    def __init__(self, message: str, event: Event) -> None:
        super().__init__(message, field="--session")
        self.event = event


class _Transactional(Protocol):
    def transaction(self) -> AbstractContextManager[Session]: ...


def run_use_case(app: _Transactional, use_case: Callable[[Session], T]) -> T:
    """Run one use case in one transaction; a session refusal is then audited in its own transaction."""
    try:
        with app.transaction() as session:
            return use_case(session)
    except RegistrationDenied as exc:
        with app.transaction() as session:
            record(session, exc.event)
        raise


@dataclass(frozen=True)
class _Acting:
    """Who acts: the staff actor, or the patient (or the care giver by proxy) behind a login session."""

    name: str
    session_id: int | None = None
    details: Mapping[str, Any] | None = None


def _acting(
    session: Session,
    actor: str,
    action: str,
    patient: Patient,
    unit_code: str,
    token: str | None,
    settings: SessionSettings | None,
) -> _Acting:
    """With a token: the live session's identity (``patient`` or ``caregiver:USER``), which must be this patient's."""
    if token is None:
        return _Acting(actor)
    from per_cli.credentials.sessions import SessionDenied, SessionSettings, resolve_session

    def denied(message: str, reason: str, session_id: int | None) -> RegistrationDenied:
        details = {"reason": reason, "session_id": session_id}
        return RegistrationDenied(
            message,
            Event(
                actor=actor,
                action=action,
                patient_id=patient.id,
                unit_code=unit_code,
                outcome="denied",
                details=details,
            ),
        )

    try:
        live = resolve_session(session, token, settings or SessionSettings())
    except SessionDenied as exc:
        raise denied(exc.message, exc.reason, exc.login_session.id if exc.login_session else None) from None
    if live.patient_id != patient.id:
        raise denied(
            "session denied: the session is another patient's; log in as this patient", "other_patient", live.id
        )
    name = "patient"
    if live.caregiver_id is not None:
        caregiver = session.get(Caregiver, live.caregiver_id)
        name = f"caregiver:{caregiver.username if caregiver else live.caregiver_id}"
    return _Acting(name, live.id, {"session_id": live.id, "method": live.method, "operator": actor})


# ------------------------------------------------------------------------------------------------- helpers


def parse_answer_file(text: str) -> list[int | None]:
    """The answers in a ``--file``: in item order, separated by commas, semicolons, tabs or line breaks.

    One answer per line and a single line ``1,2,,4`` (or a spreadsheet row saved with ``;``) both work. An empty
    entry or an empty line is a missing answer; ``#`` starts a comment, and a comment-only line is skipped;
    empty lines at the end of the file are not answers.
    """
    from per_cli.scales.scoring import parse_answers

    lines: list[str] = []
    for line in text.removeprefix("\ufeff").splitlines():
        content, hash_, _ = line.partition("#")
        if hash_ and not content.strip():
            continue
        lines.append(content.strip())
    while lines and not lines[-1]:
        lines.pop()
    return parse_answers(",".join(_SEPARATORS.sub(",", line) for line in lines))


def read_answer_file(path: str) -> list[int | None]:
    """Read and parse ``--file`` (``-`` is standard input); an unreadable file is one line naming it."""
    if path == "-":
        import sys

        return parse_answer_file(sys.stdin.read())
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return parse_answer_file(handle.read())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field="--file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", field="--file") from None


def _scales(catalogue: Catalogue, codes: str) -> list[Scale]:
    try:
        return catalogue.get_many(codes)
    except PerError as exc:
        raise type(exc)(exc.message, field="--scales") from None


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
        raise NotFound(f"no registration {registration_id}", field="REG")
    patient = session.get(Patient, registration.patient_id)
    assert patient is not None  # a foreign key
    return registration, patient, _unit_code(session, patient)


def _audit(
    session: Session, actor: str, action: str, patient: Patient, unit_code: str, details: Mapping[str, Any]
) -> None:
    record(session, Event(actor=actor, action=action, patient_id=patient.id, unit_code=unit_code, details=details))


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


def answers_text(answers: Sequence[int | None] | None) -> str:
    """Answers as ``--answers`` takes them (``1,2,,4``): compact in a table, and can be typed back."""
    return "" if answers is None else ",".join("" if a is None else str(a) for a in answers)


def export_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``: unambiguous across time zones, parsed by pandas and lubridate as is."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------- use cases


def new_registration(
    session: Session,
    actor: str,
    catalogue: Catalogue,
    personnummer: str,
    scale_codes: str,
    *,
    token: str | None = None,
    settings: SessionSettings | None = None,
) -> dict[str, Any]:
    """Start a registration for the ticked scales, one pending part each (SPEC §7)."""
    scales = _scales(catalogue, scale_codes)
    patient = find_patient(session, personnummer)
    unit_code = _unit_code(session, patient)
    acting = _acting(session, actor, "registration.new", patient, unit_code, token, settings)
    _refuse_excluded(patient)
    now = utcnow()
    registration = Registration(
        patient_id=patient.id, started_by=acting.name, session_id=acting.session_id, created_at=now
    )
    session.add(registration)
    session.flush()
    parts = [
        RegistrationPart(registration_id=registration.id, scale_code=s.code, scale_version=s.version) for s in scales
    ]
    session.add_all(parts)
    session.flush()
    details = {"registration_id": registration.id, "scales": [s.code for s in scales], **(acting.details or {})}
    _audit(session, acting.name, "registration.new", patient, unit_code, details)
    return _summary(registration, parts, patient, unit_code)


def answer(
    session: Session,
    actor: str,
    catalogue: Catalogue,
    registration_id: int,
    scale_code: str,
    answers: Sequence[int | None],
    *,
    replace: bool = False,
    token: str | None = None,
    settings: SessionSettings | None = None,
) -> dict[str, Any]:
    """Validate one scale's answers, score them and mark the part done; complete the registration with its last part.

    The registration row is locked first, so two parts answered at once cannot both miss that the other was
    the last one pending.
    """
    from per_cli.scales.scoring import score

    registration, patient, unit_code = _load(session, registration_id, lock=True)
    acting = _acting(session, actor, "registration.answer", patient, unit_code, token, settings)
    _refuse_excluded(patient)
    parts = _parts(session, registration.id)
    wanted = scale_code.strip().casefold()
    part = next((p for p in parts if p.scale_code.casefold() == wanted), None)
    if part is None:
        raise NotFound(
            f"registration {registration.id} has no {scale_code.strip()} part; its scales: "
            f"{', '.join(p.scale_code for p in parts)}",
            field="--scale",
        )
    if registration.completed_at is not None:
        raise Conflict(f"registration {registration.id} is complete; its answers can no longer be changed", field="REG")
    if part.completed_at is not None and not replace:
        raise Conflict(
            f"{part.scale_code} is already answered in registration {registration.id}; give --replace "
            "to change its answers (possible until the registration is complete)",
            field="--scale",
        )
    try:
        scale = catalogue.get(part.scale_code)
    except NotFound:
        raise NotFound(f"{part.scale_code} is no longer in the scale catalogue", field="--scale") from None
    if scale.version != part.scale_version:
        raise Conflict(
            f"registration {registration.id} was started with {scale.code} version {part.scale_version}; "
            f"the catalogue now has version {scale.version}: start a new registration",
            field="--scale",
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


def show(session: Session, actor: str, registration_id: int) -> dict[str, Any]:
    """One registration with every part: status, answers and scores."""
    registration, patient, unit_code = _load(session, registration_id)
    parts = _parts(session, registration.id)
    _audit(session, actor, "registration.show", patient, unit_code, {"registration_id": registration.id})
    summary = _summary(registration, parts, patient, unit_code)
    del summary["scales"], summary["pending"]
    return {**summary, "parts": [_part_record(p) for p in parts]}


def list_for_patient(session: Session, actor: str, personnummer: str) -> list[dict[str, Any]]:
    """A patient's registrations, oldest first (one audit event for the patient)."""
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


@dataclass(frozen=True)
class ExportFilter:
    since: datetime | None = None
    until: datetime | None = None
    unit: str | None = None
    scales: str | None = None


def export(
    session: Session, actor: str, catalogue: Catalogue, flt: ExportFilter
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every answered part (one row each) with its scores as columns; one audit event per patient exported.

    Columns: :data:`EXPORT_COLUMNS`, then the union of the score keys, scale by scale (named scales in the order
    given, else the exported scales by code), each scale's keys in catalogue order. A row has only its own
    scale's scores; other score cells are empty. Naming one scale (``--scale``) gives a dense table whose header
    does not depend on the data, which is what a recurring analysis job wants.
    """
    from per_cli.units import get_unit

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
            raise type(exc)(exc.message, field="--scale") from None
        query = query.where(RegistrationPart.scale_code.in_(named))
    if flt.unit:
        query = query.where(Patient.unit_id == get_unit(session, flt.unit, field="--unit").id)
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
    return columns, records


def _column(key: str) -> str:
    """A score key as a column; one that clashes with a leading column (``unit``…) gets a ``score_`` prefix."""
    return f"score_{key}" if key in EXPORT_COLUMNS else key
