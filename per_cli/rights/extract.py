"""``per patient extract``: everything the register holds about a person (GDPR art. 15), in sections.

Profile and contact details, registrations with answers and scores, password deliveries (to where and when,
never the password), one-time codes sent, logins and sessions, tombstones, and the access-log extract that
``audit extract`` gives (``audit.extract.access_log``). Keys are stable snake_case in every machine format;
section titles and column headings follow the patient's language in the table and the workbook. An erased
person gets what is kept: the tombstone and the access log. Producing it is audited (``patient.extract``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from per_cli.audit.extract import COLUMNS as LOG_COLUMNS
from per_cli.audit.extract import HEADINGS as LOG_HEADINGS
from per_cli.audit.extract import access_log, resolve_language
from per_cli.db.models import (
    Caregiver,
    CareUnit,
    LoginSession,
    OtpChallenge,
    PasswordDelivery,
    PatientCredential,
    PatientErasure,
    Registration,
    RegistrationPart,
    utcnow,
)
from per_cli.patients.register import display_pnr
from per_cli.rights.tombstones import Subject, find_subject

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    sheet: str  # a workbook sheet's name: at most 31 characters, none of []:*?/\
    columns: tuple[str, ...]
    headings: tuple[str, ...]
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RegisterExtract:
    personnummer: str
    language: str
    produced_at: datetime
    sections: list[Section]

    def heading(self) -> str:
        """The extract's first line for a person to read, in its language."""
        when = self.produced_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if self.language == "sv":
            return f"Registerutdrag för {self.personnummer}, framtaget {when}"
        return f"Register extract for {self.personnummer}, produced {when}"

    @property
    def nothing(self) -> str:
        """What an empty section says."""
        return "(inga)" if self.language == "sv" else "(none)"

    def as_json(self) -> dict[str, Any]:
        """One object: who, when, the language, then each section as a list of records (the profile as one)."""
        doc: dict[str, Any] = {
            "personnummer": self.personnummer,
            "produced_at": self.produced_at,
            "language": self.language,
        }
        for section in self.sections:
            doc[section.key] = section.records
        profile = doc.get("profile")
        doc["profile"] = profile[0] if profile else None
        return doc


#: section key -> ((title sv, title en, sheet sv, sheet en), ((column, heading sv, heading en), …))
LAYOUT: Mapping[str, tuple[tuple[str, str, str, str], tuple[tuple[str, str, str], ...]]] = {
    "profile": (
        ("Profil och kontaktuppgifter", "Profile and contact details", "Profil", "Profile"),
        (
            ("first_name", "Förnamn", "First name"),
            ("last_name", "Efternamn", "Last name"),
            ("care_unit", "Vårdenhet", "Care unit"),
            ("mobile", "Mobil", "Mobile"),
            ("email", "E-post", "E-mail"),
            ("contact_person", "Kontaktuppgifterna gäller", "Contact details belong to"),
            ("pal", "PAL", "Responsible physician"),
            ("comment", "Kommentar", "Comment"),
            ("registered_on", "Registrerad", "Registered on"),
            ("excluded_on", "Avslutad", "Excluded on"),
            ("exclusion_reason", "Orsak till avslut", "Reason for exclusion"),
            ("password_set_at", "Lösenord satt", "Password set at"),
            ("must_change_password", "Måste byta lösenord", "Must change password"),
            ("locked_until", "Låst till", "Locked until"),
        ),
    ),
    "registrations": (
        ("Registreringar, svar och poäng", "Registrations, answers and scores", "Registreringar", "Registrations"),
        (
            ("registration_id", "Registrering", "Registration"),
            ("started_at", "Startad", "Started"),
            ("started_by", "Startad av", "Started by"),
            ("scale", "Skala", "Scale"),
            ("version", "Version", "Version"),
            ("answered_at", "Besvarad", "Answered"),
            ("answers", "Svar", "Answers"),
            ("scores", "Poäng", "Scores"),
        ),
    ),
    "deliveries": (
        ("Skickade lösenord", "Passwords sent", "Lösenord", "Passwords"),
        (
            ("when", "När", "When"),
            ("channel", "Kanal", "Channel"),
            ("to", "Till", "To"),
            ("status", "Utfall", "Outcome"),
        ),
    ),
    "codes": (
        ("Skickade engångskoder", "One-time codes sent", "Engångskoder", "One-time codes"),
        (
            ("when", "När", "When"),
            ("channels", "Kanaler", "Channels"),
            ("expires_at", "Giltig till", "Valid until"),
            ("used_at", "Använd", "Used"),
        ),
    ),
    "sessions": (
        ("Inloggningar och sessioner", "Logins and sessions", "Inloggningar", "Logins"),
        (
            ("since", "Inloggad", "Logged in"),
            ("method", "Sätt", "Method"),
            ("proxy_by", "Via vårdgivare", "By care giver"),
            ("last_seen_at", "Senast aktiv", "Last active"),
            ("ended_at", "Utloggad", "Logged out"),
        ),
    ),
    "erasures": (
        ("Raderingar", "Erasures", "Raderingar", "Erasures"),
        (
            ("erased_on", "Raderad", "Erased on"),
            ("reason", "Skäl", "Reason"),
        ),
    ),
    "access_log": (
        ("Loggutdrag: åtkomst till dina uppgifter", "Log extract: access to your data", "Loggutdrag", "Access log"),
        tuple((key, sv, en) for key, sv, en in zip(LOG_COLUMNS, LOG_HEADINGS["sv"], LOG_HEADINGS["en"], strict=True)),
    ),
}


