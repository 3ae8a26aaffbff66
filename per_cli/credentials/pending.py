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

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select, update

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
        table = _credentials()
        values = _first_password(patient_id, password_hash, campaign_id, now)
        insert = _dialect_insert(session, table).values(values).on_conflict_do_nothing()
        if session.execute(insert.returning(table.c.patient_id)).first() is not None:
            return Prior(existed=False)
        credential = session.get(PatientCredential, patient_id, with_for_update=True, populate_existing=True)
        assert credential is not None
    prior = Prior(True, credential.pending_hash, credential.pending_since, credential.pending_campaign)
    credential.pending_hash, credential.pending_since, credential.pending_campaign = password_hash, now, campaign_id
    session.flush()
    return prior


def store_pending_many(
    session: Session, items: Iterable[tuple[int, str]], campaign_id: str, now: datetime
) -> dict[int, Prior]:
    """:func:`store_pending` for many ``(patient_id, password_hash)`` in a constant number of statements.

    The caller holds the patients (``lock_enrolled``). Rows are taken in patient order: first one multi-row
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` over every patient in id order gives those without a password
    theirs (it waits, in that order, for a concurrent first send's uncommitted row); then one ``SELECT … ORDER BY
    patient_id FOR UPDATE`` locks the others' rows and reads what they held, and one executemany ``UPDATE``
    stores the pending hash. A row the ``INSERT`` found and the ``SELECT`` no longer does (a failed first send
    took its password back in between) goes by :func:`store_pending`. Core, not the ORM: nothing is loaded into
    the ``Session``.
    """
    hashes = dict(sorted(items))
    if not hashes:
        return {}
    table = _credentials()
    inserted = set(
        session.connection()
        .execute(
            _dialect_insert(session, table).on_conflict_do_nothing().returning(table.c.patient_id),
            [
                _first_password(patient_id, password_hash, campaign_id, now)
                for patient_id, password_hash in hashes.items()
            ],
        )
        .scalars()
    )
    priors = dict.fromkeys(inserted, Prior(existed=False))
    others = [patient_id for patient_id in hashes if patient_id not in inserted]
    if not others:
        return priors
    held = session.connection().execute(
        select(table.c.patient_id, table.c.pending_hash, table.c.pending_since, table.c.pending_campaign)
        .where(table.c.patient_id.in_(others))
        .order_by(table.c.patient_id)
        .with_for_update()
    )
    for patient_id, pending_hash, pending_since, pending_campaign in held:
        priors[patient_id] = Prior(True, pending_hash, pending_since, pending_campaign)
    found = [patient_id for patient_id in others if patient_id in priors]
    if found:
        session.connection().execute(
            table.update()
            .where(table.c.patient_id == bindparam("b_patient"))
            .values(pending_hash=bindparam("b_hash"), pending_since=now, pending_campaign=campaign_id),
            [{"b_patient": patient_id, "b_hash": hashes[patient_id]} for patient_id in found],
        )
    for patient_id in others:
        if patient_id not in priors:
            priors[patient_id] = store_pending(session, patient_id, hashes[patient_id], campaign_id, now)
    return dict(sorted(priors.items()))


def _first_password(patient_id: int, password_hash: str, campaign_id: str, now: datetime) -> dict[str, Any]:
    """A credential row for a patient without a password: the sent one is the password and the pending one."""
    return {
        "patient_id": patient_id,
        "password_hash": password_hash,
        "must_change": True,
        "set_at": now,
        "failed_logins": 0,
        "pending_hash": password_hash,
        "pending_since": now,
        "pending_campaign": campaign_id,
    }


def _credentials() -> Table:
    return cast(Table, PatientCredential.__table__)


def _dialect_insert(session: Session, table: Table) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def put_back_many(session: Session, items: Iterable[tuple[int, str, Prior]]) -> None:
    """No message carried these ``(patient_id, password_hash, prior)``: forget each, unless a newer send replaced
    it meanwhile; one executemany ``DELETE`` (first passwords) and one executemany ``UPDATE`` (the rest), in
    patient order. The caller has locked the rows."""
    table = _credentials()
    ordered = sorted(items, key=lambda item: item[0])
    first = [{"b_patient": pid, "b_hash": hashed} for pid, hashed, prior in ordered if not prior.existed]
    rest = [
        {
            "b_patient": pid,
            "b_hash": hashed,
            "b_pending_hash": prior.pending_hash,
            "b_pending_since": prior.pending_since,
            "b_pending_campaign": prior.pending_campaign,
        }
        for pid, hashed, prior in ordered
        if prior.existed
    ]
    ours = (table.c.patient_id == bindparam("b_patient"), table.c.pending_hash == bindparam("b_hash"))
    if first:
        session.connection().execute(table.delete().where(*ours, table.c.password_hash == bindparam("b_hash")), first)
    if rest:
        session.connection().execute(
            table.update()
            .where(*ours)
            .values(
                pending_hash=bindparam("b_pending_hash"),
                pending_since=bindparam("b_pending_since"),
                pending_campaign=bindparam("b_pending_campaign"),
            ),
            rest,
        )


def end_access_many(session: Session, patient_ids: Iterable[int], now: datetime) -> dict[int, dict[str, int]]:
    """A password sent by staff: the patients' open sessions and unused codes end and any lock is cleared,
    in a constant number of statements; the counts per patient for the audit events.

    The caller holds the patients (``lock_enrolled``) and their credential rows, taken in patient order; the
    sessions and codes are locked in patient order too (``credentials.sessions.revoke_sessions_of``).
    """
    from per_cli.credentials.lockout import clear_patients
    from per_cli.credentials.sessions import revoke_sessions_of

    wanted = sorted(set(patient_ids))
    if not wanted:
        return {}
    sessions = revoke_sessions_of(session, wanted, now=now)
    table = cast(Table, OtpChallenge.__table__)
    unused = (
        select(table.c.id)
        .where(table.c.patient_id.in_(wanted), table.c.consumed_at.is_(None), table.c.superseded_at.is_(None))
        .order_by(table.c.patient_id, table.c.id)
        .with_for_update()
    )
    codes = Counter(
        session.connection()
        .execute(table.update().where(table.c.id.in_(unused)).values(superseded_at=now).returning(table.c.patient_id))
        .scalars()
    )
    clear_patients(session, wanted)
    return {pid: {"sessions_ended": sessions.get(pid, 0), "challenges_ended": codes.get(pid, 0)} for pid in wanted}
