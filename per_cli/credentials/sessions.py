"""Login sessions: a 256-bit random token shown once, stored as its SHA-256 digest, with idle and absolute expiry.

A plain (unkeyed) SHA-256 is enough for the token, unlike for one-time codes: 256 random bits cannot be
guessed from the digest. A session keeps the expiry it was issued with, whatever the settings of the machine
that later reads it: ``expires_at`` holds the absolute end (``[sessions] absolute_hours``, 12) and
``idle_minutes`` the idle window (``[sessions] idle_minutes``, 30), both stored at issue time; the idle end is
``last_seen_at + idle_minutes`` (sessions older than migration i14a, without a stored window, use the current
setting). Changing the settings affects new sessions; ``per session revoke`` ends existing ones. Using a
session (``resolve_session`` with ``touch=True``) moves ``last_seen_at``; showing or listing it does not.

Every failure to resolve a token is the same ``AuthDenied`` ("unknown, expired or ended"), so a guess learns
nothing; the caller audits the real reason, which :class:`SessionDenied` carries.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select, update

from per_cli.db.models import Caregiver, CareUnit, LoginSession, Patient, utcnow
from per_cli.errors import AuthDenied, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.config import Config
    from per_cli.unit_of_work import UnitOfWork

METHODS = ("otp", "proxy", "bankid")
SESSION_DENIED = "session denied: the session token is unknown, expired or ended; log in again"


class SessionDenied(AuthDenied):
    """A token that does not name a usable session; ``reason`` is for the audit log, never for the user."""

    def __init__(self, reason: str, login_session: LoginSession | None = None) -> None:
        super().__init__(SESSION_DENIED)
        self.reason = reason
        self.login_session = login_session


@dataclass(frozen=True)
class SessionSettings:
    idle_minutes: int = 30
    absolute_hours: int = 12

    @classmethod
    def from_config(cls, config: Config) -> SessionSettings:
        return cls(
            idle_minutes=config.get_int("sessions", "idle_minutes", cls.idle_minutes, lo=1, hi=24 * 60),
            absolute_hours=config.get_int("sessions", "absolute_hours", cls.absolute_hours, lo=1, hi=24 * 30),
        )

    def expires(self, login_session: LoginSession) -> datetime:
        """When the session ends if nobody uses it again: the earlier of the idle and the absolute end, with the
        idle window stored at issue time."""
        idle = login_session.idle_minutes if login_session.idle_minutes is not None else self.idle_minutes
        return min(login_session.expires_at, login_session.last_seen_at + timedelta(minutes=idle))

    def status(self, login_session: LoginSession, now: datetime) -> str:
        if login_session.revoked_at is not None:
            return "revoked"
        return "active" if now < self.expires(login_session) else "expired"


def new_token() -> str:
    """256 random bits, URL-safe, never starting with ``-``: a token is typed as a command-line argument
    (``per session show TOKEN``), where a leading dash would read as an option."""
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def create_session(
    session: Session,
    patient: Patient,
    method: str,
    settings: SessionSettings,
    *,
    caregiver: Caregiver | None = None,
    challenge_id: str | None = None,
    now: datetime | None = None,
) -> tuple[str, LoginSession]:
    """A new session for ``patient``; returns the token (show it once, store it nowhere) and the row.

    ``challenge_id`` is unique in the table: a one-time code can never open two sessions, even if the
    conditional consume in ``logins`` were bypassed (the flush raises ``IntegrityError``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown login method {method!r}")
    now = now or utcnow()
    token = new_token()
    row = LoginSession(
        token_hash=token_digest(token),
        patient_id=patient.id,
        method=method,
        caregiver_id=caregiver.id if caregiver else None,
        challenge_id=challenge_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.absolute_hours),
        idle_minutes=settings.idle_minutes,
    )
    session.add(row)
    session.flush()
    return token, row


