"""The BankID use cases: a patient's login (``per login bankid``) and the support desk's caller check.

Order of events in :func:`login_bankid`, and why:

1. The personnummer and ``end_user_ip`` are validated and the BankID client is built from ``[bankid]`` before
   anything else, so a typo or a broken setup is exit 1 whoever the patient is.
2. One short transaction resolves the patient through the register (a 10-digit number too) and refuses an
   unknown or excluded patient with one message for both (exit 4, audited with the real reason) — before any
   order is started, so BankID is never asked to identify someone who could not log in anyway.
3. The order runs with *no* transaction open: it may take minutes, and a SQLite writer lock or a PostgreSQL
   snapshot must not be held meanwhile. /auth carries ``requirement.personalNumber`` (the canonical 12 digits),
   so only that person can complete it.
4. A second transaction re-reads the patient: the completed identity must be the patient's and the patient
   must still not be excluded (the profile may have changed during the order); then a session is issued and
   audited with the completion data BankID asks us to keep (personal number, name, device IP, BankID issue
   date). The signature and OCSP blobs are neither printed nor stored.

Every refusal goes through :func:`per_cli.login.refusals.refuse` (action ``login.bankid``): a failed order (cancelled,
expired, blocked …) and Ctrl-C are exit 4 with BankID's recommended text; an API fault is exit 1 and audited
with outcome ``error``. Only ``maintenance`` is retried (by the client), as BankID's RP API documentation requires
(https://developers.bankid.com).

Technical logs name the order reference at most, never a personal number.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from per_cli.errors import AuthDenied, ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.bankid.client import BankIdClient, CallInitiator, CompletionData
    from per_cli.bankid.flow import OrderDisplay
    from per_cli.config import Config
    from per_cli.db.models import Patient
    from per_cli.login.issue import LoginResult
    from per_cli.login.refusals import LoginSettings
    from per_cli.passwords.delivery.single import Caller, VerifyCaller
    from per_cli.unit_of_work import UnitOfWork

log = logging.getLogger("per.bankid")

ACTION = "login.bankid"
VERIFY_ACTION = "bankid.verify_caller"
#: The one answer for an unknown and an excluded patient: the user never learns which (the audit log does).
BANKID_DENIED = "login denied: this personnummer may not log in (not enrolled, or excluded from the registry)"
#: RP API: endUserIp is required. From a terminal the person logging in sits at this machine, and the address
#: this machine has for itself is the loopback address; a deployment behind a jump host passes the real one.
DEFAULT_END_USER_IP = "127.0.0.1"
DEFAULT_POLL_INTERVAL = 2.0  # BankID: "call collect every two seconds"


@dataclass(frozen=True)
class BankIdSettings:
    """``[bankid] poll_interval``: seconds between /collect calls (2.0; lower only against the simulator)."""

    poll_interval: float = DEFAULT_POLL_INTERVAL

    @classmethod
    def from_config(cls, config: Config) -> BankIdSettings:
        value = config.section("bankid").get("poll_interval", DEFAULT_POLL_INTERVAL)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 10:
            raise ConfigError("must be a number of seconds above 0 and at most 10", field="bankid.poll_interval")
        return cls(poll_interval=float(value))


class CallerNotVerified(AuthDenied):
    """:func:`verify_caller` did not complete: the order failed, was cancelled or was interrupted (exit 4)."""

    def __init__(self, message: str, *, hint_code: str | None) -> None:
        super().__init__(message)
        self.hint_code = hint_code


def check_end_user_ip(text: str) -> str:
    """The end user's IP address as BankID wants it (IPv4 or IPv6, normalised); ``InvalidInput`` otherwise."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise InvalidInput(f"not an IP address: {text!r}", field="end_user_ip") from None


def client_for(config: Config) -> BankIdClient:
    """The RP API client of ``[bankid]``; relative certificate paths are taken from the config file's folder."""
    from per_cli.bankid.client import client_from_config

    base_dir = config.path.parent if config.path is not None else None
    return client_from_config(config.section("bankid"), config.environ, base_dir=base_dir)


