"""Why a patient can or cannot log in: the credential's state, recent logins and open sessions, and the unlock.

The support desk reads this in ``patient show``. Every read of the lockout state goes through
:func:`lockout_state`, so a change in how failures and locks are stored is an edit here only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from per_cli.db.models import LoginSession, PatientCredential, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.config import Config
    from per_cli.unit_of_work import UnitOfWork


def lockout_state(credential: PatientCredential | None, now: datetime) -> tuple[int, datetime | None]:
    """Failed tries since the last login, and until when the account is locked (``None``: not locked)."""
    if credential is None:
        return 0, None
    locked = credential.locked_until if credential.locked_until and credential.locked_until > now else None
    return credential.failed_logins, locked


def login_status(
    session: Session, config: Config, patient_id: int, credential: PatientCredential | None
) -> dict[str, Any]:
    """The login fields of ``patient show`` (stable snake_case keys).

    A staff role not granted the sessions (``registry``) sees the credential's state, and the session fields empty.
    """
    from per_cli.credentials.sessions import SessionSettings
    from per_cli.db.roles import may_read

    now = utcnow()
    failed, locked_until = lockout_state(credential, now)
    credential_fields = {
        "password_set": credential is not None,
        "password_set_at": credential.set_at if credential else None,
        "must_change_password": credential.must_change if credential else None,
        "failed_logins": failed,
        "locked_until": locked_until,
    }
    if not may_read(session.connection(), "login_session"):
        return {**credential_fields, "last_login_at": None, "last_login_method": None, "open_sessions": None}
    last = session.execute(
        select(LoginSession.created_at, LoginSession.method)
        .where(LoginSession.patient_id == patient_id)
        .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
        .limit(1)
    ).first()
    settings = SessionSettings.from_config(config)
    idle_since = now - timedelta(minutes=settings.idle_minutes)
    open_sessions = session.execute(
        select(func.count()).where(
            LoginSession.patient_id == patient_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
            LoginSession.last_seen_at > idle_since,
        )
    ).scalar_one()
    return {
        **credential_fields,
        "last_login_at": last.created_at if last else None,
        "last_login_method": last.method if last else None,
        "open_sessions": int(open_sessions),
    }


def show_with_login_status(uow: UnitOfWork, personnummer: str) -> dict[str, Any]:
    """``patient show``: the patient as printed and why they can or cannot log in, one audited read."""
    from per_cli.audit.events import Event, record
    from per_cli.patients.register import find_patient, load_with_unit, patient_record

    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        unit_code, credential = load_with_unit(session, patient)
        record(session, Event(actor=uow.actor, action="patient.show", patient_id=patient.id, unit_code=unit_code))
        status = login_status(session, uow.config, patient.id, credential)
        return {**patient_record(patient, unit_code, credential), **status}


def unlock_patient(uow: UnitOfWork, personnummer: str) -> dict[str, Any]:
    """Forget the patient's failed tries and lift a lock (audited ``patient.unlock``).

    Returns the personnummer as shown, the failed tries cleared and until when it was locked (``None``: not).
    """
    from per_cli.audit.events import Event, record
    from per_cli.credentials.lockout import clear_patient
    from per_cli.patients.register import display_pnr, find_patient, load_with_unit

    with uow.transaction() as session:
        patient = find_patient(session, personnummer)
        unit_code, credential = load_with_unit(session, patient)
        failed, locked_until = lockout_state(credential, utcnow())
        clear_patient(session, patient.id)
        details = {"failed_logins": failed, "was_locked": locked_until is not None}
        event = Event(
            actor=uow.actor, action="patient.unlock", patient_id=patient.id, unit_code=unit_code, details=details
        )
        record(session, event)
        return {
            "personnummer": display_pnr(patient.personnummer),
            "failed_logins_cleared": failed,
            "was_locked_until": locked_until,
        }