def find_session(session: Session, token: str) -> LoginSession | None:
    if not token.strip():
        raise InvalidInput("is empty; give the token `per login` printed", field="session token")
    from per_cli.staff.scope import open_keys

    digest = token_digest(token)
    open_keys(session, token_hash=digest)  # a login with key-only access (service) may see this session
    return session.execute(select(LoginSession).where(LoginSession.token_hash == digest)).scalar()


def resolve_session(
    session: Session, token: str, settings: SessionSettings, *, touch: bool = True, now: datetime | None = None
) -> LoginSession:
    """The active session a token names, for commands that act as the logged-in patient
    (``registration new --session``, ``password change``); raises :class:`SessionDenied` (exit 4) otherwise.

    With ``touch`` the idle clock restarts. The patient's exclusion is the caller's check.
    """
    now = now or utcnow()
    row = find_session(session, token)
    if row is None:
        raise SessionDenied("unknown_session")
    status = settings.status(row, now)
    if status != "active":
        raise SessionDenied(f"session_{status}", row)
    if touch:
        from per_cli.patients.register import lock_enrolled

        lock_enrolled(session, [row.patient_id])  # the patient row before theirs, as an erasure takes them
        session.execute(update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=now))
        row.last_seen_at = now
    return row


def revoke(session: Session, login_session: LoginSession, now: datetime | None = None) -> bool:
    """End one session; False when it had already ended."""
    if login_session.revoked_at is not None:
        return False
    login_session.revoked_at = now or utcnow()
    session.flush()
    return True


def revoke_patient_sessions(
    session: Session, patient_id: int, *, except_id: int | None = None, now: datetime | None = None
) -> int:
    """End every session of a patient that has not been ended (``except_id`` stays); returns how many."""
    query = update(LoginSession).where(LoginSession.patient_id == patient_id, LoginSession.revoked_at.is_(None))
    if except_id is not None:
        query = query.where(LoginSession.id != except_id)
    return int(session.execute(query.values(revoked_at=now or utcnow())).rowcount)  # type: ignore[attr-defined]


def revoke_sessions_of(session: Session, patient_ids: Iterable[int], *, now: datetime) -> Counter[int]:
    """End every session of these patients that has not been ended, in one statement; how many per patient.

    The rows are locked in patient order (as every bulk writer takes rows). Core, not the ORM: a session loaded
    in this ``Session`` keeps the ``revoked_at`` it was loaded with.
    """
    wanted = sorted(set(patient_ids))
    if not wanted:
        return Counter()
    table = cast(Table, LoginSession.__table__)
    open_ones = (
        select(table.c.id)
        .where(table.c.patient_id.in_(wanted), table.c.revoked_at.is_(None))
        .order_by(table.c.patient_id, table.c.id)
        .with_for_update()
    )
    ended = session.connection().execute(
        table.update().where(table.c.id.in_(open_ones)).values(revoked_at=now).returning(table.c.patient_id)
    )
    return Counter(ended.scalars())


def revoke_caregiver_sessions(session: Session, caregiver_id: int, now: datetime | None = None) -> int:
    """End every proxy session a care giver opened (when the account is disabled)."""
    query = update(LoginSession).where(LoginSession.caregiver_id == caregiver_id, LoginSession.revoked_at.is_(None))
    return int(session.execute(query.values(revoked_at=now or utcnow())).rowcount)  # type: ignore[attr-defined]


def session_record(
    session: Session, row: LoginSession, settings: SessionSettings, now: datetime | None = None
) -> dict[str, Any]:
    """A session as printed: who, how, proxied by whom, since, until; never the token or its digest."""
    from per_cli.patients.register import display_pnr

    now = now or utcnow()
    patient = session.get(Patient, row.patient_id)
    assert patient is not None
    unit_code = session.execute(select(CareUnit.code).where(CareUnit.id == patient.unit_id)).scalar_one()
    caregiver = session.get(Caregiver, row.caregiver_id) if row.caregiver_id else None
    return {
        "id": row.id,
        "patient": display_pnr(patient.personnummer),
        "name": f"{patient.first_name} {patient.last_name}",
        "unit": unit_code,
        "method": row.method,
        "proxy_by": caregiver.username if caregiver else None,
        "since": row.created_at,
        "last_seen_at": row.last_seen_at,
        "expires_at": settings.expires(row),
        "status": settings.status(row, now),
        "revoked_at": row.revoked_at,
    }


