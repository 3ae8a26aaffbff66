"""Care giver proxy login: a care giver logs in for a patient of their own unit (source document).

Audit: action ``login.proxy`` (details ``caregiver``, ``caregiver_unit``), outcomes ``ok``, ``denied``,
``error``; details never hold the password or the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from per_cli.credentials import lockout
from per_cli.db.models import Caregiver, utcnow
from per_cli.errors import Conflict, InvalidInput
from per_cli.login.issue import LoginResult, issue_session, resolve_patient, unit_code_of
from per_cli.login.refusals import (
    PROXY_DENIED,
    PROXY_PATIENT_DENIED,
    LoginSettings,
    Refusal,
    TooSoon,
    refusals_recorded,
    refuse,
)

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


def proxy_login(uow: UnitOfWork, pnr_text: str, *, username: str, password: str) -> LoginResult:
    """A care giver logs in for a patient of their own unit (source document, "via vårdgivares inloggning").

    The care giver's password is counted, then verified (``credentials.lockout``: counted before compared; an
    unknown user name counts in ``login_throttle``; the same Argon2id work and message for unknown user, wrong
    password, locked or disabled account); then the patient must be enrolled at the care giver's unit and not
    excluded. Every outcome is audited with both identities: ``patient_id`` and ``details.caregiver``.
    """
    from per_cli.credentials.caregivers import find_caregiver, validate_username
    from per_cli.credentials.otp_key import shared_otp_key
    from per_cli.credentials.passwords import Argon2Params, spend_one_hash, verify_password
    from per_cli.identity.personnummer import parse_personnummer

    settings = LoginSettings.from_config(uow.config)
    parse_personnummer(pnr_text)
    try:
        typed_user: str | None = validate_username(username)
    except InvalidInput:
        typed_user = None  # never log what was typed if it is not a user name (it may be a password)
    key = shared_otp_key(uow)
    policy = settings.lockout
    now = utcnow()
    stored: str | None = None
    reason: str | None = None
    with refusals_recorded(uow, "login.proxy"), uow.transaction() as session:
        # The patient is looked up first only so that every refusal names both identities in the log.
        ambiguous: Conflict | None = None
        try:
            patient = resolve_patient(session, pnr_text)
        except Refusal as exc:
            patient, ambiguous = None, exc.error if isinstance(exc.error, Conflict) else None
        where: dict[str, Any] = {"patient_id": patient.id if patient else None}
        who: dict[str, Any] = {"caregiver": typed_user}
        cg = find_caregiver(session, username)
        if cg is None:
            reason = "unknown_caregiver"
            account = lockout.throttle_account(lockout.throttle_key(key, "caregiver", username.strip().lower()))
        else:
            where["unit_code"] = unit_code_of(session, cg.unit_id)
            who = {"caregiver": cg.username, "caregiver_unit": where["unit_code"]}
            account, stored = lockout.caregiver_account(cg.id), cg.password_hash
            if not cg.active:
                reason = "caregiver_disabled"
        counted = lockout.claim(session, account, policy, now)
    if not counted.allowed and counted.retry_after is not None:
        refuse(uow, "login.proxy", Refusal("too_soon", "", **where, details={**who, **counted.details()},
                                           error=TooSoon(counted.retry_after)))  # fmt: skip
    if not counted.allowed:
        reason = reason or "caregiver_locked"
    correct = False
    if stored and reason is None:
        correct = verify_password(stored, password)
    else:  # one Argon2 run, as for a wrong password
        spend_one_hash(password, Argon2Params.from_config(uow.config))
    if reason is not None or not correct or cg is None:
        details = {**who, **counted.details()}
        refuse(uow, "login.proxy", Refusal(reason or "wrong_password", PROXY_DENIED, **where, details=details))
    with refusals_recorded(uow, "login.proxy"), uow.transaction() as session:
        cg = session.get(Caregiver, cg.id)
        if cg is None or not cg.active:  # removed or disabled meanwhile
            raise Refusal("caregiver_disabled", PROXY_DENIED, **where, details=who)
        lockout.clear(session, account)
        if ambiguous is not None:
            raise Refusal("ambiguous_personnummer", str(ambiguous), **where, details=who, error=ambiguous)
        denied = PROXY_PATIENT_DENIED.format(user=cg.username)
        patient = resolve_patient(session, pnr_text)
        if patient is None:
            raise Refusal("unknown_patient", denied, **where, details=who)
        if patient.unit_id != cg.unit_id:
            raise Refusal(
                "other_unit", denied, **where, details={**who, "patient_unit": unit_code_of(session, patient.unit_id)}
            )
        if patient.excluded_on is not None:
            raise Refusal("excluded", denied, **where, details=who)
        return issue_session(
            session,
            uow.actor,
            patient,
            where["unit_code"],
            "proxy",
            settings.sessions,
            caregiver=cg,
            details=who,
            now=now,
            denied=denied,
        )
