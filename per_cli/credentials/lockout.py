"""Failed logins: first slow down, then lock the account for a while (NIST SP 800-63B §5.2.2, OWASP).

The counter belongs to the account (a patient's credential, a care giver, or — for a personnummer without a
password, known or not — a ``login_throttle`` row keyed by a keyed hash of the number), not to a code or a
terminal, so asking for a new one-time code never resets it; only a completed login does.

**Counted before compared.** A password or code is compared only after :func:`claim` has counted the try in
one conditional statement (``UPDATE … SET failed_logins = failed_logins + 1 WHERE … AND (locked_until IS NULL
OR locked_until <= now) AND (not_before IS NULL OR not_before <= now) RETURNING failed_logins``); the same
transaction then sets the slow-down and the lock that count earns, while PostgreSQL holds the row lock and
SQLite its one writer lock. So 40 parallel tries compare at most ``lock_after`` passwords: the others find
the account locked (or not yet open again) and are refused without comparing anything. A right answer then
takes its try back (:func:`refund`, a correct password in step 1) or resets the count (:func:`clear`, a
completed login).

**Stored, not slept.** From ``slow_after`` failures on, each failure sets ``not_before`` to now + ``delay_ms``
doubled per failure (at most ``max_delay_ms``): a try before it is refused at once with "try again in N s",
and no process sleeps. From ``lock_after`` failures on, each further failure (re)locks the account for
``lock_minutes``: after a lock expires an attacker gets one try per lock period until someone logs in.

Config ``[login]``: ``slow_after`` (3), ``delay_ms`` (1000), ``max_delay_ms`` (30000), ``lock_after`` (10),
``lock_minutes`` (15). Tests set the delays to 0.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, or_, select, update

from per_cli.db.models import Caregiver, LoginThrottle, PatientCredential
from per_cli.patients.register import lock_enrolled

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.elements import ColumnElement

    from per_cli.config import Config

Counted = type[PatientCredential] | type[Caregiver] | type[LoginThrottle]


@dataclass(frozen=True)
class LockoutPolicy:
    slow_after: int = 3
    delay_ms: int = 1000
    max_delay_ms: int = 30_000
    lock_after: int = 10
    lock_minutes: int = 15

    @classmethod
    def from_config(cls, config: Config) -> LockoutPolicy:
        lock_after = config.get_int("login", "lock_after", cls.lock_after, lo=1, hi=100)
        return cls(
            slow_after=config.get_int("login", "slow_after", cls.slow_after, lo=1, hi=100),
            delay_ms=config.get_int("login", "delay_ms", cls.delay_ms, lo=0, hi=60_000),
            max_delay_ms=config.get_int("login", "max_delay_ms", cls.max_delay_ms, lo=0, hi=300_000),
            lock_after=lock_after,
            lock_minutes=config.get_int("login", "lock_minutes", cls.lock_minutes, lo=1, hi=24 * 60),
        )

    def is_locked(self, locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and locked_until > now

    def delay_seconds(self, failures: int) -> float:
        """The slow-down a failure that brought the count to ``failures`` earns (``not_before`` = now + this)."""
        if failures < self.slow_after or self.delay_ms == 0:
            return 0.0
        steps = min(failures - self.slow_after, 20)
        return min(self.delay_ms << steps, self.max_delay_ms) / 1000


@dataclass(frozen=True)
class Account:
    """Whose failure counter a try goes to: a table and the key of its row."""

    table: Counted
    key: int | str

    @property
    def where(self) -> ColumnElement[bool]:
        if self.table is PatientCredential:
            return PatientCredential.patient_id == self.key
        if self.table is Caregiver:
            return Caregiver.id == self.key
        return LoginThrottle.key_hash == self.key


def patient_account(patient_id: int) -> Account:
    return Account(PatientCredential, patient_id)


def caregiver_account(caregiver_id: int) -> Account:
    return Account(Caregiver, caregiver_id)


def throttle_key(key: bytes, kind: str, identity: str) -> str:
    """The ``login_throttle`` key of an identity without an account: a keyed hash, never the identity."""
    return hmac.new(key, f"login-throttle:{kind}:{identity}".encode(), hashlib.sha256).hexdigest()


def throttle_account(key_hash: str) -> Account:
    return Account(LoginThrottle, key_hash)


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim`: ``allowed`` (the try is counted; compare now) with the new ``failures``,
    or refused because the account is ``locked`` or not open again for ``retry_after`` seconds."""

    allowed: bool
    failures: int = 0
    locked: bool = False
    retry_after: int | None = None

    def details(self) -> dict[str, Any]:
        """What the audit event of a refused or failed try records about the count."""
        found: dict[str, Any] = {"failures": self.failures} if self.failures else {}
        if self.retry_after is not None:
            found["retry_after"] = self.retry_after
        if self.locked:
            found["locked"] = True
        return found


