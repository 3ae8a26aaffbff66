"""The login use cases: password + one-time code (two steps), care giver proxy; and the refusal pattern.

Transactions. A successful step does its checks, its changes and its audit event in one transaction. A refusal
is raised inside as :class:`Refusal`, which rolls that transaction back; :func:`refuse` then writes what a
refusal must leave behind (the failure count, the audit event with the real reason) in a transaction of its
own that commits, waits the slow-down delay outside any transaction, and raises ``AuthDenied`` (exit 4) with
the message meant for the user. The user never learns the reason: unknown patient, wrong password, locked
account, excluded patient and a patient without a password all read :data:`PASSWORD_DENIED`.

Sending a code: the password step runs in its own (read-only on success) transaction; the code is sent with no
transaction open (an SMTP server may take seconds and SQLite would be locked meanwhile); then one transaction
supersedes the patient's pending codes, stores the new one and audits. If no channel delivers, nothing is
stored and the previous code stays valid (exit 1); if some channel fails, the code still counts and the
result names the failed channel.

Completing a code is a conditional ``UPDATE … SET consumed_at WHERE consumed_at IS NULL AND …``: of two
verifications of the same code at the same moment exactly one updates a row and gets a session (PostgreSQL
re-checks the condition after the row lock; SQLite serialises writers with ``BEGIN IMMEDIATE``), and
``login_session.challenge_id`` is unique as a backstop.

Audit: action ``login.otp`` (details ``step`` = ``password`` or ``code``), ``login.proxy`` (details
``caregiver``, ``caregiver_unit``), outcomes ``code_sent``, ``ok``, ``denied``, ``error``; details never hold
the password, the code or the token. Enumeration by timing is not defended beyond one Argon2 verification on
every path: whoever can run ``per`` against the database can list patients anyway.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from per_cli.credentials import lockout
from per_cli.credentials.lockout import LockoutPolicy
from per_cli.credentials.otp import OtpSettings
from per_cli.credentials.sessions import SessionSettings
from per_cli.db.models import CareUnit, OtpChallenge, Patient, PatientCredential, utcnow
from per_cli.errors import AuthDenied, Conflict, DeliveryFailed, InvalidInput, NotFound, PerError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.config import Config
    from per_cli.db.models import Caregiver
    from per_cli.transports import Transport

PASSWORD_DENIED = "login denied: wrong personnummer or password, or the account is locked"
CODE_DENIED = "login denied: the one-time code is unknown, expired, already used or replaced by a newer one"
LOCKED = "login denied: too many failed attempts; the account is locked for a while"
PROXY_DENIED = "proxy login denied: wrong user name or password, or the account is locked or disabled"
PROXY_PATIENT_DENIED = (
    "proxy login denied: {user} may not log in for this patient "
    "(no such patient at the care giver's unit, or the patient is excluded)"
)
CHANNEL_CHOICES = ("sms", "email", "all")
_CHALLENGE_ID = re.compile(r"^[0-9a-f]{32}$")

#: How refusals wait; tests may replace it (the delays are configurable and 0 in tests anyway).
sleep: Callable[[float], None] = time.sleep


class UnitOfWork(Protocol):
    """What a use case needs from the application (``per_cli.app.App`` is one)."""

    actor: str
    config: Config

    def transaction(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True)
class LoginSettings:
    otp: OtpSettings
    lockout: LockoutPolicy
    sessions: SessionSettings

    @classmethod
    def from_config(cls, config: Config) -> LoginSettings:
        return cls(
            OtpSettings.from_config(config), LockoutPolicy.from_config(config), SessionSettings.from_config(config)
        )


class WrongCode(AuthDenied):
    """A wrong one-time code; ``tries_left`` on this code (the prompt asks again while there are some)."""

    def __init__(self, message: str, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class Refusal(Exception):
    """Raised inside a transaction to refuse; :func:`refuse` records it. ``reason`` goes to the audit log only.

    ``count`` names the account whose failure counter goes up (``"patient"`` or ``"caregiver"``, id in
    ``account_id``); ``challenge_id`` also counts a try on that code. ``error`` replaces the ``AuthDenied``
    raised at the end (e.g. an ``InvalidInput`` for exit 1, with outcome ``error``).
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        patient_id: int | None = None,
        unit_code: str | None = None,
        details: Mapping[str, Any] | None = None,
        count: str | None = None,
        account_id: int | None = None,
        challenge_id: str | None = None,
        error: PerError | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.patient_id = patient_id
        self.unit_code = unit_code
        self.details = dict(details or {})
        self.count = count
        self.account_id = account_id
        self.challenge_id = challenge_id
        self.error = error


