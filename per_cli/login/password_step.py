"""Checking a patient's password: counted before compared, and the same on every path.

1. One transaction finds whose counter the try goes to and counts it (``lockout.claim``): the patient's
   credential, or — for an unknown personnummer or a patient without a password — the ``login_throttle`` row
   of a keyed hash of the canonical number. It commits before any comparison.
2. A try before the stored slow-down is refused at once (:class:`TooSoon`, "try again in N s"), unknown or
   known alike, and nothing is compared. Every other path does exactly two Argon2id runs
   (``pending.RUNS_PER_CHECK``): the pending hash or a hash with the *configured* parameters, and the patient's
   hash; or, with nothing to compare (unknown, no password, excluded, locked), two hashes with the configured
   parameters. So all five, and a wrong password while a new one is on its way, take the same time.
3. A right password for a patient who may log in takes its try back (``lockout.refund``); every other outcome
   keeps the count and writes the audit event with the real reason (``wrong_password``, ``unknown_patient``,
   ``no_password``, ``excluded``, ``locked``, ``too_soon``). The user reads one message for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import select

from per_cli.credentials import lockout
from per_cli.db.models import CareUnit, PatientCredential, utcnow
from per_cli.login.issue import resolve_patient
from per_cli.login.refusals import Refusal, TooSoon, record_refusal, refusal_error, refusals_recorded

if TYPE_CHECKING:
    from per_cli.db.models import Patient
    from per_cli.login.refusals import LoginSettings
    from per_cli.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PasswordChecked:
    """A right password of a patient who may log in (the patient row as read, detached)."""

    patient: Patient
    unit_code: str


def check_patient_password(
    uow: UnitOfWork,
    pnr_text: str,
    password: str,
    settings: LoginSettings,
    *,
    key: bytes,
    action: str,
    denied: str,
    details: dict[str, Any],
) -> PasswordChecked:
    """Count, compare, and refund or refuse (see the module docstring). ``key`` keys the throttle hash.
    Raises ``AuthDenied`` (``denied``; :class:`TooSoon`) after auditing the refusal as ``action``."""
    from per_cli.credentials.passwords import Argon2Params
    from per_cli.credentials.pending import matches, promote, spend_check
    from per_cli.identity.personnummer import parse_personnummer

    canonical = parse_personnummer(pnr_text).default.canonical
    policy = settings.lockout
    now = utcnow()
    where: dict[str, Any] = {}
    reason: str | None = None
    stored: str | None = None
    pending: str | None = None  # a password on its way: it logs in too, and then replaces the old
    patient: Patient | None = None
    unit_code = ""
    with refusals_recorded(uow, action), uow.transaction() as session:
        patient = resolve_patient(session, pnr_text)
        account = lockout.throttle_account(lockout.throttle_key(key, "patient", canonical))
        # the same look-ups whoever it is (no row for an unknown number): the time must not tell
        unit_id = patient.unit_id if patient else -1
        unit_code = session.execute(select(CareUnit.code).where(CareUnit.id == unit_id)).scalar() or ""
        credential = session.get(PatientCredential, patient.id if patient else -1)
        if patient is None:
            reason = "unknown_patient"
        else:
            where = {"patient_id": patient.id, "unit_code": unit_code}
            if credential is None:
                reason = "no_password"
            else:
                account = lockout.patient_account(patient.id)
                stored, pending = credential.password_hash, credential.pending_hash
                if patient.excluded_on is not None:
                    reason = "excluded"
        counted = lockout.claim(session, account, policy, now)
    if not counted.allowed and counted.retry_after is not None:
        _refuse(uow, action, Refusal("too_soon", denied, **where, details=_details(details, reason, counted),
                                     error=TooSoon(counted.retry_after)))  # fmt: skip
    if not counted.allowed:
        reason = reason or "locked"
    used: str | None = None
    params = Argon2Params.from_config(uow.config)
    if stored is not None and reason is None:
        used = matches(stored, pending, password, params)
    else:  # the same Argon2 runs as for a wrong password
        spend_check(password, params)
    correct = used is not None
    if reason is None and correct and patient is not None:
        with uow.transaction() as session:
            lockout.refund(session, account)
            if used == "pending" and pending is not None:
                promote(session, patient.id, pending)
        return PasswordChecked(patient, unit_code)
    refusal = Refusal(reason or "wrong_password", denied, **where, details={**details, **counted.details()})
    _refuse(uow, action, refusal)


def _details(details: dict[str, Any], reason: str | None, counted: lockout.Claim) -> dict[str, Any]:
    return {**details, **({"would_be": reason} if reason else {}), **counted.details()}


def _refuse(uow: UnitOfWork, action: str, refusal: Refusal) -> NoReturn:
    with uow.transaction() as session:
        record_refusal(session, uow.actor, action, refusal)
    raise refusal_error(refusal)