def claim(session: Session, account: Account, policy: LockoutPolicy, now: datetime) -> Claim:
    """Count one try before anything is compared (see the module docstring); the caller commits the count
    whatever the comparison says. A patient's row is taken after the patient row, as an erasure takes them."""
    table = account.table
    if table is LoginThrottle:
        _ensure_throttle_row(session, account, now)
    elif table is PatientCredential:
        lock_enrolled(session, [int(account.key)])
    open_now = and_(
        or_(table.locked_until.is_(None), table.locked_until <= now),
        or_(table.not_before.is_(None), table.not_before <= now),
    )
    # a throttle row's time goes with the count: the unknown number's path does no more statements than a patient's
    stamp = {"updated_at": now} if table is LoginThrottle else {}
    count = session.execute(
        update(table)
        .where(account.where, open_now)
        .values(failed_logins=table.failed_logins + 1, **stamp)
        .returning(table.failed_logins)
    ).scalar_one_or_none()
    if count is None:
        return _refused(session, account, policy, now)
    values: dict[str, Any] = {}
    delay = policy.delay_seconds(count)
    if delay > 0:
        values["not_before"] = now + timedelta(seconds=delay)
    if count >= policy.lock_after:
        values["locked_until"] = now + timedelta(minutes=policy.lock_minutes)
    if values:
        session.execute(update(table).where(account.where).values(**values))
    return Claim(allowed=True, failures=int(count), locked=count >= policy.lock_after)


def _refused(session: Session, account: Account, policy: LockoutPolicy, now: datetime) -> Claim:
    table = account.table
    row = session.execute(
        select(table.failed_logins, table.locked_until, table.not_before).where(account.where)
    ).one_or_none()
    if row is None:  # an erasure took the account between the look-up and the count: refused as a locked one
        return Claim(allowed=False, locked=True)
    failures, locked_until, not_before = int(row[0] or 0), row[1], row[2]
    if policy.is_locked(locked_until, now):
        return Claim(allowed=False, failures=failures, locked=True)
    wait = (not_before - now).total_seconds() if not_before is not None else 0.0
    return Claim(allowed=False, failures=failures, retry_after=max(1, math.ceil(wait)))


def _ensure_throttle_row(session: Session, account: Account, now: datetime) -> None:
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(key_hash=account.key, failed_logins=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key_hash"])
    )


def refund(session: Session, account: Account) -> None:
    """Take back the try a right password claimed (step 1 of a login is not a completed login): the count goes
    down by one, and the slow-down and lock that claim set go (the claim found neither in force)."""
    table = account.table
    session.execute(
        update(table)
        .where(account.where, table.failed_logins > 0)
        .values(failed_logins=table.failed_logins - 1, locked_until=None, not_before=None)
    )


def clear(session: Session, account: Account) -> None:
    """A completed login, a changed or a newly sent password: forget the failures, the slow-down and the lock."""
    if account.table is PatientCredential:
        lock_enrolled(session, [int(account.key)])  # the patient row before theirs, as an erasure takes them
    session.execute(
        update(account.table).where(account.where).values(failed_logins=0, locked_until=None, not_before=None)
    )


def clear_patient(session: Session, patient_id: int) -> None:
    """A completed login, a changed or a newly sent password: forget the failures and any lock."""
    clear(session, patient_account(patient_id))


def clear_patients(session: Session, patient_ids: Iterable[int]) -> None:
    """:func:`clear_patient` for many patients in one statement. The caller has taken their patient rows
    (``lock_enrolled``) and their credential rows, in patient order (``credentials.pending.end_access_many``)."""
    wanted = sorted(set(patient_ids))
    if wanted:
        table = cast(Table, PatientCredential.__table__)
        session.connection().execute(
            table.update()
            .where(table.c.patient_id.in_(wanted))
            .values(failed_logins=0, locked_until=None, not_before=None)
        )


def clear_caregiver(session: Session, caregiver_id: int) -> None:
    clear(session, caregiver_account(caregiver_id))