def _section(key: str, language: str, records: list[dict[str, Any]]) -> Section:
    names, columns = LAYOUT[key]
    i = 0 if language == "sv" else 1
    return Section(
        key,
        names[i],
        names[2 + i],
        tuple(c[0] for c in columns),
        tuple(c[1 + i] for c in columns),
        records,
    )


def register_extract(uow: UnitOfWork, personnummer: str, *, language: str | None = None) -> RegisterExtract:
    """Everything held about the person, in one consistent read; audited as ``patient.extract``."""
    from per_cli.audit.events import Event, record

    language = resolve_language(uow.config, language)
    with uow.transaction() as session:
        subject = find_subject(session, personnummer)
        records = _gather(session, subject, language)
        unit_code = records.pop("unit_code", None)
        sections = [_section(key, language, rows) for key, rows in records.items()]
        counts = {s.key: len(s.records) for s in sections}
        details = {"language": language, "sections": counts}
        record(session, Event(uow.actor, "patient.extract", subject.patient_id, unit_code, details=details))
        return RegisterExtract(display_pnr(subject.personnummer), language, utcnow(), sections)


def _gather(session: Session, subject: Subject, language: str) -> dict[str, Any]:
    ids = subject.ids
    out: dict[str, Any] = {}
    patient = subject.patient
    if patient is not None:
        unit = session.get(CareUnit, patient.unit_id)
        credential = session.get(PatientCredential, patient.id)
        out["unit_code"] = unit.code if unit else None
        out["profile"] = [
            {
                "first_name": patient.first_name,
                "last_name": patient.last_name,
                "care_unit": unit.name if unit else None,
                "mobile": patient.mobile,
                "email": patient.email,
                "contact_person": patient.contact_person,
                "pal": patient.pal,
                "comment": patient.comment,
                "registered_on": patient.registered_on,
                "excluded_on": patient.excluded_on,
                "exclusion_reason": patient.exclusion_reason,
                "password_set_at": credential.set_at if credential else None,
                "must_change_password": credential.must_change if credential else None,
                "locked_until": credential.locked_until if credential else None,
            }
        ]
    else:
        out["profile"] = []
    out["registrations"] = _registrations(session, ids)
    deliveries = select(PasswordDelivery).where(PasswordDelivery.patient_id.in_(ids)).order_by(PasswordDelivery.id)
    out["deliveries"] = [
        {"when": d.created_at, "channel": d.channel, "to": d.recipient, "status": d.status}
        for d in session.execute(deliveries).scalars()
    ]
    codes = select(OtpChallenge).where(OtpChallenge.patient_id.in_(ids)).order_by(OtpChallenge.created_at)
    out["codes"] = [
        {"when": c.created_at, "channels": c.channels.split(","), "expires_at": c.expires_at, "used_at": c.consumed_at}
        for c in session.execute(codes).scalars()
    ]
    sessions = (
        select(LoginSession, Caregiver.username)
        .outerjoin(Caregiver, Caregiver.id == LoginSession.caregiver_id)
        .where(LoginSession.patient_id.in_(ids))
        .order_by(LoginSession.created_at, LoginSession.id)
    )
    out["sessions"] = [
        {
            "since": s.created_at,
            "method": s.method,
            "proxy_by": username,
            "last_seen_at": s.last_seen_at,
            "ended_at": s.revoked_at,
        }
        for s, username in session.execute(sessions).tuples()
    ]
    erasures = select(PatientErasure).where(PatientErasure.patient_id.in_(ids)).order_by(PatientErasure.erased_at)
    out["erasures"] = [
        {"erased_on": t.erased_at.astimezone().date(), "reason": t.reason} for t in session.execute(erasures).scalars()
    ]
    out["access_log"] = access_log(session, ids, language)
    return out


def _registrations(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """One record per scale of each registration, answered or not."""
    query = (
        select(Registration, RegistrationPart)
        .join(RegistrationPart, RegistrationPart.registration_id == Registration.id)
        .where(Registration.patient_id.in_(ids))
        .order_by(Registration.id, RegistrationPart.id)
    )
    return [
        {
            "registration_id": reg.id,
            "started_at": reg.created_at,
            "started_by": reg.started_by,
            "scale": part.scale_code,
            "version": part.scale_version,
            "answered_at": part.completed_at,
            "answers": json.loads(part.answers) if part.answers is not None else None,
            "scores": json.loads(part.scores) if part.scores is not None else None,
        }
        for reg, part in session.execute(query).tuples()
    ]
