"""``per audit extract``: the patient's log extract (Patientdatalagen 8 kap. 5 §, HSLF-FS 2016:40 4 kap. 10 §).

The extract must let the patient judge whether each access was justified, so it says in plain words which care
unit and which user read or changed what, and when, in Swedish or English. Action codes are translated through
one table; an action without a phrase yet is shown as its code rather than hidden. Producing an extract is
itself an audited access (``audit.extract``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from per_cli.config import Config
from per_cli.db.models import AuditEvent, CareUnit
from per_cli.errors import ConfigError
from per_cli.rights.tombstones import find_subject

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"

#: action code -> (Swedish, English), worded as what the user did with the patient's data
PHRASES: Mapping[str, tuple[str, str]] = {
    "patient.enrol": ("registrerade dig i registret", "enrolled you in the registry"),
    "patient.update": ("uppdaterade dina uppgifter i registret", "updated your details in the registry"),
    "patient.show": ("läste din profil", "read your profile"),
    "patient.list": ("såg dig i en lista över patienter", "saw you in a list of patients"),
    "patient.edit_profile": ("ändrade din profil", "changed your profile"),
    "patient.exclude": ("avslutade ditt deltagande i registret", "ended your participation in the registry"),
    "password.send": ("skickade ett nytt lösenord till dig", "sent you a new password"),
    "password.change": ("bytte ditt lösenord", "changed your password"),
    "login.otp": ("loggade in med ditt lösenord och en engångskod", "logged in with your password and a one-time code"),
    "login.otp.send": ("skickade en engångskod till dig", "sent you a one-time code"),
    "login.proxy": ("loggade in för din räkning (vårdgivarinloggning)", "logged in on your behalf (care giver login)"),
    "login.bankid": ("loggade in med ditt BankID", "logged in with your BankID"),
    "session.show": ("läste uppgifter om en av dina inloggningar", "read the details of one of your logins"),
    "session.list": ("såg en lista över dina inloggningar", "saw a list of your logins"),
    "session.revoke": ("avslutade en av dina inloggningar", "ended one of your logins"),
    "registration.new": ("startade en ny registrering åt dig", "started a new registration for you"),
    "registration.answer": ("sparade svar i din registrering", "saved answers in your registration"),
    "registration.show": ("läste din registrering", "read your registration"),
    "registration.list": ("såg en lista över dina registreringar", "saw a list of your registrations"),
    "registration.export": ("tog ut dina svar i en export till registret", "exported your answers for the registry"),
    "bankid.verify_caller": (
        "kontrollerade med BankID att det var du som ringde",
        "checked with BankID that the caller was you",
    ),
    "audit.list": ("läste loggen över åtkomst till dina uppgifter", "read the log of access to your data"),
    "audit.extract": ("tog fram ett loggutdrag om dig", "produced a log extract about you"),
    "patient.extract": (
        "tog fram ett registerutdrag med allt registret har om dig",
        "produced a register extract of everything the registry holds about you",
    ),
    "patient.erase_preview": (
        "gick igenom vilka uppgifter om dig som skulle raderas",
        "reviewed which of your data would be erased",
    ),
    "patient.erase": ("raderade dina uppgifter ur registret", "erased your data from the registry"),
    "patient.objections": (
        "såg dig i förteckningen över raderade och invändningar",
        "saw you in the list of erasures and objections",
    ),
}

OUTCOMES: Mapping[str, tuple[str, str]] = {
    "ok": ("genomfört", "done"),
    "denied": ("nekades", "refused"),
    "failed": ("misslyckades", "failed"),
    "partial": ("delvis genomfört", "partly done"),
    "refused": ("nekades", "refused"),
    "error": ("avbröts av ett tekniskt fel", "stopped by a technical fault"),
    "code_sent": ("engångskod skickad", "one-time code sent"),
    "skipped": ("inget skickades", "nothing was sent"),
}

COLUMNS = ("when", "care_unit", "who", "what", "outcome")
#: table headings; JSON, CSV and the other formats keep the stable snake_case keys of ``COLUMNS``
HEADINGS: Mapping[str, Sequence[str]] = {
    "sv": ("När", "Vårdenhet", "Vem", "Vad", "Utfall"),
    "en": ("When", "Care unit", "Who", "What", "Outcome"),
}


def resolve_language(config: Config, override: str | None) -> str:
    """``--language`` over ``[messages] language`` over Swedish."""
    if override:
        return override
    value = config.get_str("messages", "language", DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE
    value = value.strip().lower()
    if value not in LANGUAGES:
        raise ConfigError(
            f"[messages] language: must be one of {', '.join(LANGUAGES)}, got {value!r}",
            field=config.path.as_posix() if config.path else "config",
        )
    return value


def phrase(action: str, language: str) -> str:
    """The plain-language wording of an action; its code when there is none yet."""
    words = PHRASES.get(action)
    return words[LANGUAGES.index(language)] if words else action


def outcome_phrase(outcome: str, language: str) -> str:
    words = OUTCOMES.get(outcome)
    return words[LANGUAGES.index(language)] if words else outcome


def extract(
    uow: UnitOfWork,
    personnummer: str,
    *,
    language: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The patient's events, oldest first, worded for the patient; records the extract as an access.

    ``language`` defaults to ``[messages] language`` (:func:`resolve_language`).
    """
    language = resolve_language(uow.config, language)
    with uow.transaction() as session:
        return _extract(session, uow.actor, personnummer, language, since, until)


def _extract(
    session: Session,
    actor: str,
    personnummer: str,
    language: str,
    since: datetime | None,
    until: datetime | None,
) -> list[dict[str, Any]]:
    from per_cli.audit.events import Event, record

    subject = find_subject(session, personnummer)  # an erased patient has the right to the extract too
    records = access_log(session, subject.ids, language, since, until)
    unit_code = (
        session.execute(select(CareUnit.code).where(CareUnit.id == subject.patient.unit_id)).scalar()
        if subject.patient
        else None
    )
    details: dict[str, Any] = {"events": len(records), "language": language}
    if since:
        details["since"] = since.isoformat()
    if until:
        details["until"] = until.isoformat()
    record(
        session,
        Event(actor=actor, action="audit.extract", patient_id=subject.patient_id, unit_code=unit_code, details=details),
    )
    return records


def access_log(
    session: Session,
    patient_ids: Sequence[int],
    language: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The events about these patient ids (one person's, erased ones too), oldest first, worded for the patient.

    Shared by ``audit extract`` and the register extract (``per patient extract``); the caller audits.
    """
    query = (
        select(
            AuditEvent.at, AuditEvent.unit_code, CareUnit.name, AuditEvent.actor, AuditEvent.action, AuditEvent.outcome
        )
        .outerjoin(CareUnit, CareUnit.code == AuditEvent.unit_code)
        .where(AuditEvent.patient_id.in_(patient_ids))
        .order_by(AuditEvent.id)
    )
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return [
        {
            "when": at.astimezone().replace(microsecond=0),
            "care_unit": name or code,
            "who": who,
            "what": phrase(action, language),
            "outcome": outcome_phrase(outcome, language),
        }
        for at, code, name, who, action, outcome in session.execute(query).tuples()
    ]


def for_table(records: Sequence[Mapping[str, Any]], language: str) -> list[dict[str, Any]]:
    """The same records keyed by the headings of the patient's language (the table format only)."""
    headings = HEADINGS[language]
    return [{heading: rec[key] for key, heading in zip(COLUMNS, headings, strict=True)} for rec in records]
