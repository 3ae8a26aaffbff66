"""Who acts on a registration: staff, or the patient (or a proxy care giver) behind a login session.

A refused session rolls the use case's transaction back, so :func:`refusals_audited` writes the refusal's audit
event in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from per_cli.audit.events import Event, record
from per_cli.db.models import Caregiver, Patient
from per_cli.errors import AuthDenied

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.credentials.sessions import SessionSettings
    from per_cli.unit_of_work import UnitOfWork


class RegistrationDenied(AuthDenied):
    """A refused login session (exit 4), carrying the audit event that must survive the rollback."""

    def __init__(self, message: str, event: Event) -> None:
        super().__init__(message, field="session")
        self.event = event


@contextmanager
def refusals_audited(uow: UnitOfWork) -> Iterator[None]:
    """Around a use case's transaction: a session refusal is audited in a transaction of its own, then raised."""
    try:
        yield
    except RegistrationDenied as exc:
        with uow.transaction() as session:
            record(session, exc.event)
        raise


def session_settings(uow: UnitOfWork, token: str | None) -> SessionSettings | None:
    """Session expiry settings from the config, read only when a session is used."""
    if token is None:
        return None
    from per_cli.credentials.sessions import SessionSettings

    return SessionSettings.from_config(uow.config)


@dataclass(frozen=True)
class Acting:
    """Who acts: the staff actor, or the patient (or the care giver by proxy) behind a login session."""

    name: str
    session_id: int | None = None
    details: Mapping[str, Any] | None = None


def who_acts(
    session: Session,
    actor: str,
    action: str,
    patient: Patient,
    unit_code: str,
    token: str | None,
    settings: SessionSettings | None,
) -> Acting:
    """With a token: the live session's identity (``patient`` or ``caregiver:USER``), which must be this patient's."""
    if token is None:
        return Acting(actor)
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
    return Acting(name, live.id, {"session_id": live.id, "method": live.method, "operator": actor})
