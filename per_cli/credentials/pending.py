"""Pending passwords: a password on its way to the patient never leaves them without one that works.

A staff send stores the new hash as *pending* before the message leaves. Until it is used or replaced, the
current and the pending password both log in; a login with the pending one makes it the password (the old
one is retired), and so does a delivery the provider confirms (``delivered``). A send that surely failed on
every channel puts back what was pending before it. Whatever instant a run is killed at, the patient can log
in with the last password a message gave them.

Every check of a patient's password costs the same two Argon2id runs whatever the state (:func:`matches`,
:func:`spend_check`): the pending hash, or with none a hash of what was typed with the configured parameters, and
the current hash; both always run. Otherwise a wrong password would take twice as long while a password is on
its way, telling anyone who tries that one was just sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update

from per_cli.db.models import OtpChallenge, PatientCredential

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.credentials.passwords import Argon2Params


#: Argon2id runs per password check, on every path (the module docstring says why)
RUNS_PER_CHECK = 2


def matches(current: str, pending: str | None, password: str, params: Argon2Params) -> str | None:
    """``"pending"`` or ``"current"`` for the hash ``password`` matches (the pending one wins), or None.

    Always :data:`RUNS_PER_CHECK` runs: the pending hash, or with none one hash with ``params`` (the configured
    ones, which a pending hash would have), then the current hash, whatever the first gave.
    """
    from per_cli.credentials.passwords import spend_one_hash, verify_password

    if pending:
        pending_ok = verify_password(pending, password)
    else:
        spend_one_hash(password, params)
        pending_ok = False
    current_ok = verify_password(current, password)
    if pending_ok:
        return "pending"
    return "current" if current_ok else None


def spend_check(password: str, params: Argon2Params) -> None:
    """What a check costs when there is nothing to compare (unknown, no password, excluded, locked): the same
    :data:`RUNS_PER_CHECK` runs with the configured parameters."""
    from per_cli.credentials.passwords import spend_one_hash

    for _ in range(RUNS_PER_CHECK):
        spend_one_hash(password, params)


def promote(session: Session, patient_id: int, pending_hash: str) -> bool:
    """A login with the pending password: it becomes the password and the old one is retired (one statement;
    nothing happens if another send replaced it meanwhile)."""
    done = session.execute(
        update(PatientCredential)
        .where(PatientCredential.patient_id == patient_id, PatientCredential.pending_hash == pending_hash)
        .values(
            password_hash=PatientCredential.pending_hash,
            set_at=PatientCredential.pending_since,
            pending_hash=None,
            pending_since=None,
            pending_campaign=None,
        )
    ).rowcount  # type: ignore[attr-defined]
    return bool(done)


def promote_in_place(credential: PatientCredential) -> None:
    if credential.pending_hash:
        credential.password_hash = credential.pending_hash
        credential.set_at = credential.pending_since or credential.set_at
    clear_in_place(credential)


def clear_in_place(credential: PatientCredential) -> None:
    credential.pending_hash = None
    credential.pending_since = None
    credential.pending_campaign = None


def promote_delivered(session: Session, patient_id: int, campaign_id: str) -> bool:
    """The provider confirmed a message of ``campaign_id``: its pending password becomes the password (one
    statement; a pending password of a later campaign is left alone)."""
    done = session.execute(
        update(PatientCredential)
        .where(PatientCredential.patient_id == patient_id, PatientCredential.pending_campaign == campaign_id)
        .values(
            password_hash=PatientCredential.pending_hash,
            set_at=PatientCredential.pending_since,
            pending_hash=None,
            pending_since=None,
            pending_campaign=None,
        )
    ).rowcount  # type: ignore[attr-defined]
    return bool(done)


@dataclass(frozen=True)
class Prior:
    """What the patient's credential held before a send stored its pending password."""

    existed: bool
    pending_hash: str | None = None
    pending_since: datetime | None = None
    pending_campaign: str | None = None


def store_pending(session: Session, patient_id: int, password_hash: str, campaign_id: str, now: datetime) -> Prior:
    """Store ``password_hash`` as the patient's pending password; a patient without a password gets it as the
    password too (nothing else would log in anyway). Returns what to put back if no message leaves."""
    credential = session.get(PatientCredential, patient_id, with_for_update=True)
    if credential is None:  # an insert that a concurrent first send may beat: then update theirs
        from sqlalchemy.dialects import postgresql, sqlite

        dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        values = {
            "patient_id": patient_id,
            "password_hash": password_hash,
            "must_change": True,
            "set_at": now,
            "failed_logins": 0,
            "pending_hash": password_hash,
            "pending_since": now,
            "pending_campaign": campaign_id,
        }
        insert = dialect.insert(PatientCredential).values(values).on_conflict_do_nothing()
        if session.execute(insert.returning(PatientCredential.patient_id)).first() is not None:
            return Prior(existed=False)
        credential = session.get(PatientCredential, patient_id, with_for_update=True, populate_existing=True)
        assert credential is not None
    prior = Prior(True, credential.pending_hash, credential.pending_since, credential.pending_campaign)
    credential.pending_hash, credential.pending_since, credential.pending_campaign = password_hash, now, campaign_id
    session.flush()
    return prior


def put_back(session: Session, patient_id: int, password_hash: str, prior: Prior) -> None:
    """No message carried ``password_hash``: forget it, unless a newer send replaced it meanwhile."""
    ours = (PatientCredential.patient_id == patient_id, PatientCredential.pending_hash == password_hash)
    if not prior.existed:
        session.execute(delete(PatientCredential).where(*ours, PatientCredential.password_hash == password_hash))
        return
    session.execute(
        update(PatientCredential)
        .where(*ours)
        .values(
            pending_hash=prior.pending_hash,
            pending_since=prior.pending_since,
            pending_campaign=prior.pending_campaign,
        )
    )


def end_access(session: Session, patient_id: int, now: datetime) -> dict[str, int]:
    """A password sent by staff: the patient's open sessions and unused codes end and any lock is cleared.

    Returns the counts for the audit event.
    """
    from per_cli.credentials.lockout import clear_patient
    from per_cli.credentials.sessions import revoke_patient_sessions

    sessions = revoke_patient_sessions(session, patient_id, now=now)
    codes = session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.patient_id == patient_id,
            OtpChallenge.consumed_at.is_(None),
            OtpChallenge.superseded_at.is_(None),
        )
        .values(superseded_at=now)
    ).rowcount  # type: ignore[attr-defined]
    clear_patient(session, patient_id)
    return {"sessions_ended": sessions, "challenges_ended": int(codes)}
