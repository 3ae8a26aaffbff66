"""The patient's own password change ("Min profil"): old password, new password, in a logged-in session.

The source documents tell the patient to replace the sent password after the first login. Rules: the session
must be active, belong to the named patient and be the patient's own (a care giver's proxy session cannot set
the patient's password: the care giver would then know it); the old password must be right (a wrong one
counts as a failed login, see ``credentials.lockout``); the new one has at least ``[passwords]
min_length_patient`` characters (8), is not on the common-password list, and differs from the old password
and the personnummer. Success clears the must-change flag and any failures, and ends the patient's other
sessions (whoever else holds one was let in by the old password). Audit: ``password.change``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import CareUnit, Patient, PatientCredential, utcnow
from per_cli.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from per_cli.config import Config
    from per_cli.db.models import LoginSession
    from per_cli.login.refusals import LoginSettings
    from per_cli.unit_of_work import UnitOfWork

MIN_LENGTH = 8
CHANGE_DENIED = "password change denied: the old password is wrong, or the account is locked"


def min_length(config: Config) -> int:
    return config.get_int("passwords", "min_length_patient", MIN_LENGTH, lo=8, hi=128)


def check_patient_password(
    config: Config, new: str, *, old: str | None = None, personnummer: str | None = None, field: str = "new password"
) -> None:
    """The rules for a password the patient chooses (``InvalidInput`` says which one failed)."""
    from per_cli.credentials.passwords import check_new_password

    check_new_password(new, min_length=min_length(config), field=field)
    if old is not None and new == old:
        raise InvalidInput("must differ from the old password", field=field)
    digits = "".join(ch for ch in new if ch.isdigit())
    if personnummer and digits and (digits == personnummer or digits == personnummer[2:]) and len(digits) >= 10:
        raise InvalidInput("must not be the personnummer", field=field)


def change_password(uow: UnitOfWork, pnr_text: str, *, token: str, old: str, new: str) -> dict[str, Any]:
    """Change the patient's password within their own session; returns what the command prints.

    The old password is a login try: counted before it is compared (``credentials.lockout.claim``), refused
    without comparing while the account is locked or before its slow-down has passed (``TooSoon``).
    """
    from per_cli.audit.events import Event, record
    from per_cli.credentials import lockout
    from per_cli.credentials.passwords import Argon2Params, hash_password
    from per_cli.credentials.pending import clear_in_place, matches
    from per_cli.credentials.sessions import revoke_patient_sessions
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.login.refusals import LoginSettings, Refusal, TooSoon, refusals_recorded, refuse
    from per_cli.patients.register import display_pnr

    settings = LoginSettings.from_config(uow.config)
    parsed = parse_personnummer(pnr_text)
    check_patient_password(uow.config, new, old=old, personnummer=parsed.default.canonical)
    params = Argon2Params.from_config(uow.config)
    now = utcnow()
    with refusals_recorded(uow, "password.change"), uow.transaction() as session:
        _, patient, where = _own_session(session, token, pnr_text, settings, now, touch=False)
        credential = _credential(session, patient, where)
        stored, pending = credential.password_hash, credential.pending_hash  # a pending one is accepted too
        account = lockout.patient_account(patient.id)
        counted = lockout.claim(session, account, settings.lockout, now)
    if not counted.allowed:
        too_soon = TooSoon(counted.retry_after) if counted.retry_after is not None else None
        details = {**where["details"], **counted.details()}
        where = {**where, "details": details}
        refuse(uow, "password.change", Refusal("too_soon" if too_soon else "locked", CHANGE_DENIED, **where,
                                               error=too_soon))  # fmt: skip
    if matches(stored, pending, old, params) is None:
        where = {**where, "details": {**where["details"], **counted.details()}}
        refuse(uow, "password.change", Refusal("wrong_password", CHANGE_DENIED, **where))
    new_hash = hash_password(new, params)
    with refusals_recorded(uow, "password.change"), uow.transaction() as session:
        login, patient, where = _own_session(session, token, pnr_text, settings, now, touch=True)
        credential = _credential(session, patient, where)
        credential.password_hash = new_hash
        clear_in_place(credential)  # a password still on its way no longer logs in
        credential.must_change = False
        credential.set_at = now
        lockout.clear(session, account)
        ended_count = revoke_patient_sessions(session, patient.id, except_id=login.id, now=now)
        record(
            session,
            Event(
                actor=uow.actor,
                action="password.change",
                patient_id=patient.id,
                unit_code=where["unit_code"],
                details={**where["details"], "sessions_ended": ended_count},
            ),
        )
        return {
            "patient": display_pnr(patient.personnummer),
            "changed_at": now,
            "must_change_password": False,
            "sessions_ended": ended_count,
        }


def _own_session(
    session: Session, token: str, pnr_text: str, settings: LoginSettings, now: datetime, *, touch: bool
) -> tuple[LoginSession, Patient, dict[str, Any]]:
    """The patient's own active session, for the patient named; a :class:`Refusal` otherwise."""
    from per_cli.credentials.sessions import SESSION_DENIED, SessionDenied, resolve_session
    from per_cli.login.refusals import Refusal
    from per_cli.patients.register import find_patient

    try:
        login = resolve_session(session, token, settings.sessions, touch=touch, now=now)
    except SessionDenied as exc:
        ended = exc.login_session
        raise Refusal(exc.reason, SESSION_DENIED, patient_id=ended.patient_id if ended else None) from None
    patient = session.get(Patient, login.patient_id)
    assert patient is not None
    unit_code = session.execute(select(CareUnit.code).where(CareUnit.id == patient.unit_id)).scalar_one()
    where: dict[str, Any] = {
        "patient_id": patient.id,
        "unit_code": unit_code,
        "details": {"session_id": login.id, "method": login.method},
    }
    try:
        named = find_patient(session, pnr_text)
    except NotFound:
        named = None
    if named is None or named.id != patient.id:
        raise Refusal(
            "session_other_patient", "password change denied: the session belongs to another patient", **where
        )
    if login.method == "proxy":
        raise Refusal(
            "proxy_session",
            "password change denied: a care giver's proxy session cannot "
            "change the patient's password; the patient logs in themselves",
            **where,
        )
    if patient.excluded_on is not None:
        raise Refusal("excluded", CHANGE_DENIED, **where)
    return login, patient, where


def _credential(session: Session, patient: Patient, where: dict[str, Any]) -> PatientCredential:
    from per_cli.login.refusals import Refusal

    credential = session.get(PatientCredential, patient.id)
    if credential is None:
        raise Refusal(
            "no_password",
            "",
            **where,
            error=NotFound(
                "the patient has no password to change; staff send one with `per password send`",
                field="personnummer",
            ),
        )
    return credential
