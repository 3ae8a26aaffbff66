"""The one-time-code key is the same on every machine that shares a database, or the command stops.

A code sent from one terminal may be typed on another; with different keys the right code would be called
wrong. So the database records the key's fingerprint (``HMAC-SHA256(key, label)``: it tells keys apart and
gives the key away no more than the code hashes do) the first time a key is used with it, and every later use
compares: a differing key stops with one line naming ``[otp] key`` / ``PER_OTP_KEY``. A machine with neither
set nor a key file creates one only while the database has no fingerprint yet (the embedded single-user
case); once it has one, a missing key is refused instead of silently replaced.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from sqlalchemy import select

from per_cli.db.models import OtpKey, utcnow
from per_cli.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.unit_of_work import UnitOfWork

FIELD = "[otp] key / PER_OTP_KEY"
_LABEL = b"per one-time-code key fingerprint v1"


def fingerprint(key: bytes) -> str:
    return hmac.new(key, _LABEL, hashlib.sha256).hexdigest()


def shared_otp_key(uow: UnitOfWork) -> bytes:
    """The key, checked against the fingerprint the database holds (recorded now if it holds none)."""
    from per_cli.credentials.otp import existing_key, otp_key

    key = existing_key(uow.config)
    with uow.transaction() as session:
        recorded = _recorded(session)
        if key is None and recorded is not None:
            key = existing_key(uow.config)  # another login on this machine may have just created the key file
        if key is None:
            if recorded is not None:
                raise ConfigError(
                    "no one-time-code key on this machine, but the database's codes are made with one; set the "
                    "same key as on the other machines (a new key would call every right code wrong)",
                    field=FIELD,
                )
            key = otp_key(uow.config)  # creates the key file
        mine = fingerprint(key)
        if recorded is None:
            recorded = _record(session, mine)
    if recorded != mine:
        raise ConfigError(
            "this key differs from the one the database's one-time codes are made with; use the same key on "
            "every machine that shares the database",
            field=FIELD,
        )
    return key


def _recorded(session: Session) -> str | None:
    return session.execute(select(OtpKey.fingerprint).where(OtpKey.id == 1)).scalar_one_or_none()


def _record(session: Session, mine: str) -> str:
    """Record ``mine`` unless another machine recorded its own first; returns the one that stands."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(OtpKey)
        .values(id=1, fingerprint=mine, recorded_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return session.execute(select(OtpKey.fingerprint).where(OtpKey.id == 1)).scalar_one()