def refuse(uow: UnitOfWork, action: str, refusal: Refusal, policy: LockoutPolicy) -> NoReturn:
    """Record a refusal in its own committed transaction, wait the slow-down delay, raise (exit 4 or ``error``)."""
    from per_cli.audit import Event, record

    now = utcnow()
    failures = 0
    tries_left: int | None = None
    with uow.transaction() as session:
        if refusal.count == "patient" and refusal.account_id is not None:
            failures = lockout.patient_failed(session, refusal.account_id, policy, now)
        elif refusal.count == "caregiver" and refusal.account_id is not None:
            failures = lockout.caregiver_failed(session, refusal.account_id, policy, now)
        if refusal.challenge_id is not None:
            tries = session.execute(
                update(OtpChallenge)
                .where(OtpChallenge.id == refusal.challenge_id)
                .values(attempts=OtpChallenge.attempts + 1)
                .returning(OtpChallenge.attempts)
            ).scalar_one_or_none()
            limit = refusal.details.pop("max_attempts", None)
            if tries is not None and isinstance(limit, int):
                tries_left = max(0, limit - tries)
        if failures:
            refusal.details["failures"] = failures
            if failures >= policy.lock_after:
                refusal.details["locked"] = True
        record(
            session,
            Event(
                actor=uow.actor,
                action=action,
                patient_id=refusal.patient_id,
                unit_code=refusal.unit_code,
                outcome="error" if refusal.error else "denied",
                details={"reason": refusal.reason, **refusal.details},
            ),
        )
    delay = policy.delay_seconds(failures)
    if delay > 0:
        sleep(delay)
    if refusal.error is not None:
        raise refusal.error
    if tries_left is not None:
        if failures >= policy.lock_after:
            raise WrongCode(LOCKED, 0)
        raise WrongCode(
            f"login denied: wrong one-time code ({tries_left} {'try' if tries_left == 1 else 'tries'} left)"
            if tries_left
            else "login denied: wrong one-time code; no tries left, ask for a new code",
            tries_left,
        )
    raise AuthDenied(refusal.message)


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
) -> LoginResult:
    """Create a session and audit ``login.<method>`` (outcome ``ok``) in the caller's transaction.

    For every login method (the BankID flow too): the caller has checked who the patient is and that they may
    log in; ``details`` adds method-specific audit details (no secrets).
    """
    from per_cli.audit import Event, record
    from per_cli.credentials.sessions import create_session
    from per_cli.patients import display_pnr

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
    credential = session.get(PatientCredential, patient.id) if method != "proxy" else None
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


def _unit_code(session: Session, unit_id: int) -> str:
    return session.execute(select(CareUnit.code).where(CareUnit.id == unit_id)).scalar_one()


