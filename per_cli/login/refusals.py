"""How every login refuses: one message for the user, the real reason for the audit log.

A refusal is raised inside a transaction as :class:`Refusal`, which rolls that transaction back; :func:`refuse`
then writes the audit event with the real reason in a transaction of its own that commits, and raises
``AuthDenied`` (exit 4) with the message meant for the user. The user never learns the reason: unknown patient,
wrong password, locked account, excluded patient and a patient without a password all read
:data:`PASSWORD_DENIED`. Failures are counted before anything is compared (``per_cli.credentials.lockout``),
so nothing is counted here, and nothing waits: a try before the stored slow-down has passed is
:class:`TooSoon` ("try again in N s").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from per_cli.credentials.lockout import LockoutPolicy
from per_cli.credentials.otp import OtpSettings
from per_cli.credentials.sessions import SessionSettings
from per_cli.errors import AuthDenied, PerError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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

CODES_CAPPED = "login denied: too many one-time codes were sent; a new code can be sent in {minutes} min"


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


class TooSoon(AuthDenied):
    """A try before the stored slow-down (``not_before``) has passed: refused at once, nothing compared."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"login denied: too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class Refusal(Exception):
    """Raised inside a transaction to refuse; :func:`refuse` records it. ``reason`` goes to the audit log only.

    ``error`` replaces the ``AuthDenied`` raised at the end (e.g. an ``InvalidInput`` for exit 1, with outcome
    ``error``; a :class:`TooSoon` or :class:`WrongCode`, outcome ``denied``).
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        patient_id: int | None = None,
        unit_code: str | None = None,
        details: Mapping[str, Any] | None = None,
        error: PerError | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.patient_id = patient_id
        self.unit_code = unit_code
        self.details = dict(details or {})
        self.error = error


def refuse(uow: UnitOfWork, action: str, refusal: Refusal, policy: LockoutPolicy | None = None) -> NoReturn:
    """Record a refusal in its own committed transaction, then raise (exit 4, or ``refusal.error``)."""
    with uow.transaction() as session:
        record_refusal(session, uow.actor, action, refusal)
    raise refusal_error(refusal)


def record_refusal(session: Session, actor: str, action: str, refusal: Refusal) -> None:
    """The audit event of a refusal, in the caller's transaction (outcome ``error`` for an exit-1 error)."""
    from per_cli.audit.events import Event, record

    denied = refusal.error is None or isinstance(refusal.error, AuthDenied)
    record(
        session,
        Event(
            actor=actor,
            action=action,
            patient_id=refusal.patient_id,
            unit_code=refusal.unit_code,
            outcome="denied" if denied else "error",
            details={"reason": refusal.reason, **refusal.details},
        ),
    )


def refusal_error(refusal: Refusal) -> PerError:
    return refusal.error if refusal.error is not None else AuthDenied(refusal.message)


@contextmanager
def refusals_recorded(uow: UnitOfWork, action: str, policy: LockoutPolicy | None = None) -> Iterator[None]:
    """Around a transaction: a :class:`Refusal` raised in it is recorded and raised by :func:`refuse`."""
    try:
        yield
    except Refusal as refusal:
        refuse(uow, action, refusal, policy)
