"""Login with password + one-time code, in two steps (source document, "tvåstegsinloggning").

Sending a code: the password step runs in its own (read-only on success) transaction; the code is sent with no
transaction open (an SMTP server may take seconds and SQLite would be locked meanwhile); then one transaction
supersedes the patient's pending codes, stores the new one and audits. If no channel delivers, nothing is
stored and the previous code stays valid (exit 1); if some channel fails, the code still counts and the
result names the failed channel.

Completing a code is a conditional ``UPDATE … SET consumed_at WHERE consumed_at IS NULL AND …``: of two
verifications of the same code at the same moment exactly one updates a row and gets a session (PostgreSQL
re-checks the condition after the row lock; SQLite serialises writers with ``BEGIN IMMEDIATE``), and
``login_session.challenge_id`` is unique as a backstop.

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

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from per_cli.credentials import lockout
from per_cli.db.models import OtpChallenge, Patient, PatientCredential, utcnow
from per_cli.errors import DeliveryFailed, InvalidInput
from per_cli.login.issue import LoginResult, issue_session, resolve_patient, unit_code_of
from per_cli.login.refusals import (
    CODE_DENIED,
    LOCKED,
    PASSWORD_DENIED,
    LoginSettings,
    Refusal,
    refusals_recorded,
    refuse,
)
from per_cli.patients.register import lock_enrolled
from per_cli.staff.scope import open_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.config import Config
    from per_cli.transports import Transport
    from per_cli.unit_of_work import UnitOfWork

CHANNEL_CHOICES = ("sms", "email", "all")
_CHALLENGE_ID = re.compile(r"^[0-9a-f]{32}$")


# --- password + one-time code ---


@dataclass(frozen=True)
class Recipient:
    channel: str
    to: str


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


def plan_channels(
    mobile: str | None, mobile_type: str | None, email: str | None, choice: str | None
) -> tuple[list[Recipient], list[str]]:
    """Where the code goes, and warnings. ``None`` means every usable channel on the profile; a chosen channel
    without a usable contact is refused (``InvalidInput``, exit 1) before anything is sent or stored."""
    from per_cli.identity.phone import PhoneNumber

    sms_ok = bool(mobile) and PhoneNumber(mobile or "", mobile_type or "unknown").is_mobile
    warnings: list[str] = []
    if choice is None:
        found: list[Recipient] = []
        if sms_ok and mobile:
            found.append(Recipient("sms", mobile))
        elif mobile:
            warnings.append("no SMS: the number on the profile is not a mobile number")
        if email:
            found.append(Recipient("email", email))
        if not found:
            raise InvalidInput(
                "the patient's profile has no mobile number or e-mail address to send a code to; "
                "add one with `per patient edit-profile`",
                field="channel",
            )
        return found, warnings
    if choice not in CHANNEL_CHOICES:
        raise InvalidInput(f"must be one of {', '.join(CHANNEL_CHOICES)}", field="channel")
    wanted = ("sms", "email") if choice == "all" else (choice,)
    recipients = []
    for channel in wanted:
        if channel == "sms":
            if not mobile:
                raise InvalidInput("the patient's profile has no mobile number", field="channel sms")
            if not sms_ok:
                raise InvalidInput(
                    "the number on the patient's profile is not a mobile number; SMS is refused", field="channel sms"
                )
            recipients.append(Recipient("sms", mobile))
        else:
            if not email:
                raise InvalidInput("the patient's profile has no e-mail address", field="channel email")
            recipients.append(Recipient("email", email))
    return recipients, warnings


def open_transports(config: Config, channels: list[str], *, require_file: bool) -> dict[str, Transport]:
    from per_cli.transports import open_transport, transport_url_for

    opened: dict[str, Transport] = {}
    for channel in channels:
        url, setting = transport_url_for(channel, config.data, config.environ)
        transport = open_transport(url, channel=channel, setting=setting)
        if require_file and transport.scheme != "file":
            raise InvalidInput(f"needs the file:// transport, but {setting} is {transport.description}", field="outbox")
        opened[channel] = transport
    return opened


def _verify_patient_password(
    session: Session, pnr_text: str, password: str, settings: LoginSettings, now: datetime
) -> tuple[Patient, str, PatientCredential]:
    """Exactly one Argon2 verification on every path; any failure is a Refusal with PASSWORD_DENIED."""
    from per_cli.credentials.passwords import dummy_hash, verify_password

    patient = resolve_patient(session, pnr_text)
    if patient is None:
        verify_password(dummy_hash(), password)
        raise Refusal("unknown_patient", PASSWORD_DENIED, details={"step": "password"})
    unit_code = unit_code_of(session, patient.unit_id)
    credential = session.get(PatientCredential, patient.id)
    correct = verify_password(credential.password_hash if credential else dummy_hash(), password)
    where: dict[str, Any] = {"patient_id": patient.id, "unit_code": unit_code, "details": {"step": "password"}}
    if credential is None:
        raise Refusal("no_password", PASSWORD_DENIED, **where)
    if patient.excluded_on is not None:
        raise Refusal("excluded", PASSWORD_DENIED, **where)
    if settings.lockout.is_locked(credential.locked_until, now):
        raise Refusal("locked", PASSWORD_DENIED, **where)
    if not correct:
        raise Refusal("wrong_password", PASSWORD_DENIED, count="patient", account_id=patient.id, **where)
    return patient, unit_code, credential


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

    Raises ``AuthDenied`` (exit 4) for every refusal of the password, ``InvalidInput`` for an unusable
    channel, ``ConfigError`` for a missing or wrong transport or key, ``DeliveryFailed`` when no channel
    delivered (all exit 1, with nothing stored).
    """
    from per_cli.audit.events import Event, record
    from per_cli.credentials.otp import code_hash, generate_code, message_text, new_challenge_id, otp_key
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.patients.register import display_pnr
    from per_cli.transports import Message, mask_recipient

    settings = LoginSettings.from_config(uow.config)
    key = otp_key(uow.config)
    parse_personnummer(pnr_text)  # a mistyped number is exit 1 with its reason, before any look-up
    now = utcnow()
    try:
        with uow.transaction() as session:
            patient, unit_code, _ = _verify_patient_password(session, pnr_text, password, settings, now)
            patient_id, pnr = patient.id, display_pnr(patient.personnummer)
            contacts = (patient.mobile, patient.mobile_type, patient.email)
        where: dict[str, Any] = {"patient_id": patient_id, "unit_code": unit_code}
        try:
            recipients, warnings = plan_channels(*contacts, channel)
        except InvalidInput as exc:
            raise Refusal(
                "no_usable_contact",
                str(exc),
                error=exc,
                **where,
                details={"step": "password", "channel": channel or "profile"},
            ) from None
    except Refusal as refusal:
        refuse(uow, "login.otp", refusal, settings.lockout)
    for text in warnings:
        if warn:
            warn(text)
    transports = open_transports(uow.config, [r.channel for r in recipients], require_file=require_file_outbox)

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
            details={"step": "password", "failed_channels": [r.channel for r in recipients]},
        )
        refuse(uow, "login.otp", undelivered, settings.lockout)
    channels = tuple(r.channel for r in sent)
    expires_at = now + timedelta(seconds=settings.otp.ttl_seconds)
    with refusals_recorded(uow, "login.otp", settings.lockout), uow.transaction() as session:
        if not lock_enrolled(session, [patient_id]):  # erased since the password was checked: store nothing
            raise Refusal("erased", PASSWORD_DENIED, **where, details={"step": "password", "erased_meanwhile": True})
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
                    "step": "password",
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
    challenge_id = text.strip().lower()
    if not _CHALLENGE_ID.match(challenge_id):
        raise InvalidInput(
            "not a challenge id (32 hex digits, as printed by `per login otp --send-only`)", field="challenge"
        )
    return challenge_id


