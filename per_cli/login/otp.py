"""Login with password + one-time code, in two steps (source document, "tvåstegsinloggning").

Sending a code: the password step (``per_cli.login.password_step``: counted before compared, the same work on
every path) runs in transactions of its own; then one transaction reserves a send under the cap ``[otp]
max_sends`` per ``send_window_minutes`` (``per_cli.credentials.send_cap``); the code is sent with no
transaction open (an SMTP server may take seconds and SQLite would be locked meanwhile); then one transaction
supersedes the patient's pending codes, stores the new one and audits. If no channel delivers, nothing is
stored and the previous code stays valid (exit 1); if some channel fails, the code still counts and the
result names the failed channel.

Completing a code is one transaction: the account must be open (not locked, past ``not_before``), then a try is
counted on the code and on the account in conditional statements (``UPDATE … SET attempts = attempts + 1
WHERE … AND attempts < max_attempts AND expires_at > now … RETURNING``) *before* the code is compared, so 40
parallel tries compare at most ``max_attempts`` codes. A wrong code commits its count with its audit event; the
right one consumes the challenge (the row is already locked by the count; SQLite serialises writers with
``BEGIN IMMEDIATE``) and ``login_session.challenge_id`` is unique as a backstop.

Audit: action ``login.otp`` (details ``step`` = ``password`` or ``code``), outcomes ``code_sent``, ``ok``,
``denied``, ``error``; details never hold the password, the code or the token. Refusals go through
:mod:`per_cli.login.refusals`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from per_cli.credentials import lockout
from per_cli.db.models import OtpChallenge, Patient, PatientCredential, utcnow
from per_cli.errors import AuthDenied, DeliveryFailed, InvalidInput
from per_cli.login.channels import CHANNEL_CHOICES, Recipient, open_transports, plan_channels
from per_cli.login.issue import LoginResult, issue_session, resolve_patient, unit_code_of
from per_cli.login.refusals import (
    CODE_DENIED,
    CODES_CAPPED,
    LOCKED,
    PASSWORD_DENIED,
    LoginSettings,
    Refusal,
    TooSoon,
    WrongCode,
    record_refusal,
    refusals_recorded,
    refuse,
)
from per_cli.patients.register import lock_enrolled
from per_cli.staff.scope import open_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.unit_of_work import UnitOfWork

__all__ = ["CHANNEL_CHOICES", "OtpStarted", "check_challenge_id", "complete_otp", "open_transports", "start_otp"]
_CHALLENGE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class OtpStarted:
    """A code was sent: the challenge id completes it (``login otp --challenge ID --code CODE``)."""

    challenge_id: str
    patient: str
    channels: tuple[str, ...]
    sent_to: tuple[str, ...]
    failed: tuple[str, ...]
    expires_at: datetime
    outbox_files: Mapping[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge_id,
            "patient": self.patient,
            "channels": list(self.channels),
            "sent_to": list(self.sent_to),
            "failed": list(self.failed),
            "expires_at": self.expires_at,
        }


def start_otp(
    uow: UnitOfWork,
    pnr_text: str,
    *,
    password: str,
    channel: str | None = None,
    require_file_outbox: bool = False,
    warn: Callable[[str], None] | None = None,
) -> OtpStarted:
    """Step 1: check the password, send a new code on the chosen channels, store its keyed hash.

    Raises ``AuthDenied`` (exit 4) for every refusal of the password, a try before the slow-down has passed
    (``TooSoon``) and a patient who has had ``[otp] max_sends`` codes in the window; ``InvalidInput`` for an
    unusable channel, ``ConfigError`` for a missing or wrong transport or key, ``DeliveryFailed`` when no
    channel delivered (all exit 1, with nothing stored).
    """
    from per_cli.audit.events import Event, record
    from per_cli.credentials.otp import code_hash, generate_code, message_text, new_challenge_id
    from per_cli.credentials.otp_key import shared_otp_key
    from per_cli.credentials.send_cap import reserve_send
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.login.password_step import check_patient_password
    from per_cli.patients.register import display_pnr
    from per_cli.transports import Message, mask_recipient

    settings = LoginSettings.from_config(uow.config)
    parse_personnummer(pnr_text)  # a mistyped number is exit 1 with its reason, before any look-up
    key = shared_otp_key(uow)
    step = {"step": "password"}
    checked = check_patient_password(
        uow, pnr_text, password, settings, key=key, action="login.otp", denied=PASSWORD_DENIED, details=step
    )
    patient = checked.patient
    patient_id, unit_code, pnr = patient.id, checked.unit_code, display_pnr(patient.personnummer)
    where: dict[str, Any] = {"patient_id": patient_id, "unit_code": unit_code}
    try:
        recipients, warnings = plan_channels(patient.mobile, patient.mobile_type, patient.email, channel)
    except InvalidInput as exc:
        details = {**step, "channel": channel or "profile"}
        refuse(uow, "login.otp", Refusal("no_usable_contact", str(exc), error=exc, **where, details=details))
    for text in warnings:
        if warn:
            warn(text)
    transports = open_transports(uow.config, [r.channel for r in recipients], require_file=require_file_outbox)
    now = utcnow()
    with refusals_recorded(uow, "login.otp"), uow.transaction() as session:
        if not lock_enrolled(session, [patient_id]):  # erased since the password was checked: send nothing
            raise Refusal("erased", PASSWORD_DENIED, **where, details={**step, "erased_meanwhile": True})
        wait = reserve_send(session, patient_id, settings.otp, now)
        if wait is not None:
            capped = CODES_CAPPED.format(minutes=max(1, -(-wait // 60)))
            cap = {"max_sends": settings.otp.max_sends, "window_minutes": settings.otp.send_window_minutes}
            raise Refusal("too_many_codes", capped, **where, details={**step, **cap})

    challenge_id, code = new_challenge_id(), generate_code(settings.otp.digits)
    hashed = code_hash(key, challenge_id, code)
    sent: list[Recipient] = []
    failed: list[str] = []
    files: dict[str, str] = {}
    for rcpt in recipients:
        subject, body = message_text(code, settings.otp, rcpt.channel)
        with transports[rcpt.channel] as transport:
            result = transport.send(Message(rcpt.channel, rcpt.to, body, subject))  # type: ignore[arg-type]
        if result.ok:
            sent.append(rcpt)
            if isinstance(result.detail.get("path"), str):
                files[rcpt.channel] = result.detail["path"]
        else:
            failed.append(f"{rcpt.channel}: {result.error}")
    if not sent:
        undelivered = Refusal(
            "delivery_failed",
            "",
            **where,
            error=DeliveryFailed("no code could be sent: " + "; ".join(failed)),
            details={**step, "failed_channels": [r.channel for r in recipients]},
        )
        refuse(uow, "login.otp", undelivered)
    channels = tuple(r.channel for r in sent)
    expires_at = now + timedelta(seconds=settings.otp.ttl_seconds)
    with refusals_recorded(uow, "login.otp"), uow.transaction() as session:
        if not lock_enrolled(session, [patient_id]):  # erased since the password was checked: store nothing
            raise Refusal("erased", PASSWORD_DENIED, **where, details={**step, "erased_meanwhile": True})
        superseded = session.execute(
            update(OtpChallenge)
            .where(
                OtpChallenge.patient_id == patient_id,
                OtpChallenge.consumed_at.is_(None),
                OtpChallenge.superseded_at.is_(None),
            )
            .values(superseded_at=now)
        ).rowcount  # type: ignore[attr-defined]
        session.add(
            OtpChallenge(
                id=challenge_id,
                patient_id=patient_id,
                code_hash=hashed,
                channels=",".join(channels),
                created_at=now,
                expires_at=expires_at,
                attempts=0,
            )
        )
        record(
            session,
            Event(
                actor=uow.actor,
                action="login.otp",
                patient_id=patient_id,
                unit_code=unit_code,
                outcome="code_sent",
                details={
                    **step,
                    "challenge_id": challenge_id,
                    "channels": list(channels),
                    "failed_channels": [f.split(":", 1)[0] for f in failed],
                    "replaced": int(superseded),
                },
            ),
        )
    return OtpStarted(
        challenge_id=challenge_id,
        patient=pnr,
        channels=channels,
        sent_to=tuple(mask_recipient(r.to) for r in sent),
        failed=tuple(failed),
        expires_at=expires_at,
        outbox_files=files,
    )


def check_challenge_id(text: str) -> str:
    """A challenge id as printed; anything else is an unknown challenge (exit 4), refused before any database work."""
    challenge_id = text.strip().lower()
    if not _CHALLENGE_ID.match(challenge_id):
        raise AuthDenied("login denied: not a challenge id (32 hex digits, as printed by `per login otp --send-only`)")
    return challenge_id


def complete_otp(uow: UnitOfWork, challenge_id: str, *, code: str, pnr_text: str | None = None) -> LoginResult:
    """Step 2: the code for a challenge opens a session; single use, ``max_attempts`` tries, expiry.

    A try is counted on the code and on the patient's account before the code is compared (see the module
    docstring); the right code resets the account's failures. With ``pnr_text`` the challenge must be that
    patient's. Raises ``WrongCode`` (with the tries left), ``TooSoon`` or ``AuthDenied`` (all exit 4).
    """
    from per_cli.credentials.otp import code_matches, normalise_code
    from per_cli.credentials.otp_key import shared_otp_key
    from per_cli.identity.personnummer import parse_personnummer

    settings = LoginSettings.from_config(uow.config)
    challenge_id = check_challenge_id(challenge_id)
    code = normalise_code(code, settings.otp.digits)
    if pnr_text is not None:
        parse_personnummer(pnr_text)
    key = shared_otp_key(uow)
    now = utcnow()
    step = {"step": "code", "challenge_id": challenge_id}
    wrong: WrongCode | None = None
    try:
        try:
            with uow.transaction() as session:
                patient, where = _challenge_patient(session, challenge_id, pnr_text, step)
                counted = lockout.claim(session, lockout.patient_account(patient.id), settings.lockout, now)
                if not counted.allowed:
                    if counted.retry_after is not None:
                        details = {**step, **counted.details()}
                        raise Refusal("too_soon", "", **where, details=details, error=TooSoon(counted.retry_after))
                    raise Refusal("locked", LOCKED, **where, details=step)
                stored, tries = _count_try(session, challenge_id, settings.otp.max_attempts, now, where, step)
                if not code_matches(key, challenge_id, code, stored):
                    tries_left = max(0, settings.otp.max_attempts - tries)
                    details = {**step, "attempts": tries, **counted.details()}
                    refusal = Refusal("wrong_code", "", **where, details=details)
                    record_refusal(session, uow.actor, "login.otp", refusal)
                    wrong = _wrong_code(tries_left, counted.locked)
                else:
                    session.execute(update(OtpChallenge).where(OtpChallenge.id == challenge_id).values(consumed_at=now))
                    lockout.clear_patient(session, patient.id)
                    channels = session.execute(
                        select(OtpChallenge.channels).where(OtpChallenge.id == challenge_id)
                    ).scalar_one()
                    return issue_session(
                        session,
                        uow.actor,
                        patient,
                        where["unit_code"],
                        "otp",
                        settings.sessions,
                        challenge_id=challenge_id,
                        details={**step, "channels": channels},
                        now=now,
                        denied=CODE_DENIED,
                    )
        except IntegrityError:  # the unique challenge_id: another verification won after all
            raise Refusal("code_used", CODE_DENIED, details=step) from None
    except Refusal as refusal:
        refuse(uow, "login.otp", refusal)
    assert wrong is not None
    raise wrong


def _challenge_patient(
    session: Session, challenge_id: str, pnr_text: str | None, step: Mapping[str, Any]
) -> tuple[Patient, dict[str, Any]]:
    """The challenge's patient, who must still be enrolled, have a password and not be excluded."""
    open_keys(session, challenge_id=challenge_id)  # key-only logins (service) may see this challenge
    challenge = session.get(OtpChallenge, challenge_id)
    if challenge is None:
        raise Refusal("unknown_challenge", CODE_DENIED, details=step)
    patient = session.get(Patient, challenge.patient_id)
    # erased meanwhile? The patient row is locked before any row of theirs is written, as the erasure locks it
    # before deleting them: the same order, so the two cannot deadlock
    if patient is None or not lock_enrolled(session, [patient.id]):
        raise Refusal("erased", CODE_DENIED, details={**step, "erased_meanwhile": True})
    where: dict[str, Any] = {"patient_id": patient.id, "unit_code": unit_code_of(session, patient.unit_id)}
    if pnr_text is not None:
        named = resolve_patient(session, pnr_text)
        if named is None or named.id != patient.id:
            raise Refusal("other_patient", CODE_DENIED, **where, details=step)
    if session.get(PatientCredential, patient.id) is None:
        raise Refusal("no_password", CODE_DENIED, **where, details=step)
    if patient.excluded_on is not None:
        raise Refusal("excluded", CODE_DENIED, **where, details=step)
    return patient, where


