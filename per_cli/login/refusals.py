"""How every login refuses: one message for the user, the real reason for the audit log, the count and the wait.

A refusal is raised inside a transaction as :class:`Refusal`, which rolls that transaction back; :func:`refuse`
then writes what a refusal must leave behind (the failure count, the audit event with the real reason) in a
transaction of its own that commits, waits the slow-down delay outside any transaction, and raises
``AuthDenied`` (exit 4) with the message meant for the user. The user never learns the reason: unknown patient,
wrong password, locked account, excluded patient and a patient without a password all read
:data:`PASSWORD_DENIED`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import update

from per_cli.credentials import lockout
from per_cli.credentials.lockout import LockoutPolicy
from per_cli.credentials.otp import OtpSettings
from per_cli.credentials.sessions import SessionSettings
from per_cli.db.models import OtpChallenge, utcnow
from per_cli.errors import AuthDenied, PerError

if TYPE_CHECKING:
    from per_cli.config import Config
    from per_cli.unit_of_work import UnitOfWork

PASSWORD_DENIED = "login denied: wrong personnummer or password, or the account is locked"
CODE_DENIED = "login denied: the one-time code is unknown, expired, already used or replaced by a newer one"
LOCKED = "login denied: too many failed attempts; the account is locked for a while"
PROXY_DENIED = "proxy login denied: wrong user name or password, or the account is locked or disabled"
PROXY_PATIENT_DENIED = (
    "proxy login denied: {user} may not log in for this patient "
    "(no such patient at the care giver's unit, or the patient is excluded)"
)

#: How refusals wait; tests may replace it (the delays are configurable and 0 in tests anyway).
sleep: Callable[[float], None] = time.sleep


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
    from per_cli.audit.events import Event, record

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


@contextmanager
def refusals_recorded(uow: UnitOfWork, action: str, policy: LockoutPolicy) -> Iterator[None]:
    """Around a transaction: a :class:`Refusal` raised in it is recorded and raised by :func:`refuse`."""
    try:
        yield
    except Refusal as refusal:
        refuse(uow, action, refusal, policy)