def complete_otp(uow: UnitOfWork, challenge_id: str, *, code: str, pnr_text: str | None = None) -> LoginResult:
    """Step 2: the code for a challenge opens a session; single use, ``max_attempts`` tries, expiry.

    A wrong code counts a try on the code and a failure on the patient's account (the lockout counter);
    the right code resets the account's failures. With ``pnr_text`` the challenge must be that patient's.
    """
    from per_cli.credentials.otp import code_matches, normalise_code, otp_key
    from per_cli.identity.personnummer import parse_personnummer

    settings = LoginSettings.from_config(uow.config)
    key = otp_key(uow.config)
    challenge_id = check_challenge_id(challenge_id)
    code = normalise_code(code, settings.otp.digits)
    if pnr_text is not None:
        parse_personnummer(pnr_text)
    limit = settings.otp.max_attempts
    now = utcnow()
    step = {"step": "code", "challenge_id": challenge_id}
    try:
        try:
            with uow.transaction() as session:
                open_keys(session, challenge_id=challenge_id)  # key-only logins (service) may see this challenge
                challenge = session.get(OtpChallenge, challenge_id)
                if challenge is None:
                    raise Refusal("unknown_challenge", CODE_DENIED, details=step)
                patient = session.get(Patient, challenge.patient_id)
                # erased meanwhile? The patient row is locked before any row of theirs is written, as the erasure
                # locks it before deleting them: the same order, so the two cannot deadlock
                if patient is None or not lock_enrolled(session, [patient.id]):
                    raise Refusal("erased", CODE_DENIED, details={**step, "erased_meanwhile": True})
                where: dict[str, Any] = {
                    "patient_id": patient.id,
                    "unit_code": unit_code_of(session, patient.unit_id),
                    "details": step,
                }
                if pnr_text is not None:
                    named = resolve_patient(session, pnr_text)
                    if named is None or named.id != patient.id:
                        raise Refusal("other_patient", CODE_DENIED, **where)
                credential = session.get(PatientCredential, patient.id)
                if credential is None:
                    raise Refusal("no_password", CODE_DENIED, **where)
                if patient.excluded_on is not None:
                    raise Refusal("excluded", CODE_DENIED, **where)
                if settings.lockout.is_locked(credential.locked_until, now):
                    raise Refusal("locked", LOCKED, **where)
                for reason, applies in (
                    ("code_used", challenge.consumed_at is not None),
                    ("code_replaced", challenge.superseded_at is not None),
                    ("code_expired", challenge.expires_at <= now),
                    ("too_many_attempts", challenge.attempts >= limit),
                ):
                    if applies:
                        raise Refusal(reason, CODE_DENIED, **where)
                if not code_matches(key, challenge_id, code, challenge.code_hash):
                    where["details"] = {**step, "max_attempts": limit}
                    raise Refusal(
                        "wrong_code",
                        CODE_DENIED,
                        count="patient",
                        account_id=patient.id,
                        challenge_id=challenge_id,
                        **where,
                    )
                won = session.execute(
                    update(OtpChallenge)
                    .where(
                        OtpChallenge.id == challenge_id,
                        OtpChallenge.consumed_at.is_(None),
                        OtpChallenge.superseded_at.is_(None),
                        OtpChallenge.expires_at > now,
                        OtpChallenge.attempts < limit,
                    )
                    .values(consumed_at=now)
                ).rowcount  # type: ignore[attr-defined]
                if won != 1:
                    raise Refusal("code_used", CODE_DENIED, **where)
                lockout.clear_patient(session, patient.id)
                return issue_session(
                    session,
                    uow.actor,
                    patient,
                    where["unit_code"],
                    "otp",
                    settings.sessions,
                    challenge_id=challenge_id,
                    details={**step, "channels": challenge.channels},
                    now=now,
                    denied=CODE_DENIED,
                )
        except IntegrityError:  # the unique challenge_id: another verification won after all
            raise Refusal("code_used", CODE_DENIED, details=step) from None
    except Refusal as refusal:
        refuse(uow, "login.otp", refusal, settings.lockout)