def _resolve_patient(session: Session, pnr_text: str) -> Patient | None:
    """The registered patient, None when unknown; an ambiguous 10-digit number is refused (exit 1, SPEC §2)."""
    from per_cli.patients import find_patient

    try:
        return find_patient(session, pnr_text)
    except NotFound:
        return None
    except Conflict as exc:
        raise Refusal("ambiguous_personnummer", str(exc), error=exc) from None


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
                field="--channel",
            )
        return found, warnings
    if choice not in CHANNEL_CHOICES:
        raise InvalidInput(f"must be one of {', '.join(CHANNEL_CHOICES)}", field="--channel")
    wanted = ("sms", "email") if choice == "all" else (choice,)
    recipients = []
    for channel in wanted:
        if channel == "sms":
            if not mobile:
                raise InvalidInput("the patient's profile has no mobile number", field="--channel sms")
            if not sms_ok:
                raise InvalidInput(
                    "the number on the patient's profile is not a mobile number; SMS is refused", field="--channel sms"
                )
            recipients.append(Recipient("sms", mobile))
        else:
            if not email:
                raise InvalidInput("the patient's profile has no e-mail address", field="--channel email")
            recipients.append(Recipient("email", email))
    return recipients, warnings


def _open_transports(config: Config, channels: list[str], *, require_file: bool) -> dict[str, Transport]:
    from per_cli.transports import open_transport, transport_url_for

    opened: dict[str, Transport] = {}
    for channel in channels:
        url, setting = transport_url_for(channel, config.data, config.environ)
        transport = open_transport(url, channel=channel, setting=setting)
        if require_file and transport.scheme != "file":
            raise InvalidInput(
                f"needs the file:// transport, but {setting} is {transport.description}", field="--code-from-outbox"
            )
        opened[channel] = transport
    return opened


def _verify_patient_password(
    session: Session, pnr_text: str, password: str, settings: LoginSettings, now: datetime
) -> tuple[Patient, str, PatientCredential]:
    """Exactly one Argon2 verification on every path; any failure is a Refusal with PASSWORD_DENIED."""
    from per_cli.credentials.passwords import dummy_hash, verify_password

    patient = _resolve_patient(session, pnr_text)
    if patient is None:
        verify_password(dummy_hash(), password)
        raise Refusal("unknown_patient", PASSWORD_DENIED, details={"step": "password"})
    unit_code = _unit_code(session, patient.unit_id)
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
    password: str,
    *,
    channel: str | None = None,
    require_file_outbox: bool = False,
    warn: Callable[[str], None] | None = None,
) -> OtpStarted:
    """Step 1: check the password, send a new code on the chosen channels, store its keyed hash.

    Raises ``AuthDenied`` (exit 4) for every refusal of the password, ``InvalidInput`` for an unusable
    channel, ``ConfigError`` for a missing or wrong transport or key, ``DeliveryFailed`` when no channel
    delivered (all exit 1, with nothing stored).
    """
    from per_cli.audit import Event, record
    from per_cli.credentials.otp import code_hash, generate_code, message_text, new_challenge_id, otp_key
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.patients import display_pnr
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
    transports = _open_transports(uow.config, [r.channel for r in recipients], require_file=require_file_outbox)

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
    with uow.transaction() as session:
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
            "not a challenge id (32 hex digits, as printed by `per login otp --send-only`)", field="--challenge"
        )
    return challenge_id


def complete_otp(uow: UnitOfWork, challenge_id: str, code_text: str, *, pnr_text: str | None = None) -> LoginResult:
    """Step 2: the code for a challenge opens a session; single use, ``max_attempts`` tries, expiry.

    A wrong code counts a try on the code and a failure on the patient's account (the lockout counter);
    the right code resets the account's failures. With ``pnr_text`` the challenge must be that patient's.
    """
    from per_cli.credentials.otp import code_matches, normalise_code, otp_key
    from per_cli.identity.personnummer import parse_personnummer

    settings = LoginSettings.from_config(uow.config)
    key = otp_key(uow.config)
    challenge_id = check_challenge_id(challenge_id)
    code = normalise_code(code_text, settings.otp.digits)
    if pnr_text is not None:
        parse_personnummer(pnr_text)
    limit = settings.otp.max_attempts
    now = utcnow()
    step = {"step": "code", "challenge_id": challenge_id}
    try:
        try:
            with uow.transaction() as session:
                challenge = session.get(OtpChallenge, challenge_id)
                if challenge is None:
                    raise Refusal("unknown_challenge", CODE_DENIED, details=step)
                patient = session.get(Patient, challenge.patient_id)
                assert patient is not None
                where: dict[str, Any] = {
                    "patient_id": patient.id,
                    "unit_code": _unit_code(session, patient.unit_id),
                    "details": step,
                }
                if pnr_text is not None:
                    named = _resolve_patient(session, pnr_text)
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
                )
        except IntegrityError:  # the unique challenge_id: another verification won after all
            raise Refusal("code_used", CODE_DENIED, details=step) from None
    except Refusal as refusal:
        refuse(uow, "login.otp", refusal, settings.lockout)