# --- use cases for ``per session``: each audits the patient data it shows or changes ---


def _audit(
    session: Session,
    actor: str,
    action: str,
    rows: list[tuple[LoginSession, str]],
    details: dict[str, Any] | None = None,
) -> None:
    from per_cli.audit.events import Event, record_many

    record_many(
        session,
        [
            Event(
                actor=actor,
                action=action,
                patient_id=row.patient_id,
                unit_code=unit,
                details={"session_id": row.id, **(details or {})},
            )
            for row, unit in rows
        ],
    )


def _by_token(session: Session, token: str) -> LoginSession:
    row = find_session(session, token)
    if row is None:
        raise NotFound("no session has this token", field="session token")
    return row


def show_session(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """Who the session is for, how it was opened (and by which care giver), since and until when."""
    settings = SessionSettings.from_config(uow.config)
    with uow.transaction() as session:
        row = _by_token(session, token)
        rec = session_record(session, row, settings)
        _audit(session, uow.actor, "session.show", [(row, rec["unit"])])
        return rec


def list_sessions(
    uow: UnitOfWork, *, patient: str | None = None, include_ended: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Active sessions (``include_ended`` also expired and revoked), newest first; ``patient``: only theirs."""
    settings = SessionSettings.from_config(uow.config)
    with uow.transaction() as session:
        return _list_sessions(session, uow.actor, settings, patient, include_ended, limit)


def _list_sessions(
    session: Session, actor: str, settings: SessionSettings, pnr_text: str | None, include_ended: bool, limit: int
) -> list[dict[str, Any]]:
    from per_cli.patients.register import find_patient

    now = utcnow()
    query = select(LoginSession).order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
    if pnr_text is not None:
        query = query.where(LoginSession.patient_id == find_patient(session, pnr_text, fld="patient").id)
    if not include_ended:
        query = query.where(LoginSession.revoked_at.is_(None), LoginSession.expires_at > now)
    records: list[dict[str, Any]] = []
    shown: list[tuple[LoginSession, str]] = []
    for row in session.execute(query).scalars():
        rec = session_record(session, row, settings, now)
        if include_ended or rec["status"] == "active":
            records.append(rec)
            shown.append((row, rec["unit"]))
        if len(records) >= limit:
            break
    _audit(session, actor, "session.list", shown)
    return records


def revoke_sessions(
    uow: UnitOfWork, *, token: str | None = None, session_id: int | None = None, patient: str | None = None
) -> list[dict[str, Any]]:
    """End one session (by token or id) or every session of a patient; returns the sessions ended now."""
    if token is None and session_id is None and patient is None:
        raise ValueError("revoke_sessions needs a token, an id or a patient")
    settings = SessionSettings.from_config(uow.config)
    with uow.transaction() as session:
        rows = _to_revoke(session, token, session_id, patient)
        now = utcnow()
        ended = [row for row in rows if revoke(session, row, now)]
        records = [session_record(session, row, settings, now) for row in ended]
        _audit(
            session, uow.actor, "session.revoke", [(row, rec["unit"]) for row, rec in zip(ended, records, strict=True)]
        )
        return records


def _to_revoke(session: Session, token: str | None, session_id: int | None, pnr_text: str | None) -> list[LoginSession]:
    from per_cli.patients.register import find_patient

    if token is not None:
        return [_by_token(session, token)]
    if session_id is not None:
        found = session.get(LoginSession, session_id)
        if found is None:
            raise NotFound(f"no session {session_id}; see `per session list`", field="session_id")
        return [found]
    patient = find_patient(session, pnr_text or "", fld="patient")
    query = select(LoginSession).where(LoginSession.patient_id == patient.id, LoginSession.revoked_at.is_(None))
    return list(session.execute(query).scalars())
