"""The BankID use case: a patient's login (``per login bankid``).

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
   date). The signature and OCSP blobs are neither printed nor stored. A completed BankID login, like any
   completed login, resets the password's failure count and lock; it does not remind of a password sent by
   staff (the patient did not use it).

BankID is used only to log the patient in. It is never used to vouch for a caller before a new password is
issued or to confirm the person behind another credential: BankID's relying-party terms forbid that
("ID-växling"), so ``per password send`` has no BankID step (see ``per_cli.credentials.contact_hold``).

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from per_cli.errors import AuthDenied, ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.bankid.client import BankIdClient, CompletionData
    from per_cli.bankid.flow import OrderDisplay
    from per_cli.config import Config
    from per_cli.db.models import Patient
    from per_cli.login.issue import LoginResult
    from per_cli.login.refusals import LoginSettings
    from per_cli.unit_of_work import UnitOfWork

log = logging.getLogger("per.bankid")

ACTION = "login.bankid"
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
    from per_cli.credentials import lockout

    lockout.clear_patient(session, patient.id)  # a completed login ends the password's failures and lock
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
