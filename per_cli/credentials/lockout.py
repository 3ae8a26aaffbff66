"""Failed logins: first slow down, then lock the account for a while (NIST SP 800-63B §5.2.2, OWASP).

The counter belongs to the account (a patient's credential or a care giver), not to a code or a terminal,
so asking for a new one-time code never resets it; only a completed login does. Wrong passwords and wrong
codes both count. From ``slow_after`` failures on, each further refusal waits ``delay_ms`` doubled per
failure (at most ``max_delay_ms``) *after* its transaction has committed, so the wait holds no database lock.
From ``lock_after`` failures on, each further failure (re)locks the account for ``lock_minutes``: after a
lock expires an attacker gets one try per lock period until someone logs in successfully.

Config ``[login]``: ``slow_after`` (3), ``delay_ms`` (1000), ``max_delay_ms`` (30000), ``lock_after`` (10),
``lock_minutes`` (15). Tests set the delays to 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from per_cli.db.models import Caregiver, PatientCredential
from per_cli.patients.register import lock_enrolled

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute, Session

    from per_cli.config import Config


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
        """How long to wait before answering a refusal that brought the count to ``failures``."""
        if failures < self.slow_after or self.delay_ms == 0:
            return 0.0
        steps = min(failures - self.slow_after, 20)
        return min(self.delay_ms << steps, self.max_delay_ms) / 1000


def _failed(
    session: Session,
    table: type[PatientCredential] | type[Caregiver],
    column: InstrumentedAttribute[int],
    key: int,
    policy: LockoutPolicy,
    now: datetime,
) -> int:
    """Count one failure atomically (``SET n = n + 1 … RETURNING``); lock when the threshold is reached."""
    count = session.execute(
        update(table).where(column == key).values(failed_logins=table.failed_logins + 1).returning(table.failed_logins)
    ).scalar_one_or_none()
    if count is None:
        return 0
    if count >= policy.lock_after:
        session.execute(
            update(table).where(column == key).values(locked_until=now + timedelta(minutes=policy.lock_minutes))
        )
    return int(count)


def patient_failed(session: Session, patient_id: int, policy: LockoutPolicy, now: datetime) -> int:
    """A wrong password or code for this patient; returns the new count (0 when there is no credential)."""
    lock_enrolled(session, [patient_id])  # the patient row before theirs, as an erasure takes them
    return _failed(session, PatientCredential, PatientCredential.patient_id, patient_id, policy, now)


def caregiver_failed(session: Session, caregiver_id: int, policy: LockoutPolicy, now: datetime) -> int:
    """A wrong password for this care giver; returns the new count."""
    return _failed(session, Caregiver, Caregiver.id, caregiver_id, policy, now)


def clear_patient(session: Session, patient_id: int) -> None:
    """A completed login, a changed or a newly sent password: forget the failures and any lock."""
    lock_enrolled(session, [patient_id])  # the patient row before theirs, as an erasure takes them
    session.execute(
        update(PatientCredential)
        .where(PatientCredential.patient_id == patient_id)
        .values(failed_logins=0, locked_until=None)
    )


def clear_caregiver(session: Session, caregiver_id: int) -> None:
    session.execute(update(Caregiver).where(Caregiver.id == caregiver_id).values(failed_logins=0, locked_until=None))
