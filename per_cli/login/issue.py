"""Issuing a session once a login method has proved who the patient is (shared by every method)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import CareUnit, Patient, PatientCredential, utcnow
from per_cli.errors import Conflict
from per_cli.login.refusals import Refusal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.credentials.sessions import SessionSettings
    from per_cli.db.models import Caregiver


@dataclass(frozen=True)
class LoginResult:
    """A new session. ``token`` is shown once and stored nowhere (only its digest is)."""

    token: str
    session_id: int
    patient: str
    name: str
    method: str
    expires_at: datetime
    must_change_password: bool
    proxy_by: str | None = None

    def record(self) -> dict[str, Any]:
        """What ``login … --format json`` prints: stable keys, the token first (``--format plain | cut -f1``)."""
        rec: dict[str, Any] = {
            "token": self.token,
            "patient": self.patient,
            "method": self.method,
            "expires_at": self.expires_at,
            "must_change_password": self.must_change_password,
        }
        if self.method == "proxy":
            rec["proxy_by"] = self.proxy_by
        return rec


def issue_session(
    session: Session,
    actor: str,
    patient: Patient,
    unit_code: str,
    method: str,
    settings: SessionSettings,
    *,
    caregiver: Caregiver | None = None,
    challenge_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    denied: str,
) -> LoginResult:
    """Create a session and audit ``login.<method>`` (outcome ``ok``) in the caller's transaction.

    For every login method (the BankID flow too): the caller has checked who the patient is and that they may
    log in; ``details`` adds method-specific audit details (no secrets). A patient erased meanwhile is refused
    with the method's own ``denied`` text, like any unknown patient.
    """
    from per_cli.audit.events import Event, record
    from per_cli.credentials.sessions import create_session
    from per_cli.patients.register import display_pnr, lock_enrolled

    if not lock_enrolled(session, [patient.id]):
        raise Refusal(
            "erased",
            denied,
            patient_id=patient.id,
            unit_code=unit_code,
            details={**(details or {}), "erased_meanwhile": True},
        )
    now = now or utcnow()
    token, row = create_session(
        session, patient, method, settings, caregiver=caregiver, challenge_id=challenge_id, now=now
    )
    record(
        session,
        Event(
            actor=actor,
            action=f"login.{method}",
            patient_id=patient.id,
            unit_code=unit_code,
            details={**(details or {}), "session_id": row.id},
        ),
    )
    # only a password login reminds of a password sent by staff: BankID and proxy logins never used it
    credential = session.get(PatientCredential, patient.id) if method == "otp" else None
    return LoginResult(
        token=token,
        session_id=row.id,
        patient=display_pnr(patient.personnummer),
        name=f"{patient.first_name} {patient.last_name}",
        method=method,
        expires_at=settings.expires(row),
        must_change_password=bool(credential and credential.must_change),
        proxy_by=caregiver.username if caregiver else None,
    )


def unit_code_of(session: Session, unit_id: int) -> str:
    return session.execute(select(CareUnit.code).where(CareUnit.id == unit_id)).scalar_one()


def resolve_patient(session: Session, pnr_text: str) -> Patient | None:
    """The registered patient, None when unknown (or hidden from this login); an ambiguous 10-digit number is
    refused (exit 1).

    Only the look-up a known patient takes too: an unknown number is not looked for among the erased or the hidden
    (a login is told nothing about them), so its refusal does no more work than a wrong password's.
    """
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.patients.register import find_existing

    matches = find_existing(session, [c.canonical for c in parse_personnummer(pnr_text).candidates])
    if len(matches) > 1:
        exc = Conflict(
            "these 10 digits match more than one patient; give all 12 digits (YYYYMMDD-NNNN)", field="personnummer"
        )
        raise Refusal("ambiguous_personnummer", str(exc), error=exc)
    return matches[0] if matches else None