def login_bankid(
    uow: UnitOfWork,
    pnr_text: str,
    *,
    end_user_ip: str = DEFAULT_END_USER_IP,
    display: OrderDisplay,
    client: BankIdClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> LoginResult:
    """Log the patient ``pnr_text`` in with BankID and return the new session (see the module docstring).

    ``display`` shows the order to the person: the animated QR code (``display.animate_qr``) or the link that
    starts BankID on this computer, and BankID's recommended messages. ``client`` replaces the one built from
    ``[bankid]`` (it is then not closed here).

    Raises ``AuthDenied`` (exit 4) for an unknown or excluded patient, a failed order, Ctrl-C, or an identity
    that is not the patient's; ``BankIdError`` (exit 1) for API faults; ``InvalidInput``/``ConfigError``.
    """
    from per_cli.bankid.client import BankIdError, BankIdFailed, OrderStarted
    from per_cli.bankid.flow import run_auth_order
    from per_cli.bankid.messages import failed_message
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.login.refusals import LoginSettings, Refusal, refuse

    parse_personnummer(pnr_text)  # a mistyped number is exit 1 with its reason, before any look-up
    end_user_ip = check_end_user_ip(end_user_ip)
    settings = LoginSettings.from_config(uow.config)
    bankid = BankIdSettings.from_config(uow.config)
    own_client = client is None
    api = client_for(uow.config) if client is None else client

    try:
        try:
            with uow.transaction() as session:
                patient, unit_code = _loggable_patient(session, pnr_text)
                patient_id, pnr = patient.id, patient.personnummer
        except Refusal as refusal:
            refuse(uow, ACTION, refusal, settings.lockout)
        where: dict[str, Any] = {"patient_id": patient_id, "unit_code": unit_code}

        started: list[OrderStarted] = []

        def on_started(order: OrderStarted) -> None:
            started.append(order)
            log.info("BankID order %s started", order.order_ref)
            display.started(order.autostart_url)

        def order_details(**extra: Any) -> dict[str, Any]:
            ref = {"order_ref": started[0].order_ref} if started else {}
            return {**ref, "end_user_ip": end_user_ip, **extra}

        try:
            completion = run_auth_order(
                api,
                pnr,
                end_user_ip,
                on_qr=display.qr if display.animate_qr else None,
                on_qr_done=display.qr_done,
                on_message=display.message,
                on_started=on_started,
                poll_interval=bankid.poll_interval,
                sleep=sleep,
                clock=clock,
            )
        except KeyboardInterrupt:  # the flow has cancelled the order (/cancel) before this reaches us
            text = failed_message("userCancel", api.language)
            stopped = Refusal(
                "interrupted", f"BankID login cancelled (Ctrl-C): {text}", **where, details=order_details()
            )
            refuse(uow, ACTION, stopped, settings.lockout)
        except BankIdFailed as exc:
            details = order_details(hint=exc.hint_code)
            failed = Refusal("bankid_failed", f"BankID login failed: {exc}", **where, details=details)
            refuse(uow, ACTION, failed, settings.lockout)
        except BankIdError as exc:
            details = order_details(error=exc.error_code, http_status=exc.http_status)
            if isinstance(exc, AuthDenied):  # alreadyInProgress: BankID aborted both orders; the user retries
                refuse(
                    uow, ACTION, Refusal("already_in_progress", str(exc), **where, details=details), settings.lockout
                )
            refuse(
                uow, ACTION, Refusal("bankid_error", str(exc), **where, details=details, error=exc), settings.lockout
            )

        log.info("BankID order %s complete", started[0].order_ref if started else "?")
        details = order_details(**completion.audit_details())
        try:
            with uow.transaction() as session:
                return _issue(uow, session, patient_id, completion, settings, details)
        except Refusal as refusal:
            refuse(uow, ACTION, refusal, settings.lockout)
    finally:
        if own_client:
            api.close()


def verify_caller(
    uow: UnitOfWork,
    pnr_text: str,
    *,
    on_message: Callable[[str], None] | None = None,
    call_initiator: CallInitiator = "user",
    client: BankIdClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CompletionData:
    """Confirm with BankID that the person on the phone is the patient ``pnr_text`` (``--verify-caller``).

    The number is resolved through the register (``NotFound``/``Conflict``, exit 1, with no order started), then
    a /phone/auth order (``call_initiator``: ``user`` = the patient called the support desk) is collected every
    ``[bankid] poll_interval`` seconds until the patient approves in the app. ``on_message`` gets BankID's
    recommended texts for the support desk to read out. Returns the completion data (already checked to be the
    patient's); raises :class:`CallerNotVerified` (``AuthDenied``, exit 4) when the order fails, is cancelled or
    interrupted by Ctrl-C (after /cancel), ``BankIdError`` (exit 1) on API faults (``BankIdAlreadyInProgress``
    is exit 4). Every outcome is audited as ``bankid.verify_caller`` in its own committed transaction, so a
    refused check stays on record even if the caller's command then rolls back; the caller sends nothing
    unless this returns.
    """
    from per_cli.audit.events import Event, record
    from per_cli.bankid.client import BankIdError, BankIdFailed
    from per_cli.bankid.flow import run_phone_auth
    from per_cli.bankid.messages import failed_message
    from per_cli.patients.register import find_patient

    bankid = BankIdSettings.from_config(uow.config)
    own_client = client is None
    api = client_for(uow.config) if client is None else client

    def audit(outcome: str, details: dict[str, Any]) -> None:
        with uow.transaction() as session:
            event = Event(
                actor=uow.actor,
                action=VERIFY_ACTION,
                patient_id=patient_id,
                unit_code=unit_code,
                outcome=outcome,
                details={"call_initiator": call_initiator, **details},
            )
            record(session, event)

    try:
        with uow.transaction() as session:
            patient = find_patient(session, pnr_text)
            patient_id, pnr, unit_code = patient.id, patient.personnummer, _unit_code(session, patient.unit_id)
        try:
            completion = run_phone_auth(
                api,
                pnr,
                on_message=on_message or (lambda _text: None),
                call_initiator=call_initiator,
                poll_interval=bankid.poll_interval,
                sleep=sleep,
                clock=clock,
            )
        except KeyboardInterrupt:
            audit("denied", {"reason": "interrupted"})
            text = failed_message("userCancel", api.language)
            raise CallerNotVerified(f"caller not verified with BankID (Ctrl-C): {text}", hint_code=None) from None
        except BankIdFailed as exc:
            audit("denied", {"reason": "bankid_failed", "hint": exc.hint_code})
            raise CallerNotVerified(f"caller not verified with BankID: {exc}", hint_code=exc.hint_code) from None
        except BankIdError as exc:
            denied = isinstance(exc, AuthDenied)
            audit(
                "denied" if denied else "error",
                {
                    "reason": "already_in_progress" if denied else "bankid_error",
                    "error": exc.error_code,
                    "http_status": exc.http_status,
                },
            )
            raise
        audit("ok", completion.audit_details())
        return completion
    finally:
        if own_client:
            api.close()


def _unit_code(session: Session, unit_id: int) -> str:
    from sqlalchemy import select

    from per_cli.db.models import CareUnit

    return session.execute(select(CareUnit.code).where(CareUnit.id == unit_id)).scalar_one()


def _loggable_patient(session: Session, pnr_text: str) -> tuple[Patient, str]:
    """The registered, not excluded patient; otherwise a :class:`Refusal` (ambiguous 10 digits: exit 1)."""
    from per_cli.errors import Conflict
    from per_cli.login.refusals import Refusal
    from per_cli.patients.register import find_patient

    try:
        patient = find_patient(session, pnr_text)
    except NotFound:
        raise Refusal("unknown_patient", BANKID_DENIED) from None
    except Conflict as exc:
        raise Refusal("ambiguous_personnummer", str(exc), error=exc) from None
    unit_code = _unit_code(session, patient.unit_id)
    if patient.excluded_on is not None:
        raise Refusal("excluded", BANKID_DENIED, patient_id=patient.id, unit_code=unit_code)
    return patient, unit_code


def _issue(
    uow: UnitOfWork,
    session: Session,
    patient_id: int,
    completion: CompletionData,
    settings: LoginSettings,
    details: dict[str, Any],
) -> LoginResult:
    """Step 4: the identity must still be this enrolled, not excluded patient; then the session."""
    from per_cli.db.models import Patient
    from per_cli.login.issue import issue_session
    from per_cli.login.refusals import Refusal

    patient = session.get(Patient, patient_id)
    if patient is None:
        raise Refusal("unknown_patient", BANKID_DENIED, details=details)
    where: dict[str, Any] = {
        "patient_id": patient.id,
        "unit_code": _unit_code(session, patient.unit_id),
        "details": details,
    }
    if completion.personal_number != patient.personnummer:
        raise Refusal("identity_mismatch", BANKID_DENIED, **where)
    if patient.excluded_on is not None:
        raise Refusal("excluded", BANKID_DENIED, **where)
    return issue_session(
        session,
        uow.actor,
        patient,
        where["unit_code"],
        "bankid",
        settings.sessions,
        details=details,
        denied=BANKID_DENIED,
    )


def caller_check(uow: UnitOfWork, *, on_message: Callable[[str], None] | None = None) -> VerifyCaller:
    """The ``password send --verify-caller`` hook: a BankID /phone/auth for the patient before anything is sent."""

    def check(caller: Caller) -> Mapping[str, Any]:
        verify_caller(uow, caller.personnummer, on_message=on_message)
        return {"caller_verified": "bankid"}

    return check
