"""Care giver proxy login: a care giver logs in for a patient of their own unit (source document).

Audit: action ``login.proxy`` (details ``caregiver``, ``caregiver_unit``), outcomes ``ok``, ``denied``,
``error``; details never hold the password or the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from per_cli.credentials import lockout
from per_cli.db.models import utcnow
from per_cli.errors import Conflict, InvalidInput
from per_cli.login.issue import LoginResult, issue_session, resolve_patient, unit_code_of
from per_cli.login.refusals import PROXY_DENIED, PROXY_PATIENT_DENIED, LoginSettings, Refusal, refuse

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


def proxy_login(uow: UnitOfWork, pnr_text: str, *, username: str, password: str) -> LoginResult:
    """A care giver logs in for a patient of their own unit (source document, "via vårdgivares inloggning").

    The care giver's password is verified first (same message for unknown user, wrong password, locked or
    disabled account); then the patient must be enrolled at the care giver's unit and not excluded. Every
    outcome is audited with both identities: ``patient_id`` and ``details.caregiver``.
    """
    from per_cli.credentials.caregivers import find_caregiver, validate_username
    from per_cli.credentials.passwords import dummy_hash, verify_password
    from per_cli.identity.personnummer import parse_personnummer

    settings = LoginSettings.from_config(uow.config)
    parse_personnummer(pnr_text)
    try:
        typed_user: str | None = validate_username(username)
    except InvalidInput:
        typed_user = None  # never log what was typed if it is not a user name (it may be a password)
    now = utcnow()
    try:
        with uow.transaction() as session:
            # The patient is looked up first only so that every refusal names both identities in the log.
            ambiguous: Conflict | None = None
            try:
                patient = resolve_patient(session, pnr_text)
            except Refusal as exc:
                patient, ambiguous = None, exc.error if isinstance(exc.error, Conflict) else None
            where: dict[str, Any] = {"patient_id": patient.id if patient else None}
            cg = find_caregiver(session, username)
            if cg is None:
                verify_password(dummy_hash(), password)
                raise Refusal("unknown_caregiver", PROXY_DENIED, **where, details={"caregiver": typed_user})
            where["unit_code"] = cg_unit = unit_code_of(session, cg.unit_id)
            who: dict[str, Any] = {"caregiver": cg.username, "caregiver_unit": cg_unit}
            correct = verify_password(cg.password_hash, password)
            if settings.lockout.is_locked(cg.locked_until, now):
                raise Refusal("caregiver_locked", PROXY_DENIED, **where, details=who)
            if not correct:
                raise Refusal("wrong_password", PROXY_DENIED, **where, details=who, count="caregiver", account_id=cg.id)
            if not cg.active:
                raise Refusal("caregiver_disabled", PROXY_DENIED, **where, details=who)
            if ambiguous is not None:
                raise Refusal("ambiguous_personnummer", str(ambiguous), **where, details=who, error=ambiguous)
            denied = PROXY_PATIENT_DENIED.format(user=cg.username)
            if patient is None:
                raise Refusal("unknown_patient", denied, **where, details=who)
            if patient.unit_id != cg.unit_id:
                raise Refusal(
                    "other_unit",
                    denied,
                    **where,
                    details={**who, "patient_unit": unit_code_of(session, patient.unit_id)},
                )
            if patient.excluded_on is not None:
                raise Refusal("excluded", denied, **where, details=who)
            lockout.clear_caregiver(session, cg.id)
            return issue_session(
                session,
                uow.actor,
                patient,
                cg_unit,
                "proxy",
                settings.sessions,
                caregiver=cg,
                details=who,
                now=now,
                denied=denied,
            )
    except Refusal as refusal:
        refuse(uow, "login.proxy", refusal, settings.lockout)
