"""Care giver accounts for proxy login: user name, care unit, Argon2id password, active flag.

A care giver logs in for a patient of their own unit (``login proxy``). Their password is chosen, not sent, and
guards access to every patient of the unit, so it must have at least ``[passwords] min_length_caregiver``
characters (12; NIST SP 800-63B-4 asks 15 for single-factor use, 12 is the registry's floor, raise it in the
config), must not be on the common-password list and must not be the user name. Every change is audited
(action ``caregiver.*``, no patient); disabling an account also ends the proxy sessions it opened.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from per_cli.db.models import Caregiver, CareUnit, utcnow
from per_cli.errors import Conflict, InvalidInput, NotFound
from per_cli.identity.text import NAME_MAX, optional_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.config import Config
    from per_cli.unit_of_work import UnitOfWork

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
MIN_LENGTH = 12


def validate_username(text: str, *, field: str = "user") -> str:
    """Lower case letters, digits, ``. _ @ -``; 2–100 characters (an e-mail-like HSA name fits)."""
    name = text.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInput(
            "must be 2–100 characters: letters a–z, digits, '.', '_', '@' or '-', starting with a letter or digit",
            field=field,
        )
    return name


def min_length(config: Config) -> int:
    return config.get_int("passwords", "min_length_caregiver", MIN_LENGTH, lo=8, hi=128)


def check_password(config: Config, username: str, password: str) -> None:
    from per_cli.credentials.passwords import check_new_password

    check_new_password(password, min_length=min_length(config))
    if password.strip().lower() == username.lower():
        raise InvalidInput("must not be the user name", field="password")


def _hash(config: Config, password: str) -> str:
    from per_cli.credentials.passwords import Argon2Params, hash_password

    return hash_password(password, Argon2Params.from_config(config))


def find_caregiver(session: Session, username: str) -> Caregiver | None:
    """The account with this user name (case-insensitive), or None; an unusable name finds nothing."""
    try:
        name = validate_username(username)
    except InvalidInput:
        return None
    return session.execute(select(Caregiver).where(Caregiver.username == name)).scalar()


def get_caregiver(session: Session, username: str) -> Caregiver:
    name = validate_username(username)
    found = session.execute(select(Caregiver).where(Caregiver.username == name)).scalar()
    if found is None:
        raise NotFound(f"no care giver {name}; see `per caregiver list`", field="user")
    return found


def _record(cg: Caregiver, unit_code: str) -> dict[str, Any]:
    return {
        "username": cg.username,
        "name": cg.name,
        "unit": unit_code,
        "active": cg.active,
        "locked_until": cg.locked_until,
        "created_at": cg.created_at,
    }


def _unit_code(session: Session, cg: Caregiver) -> str:
    return session.execute(select(CareUnit.code).where(CareUnit.id == cg.unit_id)).scalar_one()


def _audit(
    session: Session, actor: str, action: str, cg: Caregiver, unit_code: str, details: dict[str, Any] | None = None
) -> None:
    from per_cli.audit.events import Event, record

    record(
        session,
        Event(actor=actor, action=action, unit_code=unit_code, details={"caregiver": cg.username, **(details or {})}),
    )


# --- use cases: each changes one account and audits in the same transaction ---


def add_caregiver(
    uow: UnitOfWork, username: str, *, unit: str, name: str | None = None, password: str
) -> dict[str, Any]:
    """A new active account at ``unit``; the password must pass the care giver rules."""
    from per_cli.patients.units import get_unit

    uname = validate_username(username)
    display = optional_text(name, "name", NAME_MAX)
    check_password(uow.config, uname, password)
    with uow.transaction() as session:
        care_unit = get_unit(session, unit)
        if session.execute(select(Caregiver.id).where(Caregiver.username == uname)).first():
            raise Conflict(f"care giver {uname} already exists", field="user")
        cg = Caregiver(
            username=uname,
            name=display,
            unit_id=care_unit.id,
            password_hash=_hash(uow.config, password),
            active=True,
            failed_logins=0,
            created_at=utcnow(),
        )
        session.add(cg)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise Conflict(f"care giver {uname} already exists", field="user") from None
        _audit(session, uow.actor, "caregiver.add", cg, care_unit.code)
        return _record(cg, care_unit.code)


def set_password(uow: UnitOfWork, username: str, *, password: str) -> dict[str, Any]:
    """A new password (by an administrator); also lifts a lock, since that is what a locked-out user needs."""
    with uow.transaction() as session:
        cg = get_caregiver(session, username)
        check_password(uow.config, cg.username, password)
        cg.password_hash = _hash(uow.config, password)
        cg.failed_logins = 0
        cg.locked_until = None
        unit_code = _unit_code(session, cg)
        _audit(session, uow.actor, "caregiver.set_password", cg, unit_code)
        return _record(cg, unit_code)


def set_active(uow: UnitOfWork, username: str, *, active: bool) -> tuple[dict[str, Any], int]:
    """Enable or disable; disabling ends the account's proxy sessions. Returns the record and sessions ended."""
    from per_cli.credentials.sessions import revoke_caregiver_sessions

    with uow.transaction() as session:
        cg = get_caregiver(session, username)
        unit_code = _unit_code(session, cg)
        ended = 0
        if cg.active != active:
            cg.active = active
            if not active:
                ended = revoke_caregiver_sessions(session, cg.id)
            _audit(
                session,
                uow.actor,
                "caregiver.enable" if active else "caregiver.disable",
                cg,
                unit_code,
                {"sessions_ended": ended} if not active else None,
            )
        return _record(cg, unit_code), ended


def caregiver_choices(session: Session, prefix: str, *, limit: int = 200) -> list[tuple[str, str]]:
    """User names starting with ``prefix`` and "name, unit": what TAB offers after ``--user``."""
    query = (
        select(Caregiver.username, Caregiver.name, CareUnit.code)
        .join(CareUnit, CareUnit.id == Caregiver.unit_id)
        .order_by(Caregiver.username)
        .limit(limit)
    )
    if prefix:
        query = query.where(Caregiver.username.startswith(prefix, autoescape=True))
    return [(user, ", ".join(part for part in (name, code) if part)) for user, name, code in session.execute(query)]


def list_caregivers(uow: UnitOfWork, *, unit: str | None = None) -> list[dict[str, Any]]:
    """Every account (or those of ``unit``), by user name."""
    from per_cli.patients.units import get_unit

    with uow.transaction() as session:
        query = select(Caregiver, CareUnit.code).join(CareUnit, CareUnit.id == Caregiver.unit_id)
        if unit:
            query = query.where(Caregiver.unit_id == get_unit(session, unit).id)
        return [_record(cg, code) for cg, code in session.execute(query.order_by(Caregiver.username)).tuples()]