def _count_try(
    session: Session, challenge_id: str, limit: int, now: datetime, where: dict[str, Any], step: Mapping[str, Any]
) -> tuple[str, int]:
    """Count one try on a usable code before it is compared; returns its stored hash and the tries so far.
    A used, replaced, expired or exhausted code is refused without counting (the caller's transaction, which
    holds the account's count too, then rolls back)."""
    counted = session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.id == challenge_id,
            OtpChallenge.consumed_at.is_(None),
            OtpChallenge.superseded_at.is_(None),
            OtpChallenge.expires_at > now,
            OtpChallenge.attempts < limit,
        )
        .values(attempts=OtpChallenge.attempts + 1)
        .returning(OtpChallenge.code_hash, OtpChallenge.attempts)
    ).one_or_none()
    if counted is not None:
        return str(counted[0]), int(counted[1])
    challenge = session.get(OtpChallenge, challenge_id, populate_existing=True)
    assert challenge is not None
    for reason, applies in (
        ("code_used", challenge.consumed_at is not None),
        ("code_replaced", challenge.superseded_at is not None),
        ("code_expired", challenge.expires_at <= now),
        ("too_many_attempts", True),
    ):
        if applies:
            raise Refusal(reason, CODE_DENIED, **where, details=step)
    raise AssertionError("unreachable")


def _wrong_code(tries_left: int, locked: bool) -> WrongCode:
    if locked:
        return WrongCode(LOCKED, 0)
    return WrongCode(
        f"login denied: wrong one-time code ({tries_left} {'try' if tries_left == 1 else 'tries'} left)"
        if tries_left
        else "login denied: wrong one-time code; no tries left, ask for a new code",
        tries_left,
    )