def code_from_outbox(uow: UnitOfWork, challenge_id: str, files: Mapping[str, str] | None = None) -> str:
    """Read the code of a challenge back from the ``file://`` outbox (CI smoke tests); refused for any other
    transport. Reads the file the send just wrote when known, else the newest message to the patient's
    contact on the challenge's channels."""
    from per_cli.credentials.otp import code_from_text, newest_message_to
    from per_cli.transports.file import FileTransport, read_outbox

    settings = LoginSettings.from_config(uow.config)
    challenge_id = check_challenge_id(challenge_id)
    with uow.transaction() as session:
        row = session.execute(
            select(OtpChallenge.channels, Patient.mobile, Patient.email)
            .join(Patient, Patient.id == OtpChallenge.patient_id)
            .where(OtpChallenge.id == challenge_id)
        ).first()
    if row is None:
        refuse(
            uow,
            "login.otp",
            Refusal("unknown_challenge", CODE_DENIED, details={"step": "code", "challenge_id": challenge_id}),
            settings.lockout,
        )
    channels = [c for c in row.channels.split(",") if c]
    transports = _open_transports(uow.config, channels, require_file=True)
    for channel in channels:
        transport = transports[channel]
        assert isinstance(transport, FileTransport)
        record: dict[str, Any] | None = None
        if files and channel in files:
            import json

            try:
                with open(files[channel], encoding="utf-8") as fh:
                    record = json.load(fh)
            except (OSError, ValueError):
                record = None
        if record is None:
            to = row.mobile if channel == "sms" else row.email
            record = newest_message_to(read_outbox(transport.directory), channel, to or "")
        if record is not None:
            found = code_from_text(str(record.get("body", "")), settings.otp.digits)
            if found:
                return found
    raise PerError(
        f"no one-time code for this challenge in the outbox ({', '.join(channels)})", field="--code-from-outbox"
    )


# --- care giver proxy ---


def proxy_login(uow: UnitOfWork, pnr_text: str, username: str, password: str) -> LoginResult:
    """A care giver logs in for a patient of their own unit (source document, "via vårdgivares inloggning").

    The care giver's password is verified first (same message for unknown user, wrong password, locked or
    disabled account); then the patient must be enrolled at the care giver's unit and not excluded. Every
    outcome is audited with both identities: ``patient_id`` and ``details.caregiver``.
    """
    from per_cli.caregivers import find_caregiver, validate_username
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
                patient = _resolve_patient(session, pnr_text)
            except Refusal as exc:
                patient, ambiguous = None, exc.error if isinstance(exc.error, Conflict) else None
            where: dict[str, Any] = {"patient_id": patient.id if patient else None}
            cg = find_caregiver(session, username)
            if cg is None:
                verify_password(dummy_hash(), password)
                raise Refusal("unknown_caregiver", PROXY_DENIED, **where, details={"caregiver": typed_user})
            where["unit_code"] = cg_unit = _unit_code(session, cg.unit_id)
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
                    "other_unit", denied, **where, details={**who, "patient_unit": _unit_code(session, patient.unit_id)}
                )
            if patient.excluded_on is not None:
                raise Refusal("excluded", denied, **where, details=who)
            lockout.clear_caregiver(session, cg.id)
            return issue_session(
                session, uow.actor, patient, cg_unit, "proxy", settings.sessions, caregiver=cg, details=who, now=now
            )
    except Refusal as refusal:
        refuse(uow, "login.proxy", refusal, settings.lockout)
