"""The access log: one event for every read or change of patient data, written in the same transaction.

Events form a hash chain (each ``hash`` covers the event and the previous event's hash), so an edited,
deleted or reordered row is detectable by ``per audit verify``. Writers take the chain's tail under a lock:
SQLite's ``BEGIN IMMEDIATE`` already serialises writers, PostgreSQL's ``per_audit_tail()`` (SECURITY DEFINER, so a
role that may only append can) takes a transaction-level advisory lock and returns the head hash.

The actor is the database's on PostgreSQL: the login role of the session (``session_user``, read once per
connection), which a trigger also demands of every inserted row; an actor the caller claimed (``--actor``,
``PER_ACTOR``, the patient behind a session) that differs is kept in the details as ``claimed_actor``. The hash is
computed over exactly what is stored. On SQLite the actor is the caller's (the OS login name unless ``--actor``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from per_cli.db.models import AuditEvent, table_of, utcnow
from per_cli.db.rows import copy_allowed, copy_rows, copy_staged, insert_rows, staging_allowed, stored

GENESIS = "0" * 64
_COLUMNS = ("at", "actor", "action", "patient_id", "unit_code", "outcome", "details", "prev_hash", "hash")
_TAIL_KEY = "per_audit_tail"
_NOW_KEY = "per_audit_now"
_ACTOR_KEY = "per_session_user"
#: ``Session.info`` key: the actor nobody claimed (the OS login name), replaced by the login role without a note
UNCLAIMED_ACTOR = "per_unclaimed_actor"
_LOCK_KEY = 4242002  # also in migration i13b's per_audit_tail() and per_audit_prune()
#: keys that must never reach the log; a caller passing one is a programming error
_FORBIDDEN = ("password", "code", "token", "secret", "otp")


@dataclass(frozen=True)
class Event:
    """What a command wants logged; ``record`` adds time, chain and hash."""

    actor: str
    action: str
    patient_id: int | None = None
    unit_code: str | None = None
    outcome: str = "ok"
    details: Mapping[str, Any] = field(default_factory=dict)


# Encoders built once: json.dumps with options builds a new encoder on every call, which bulk paths notice.
_DETAILS = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
_quote = json.encoder.encode_basestring  # the C string escaper json.dumps uses


@lru_cache(maxsize=256)
def _check_keys(keys: tuple[str, ...]) -> None:
    for key in keys:
        if any(word in key.lower() for word in _FORBIDDEN) and not key.endswith(("_sent", "_id", "_status")):
            raise ValueError(f"audit details must not carry secrets: {key!r}")


def canonical_details(details: Mapping[str, Any]) -> str:
    _check_keys(tuple(details))
    return _DETAILS.encode(details)


def event_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    patient_id: int | None,
    unit_code: str | None,
    outcome: str,
    details: str,
) -> str:
    """SHA-256 over the previous hash and the event's content, in a fixed, unambiguous encoding.

    The encoding is the compact JSON array ``[prev_hash, at, actor, action, patient_id, unit_code, outcome,
    details]`` (``at`` as ISO 8601 with microseconds); ``_payload`` writes exactly those bytes without building
    an encoder per event (tests/audit/test_event_hash.py holds it to ``json``'s output).
    """
    return _sha256(
        _payload(
            prev_hash, at.isoformat(timespec="microseconds"), actor, action, patient_id, unit_code, outcome, details
        )
    )


def _sha256(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _payload(
    prev_hash: str,
    at: str,
    actor: str,
    action: str,
    patient_id: int | None,
    unit_code: str | None,
    outcome: str,
    details: str,
) -> str:
    q = _quote
    pid = "null" if patient_id is None else str(int(patient_id))
    unit = "null" if unit_code is None else q(unit_code)
    return f"[{q(prev_hash)},{q(at)},{q(actor)},{q(action)},{pid},{unit},{q(outcome)},{q(details)}]"


def forget_tail(session: Session, *_args: Any) -> None:
    """Drop the cached tail: the database appended an event itself, or the transaction ended."""
    session.info.pop(_TAIL_KEY, None)
    session.info.pop(_NOW_KEY, None)


# Registered once for every Session: any transaction or savepoint ending (commit or rollback) drops the cached
# tail, so an event is never chained to a row that a rolled-back savepoint took away.
event.listen(Session, "after_transaction_end", forget_tail)


def claimed_actor(session: Session, actor: str) -> str | None:
    """The actor the user claimed (``--actor``, ``PER_ACTOR``), None when the actor is the OS login name."""
    return None if actor == session.info.get(UNCLAIMED_ACTOR) else actor


_TAIL = "SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1"  # driver SQL: one event per command pays for it
#: PostgreSQL: the head under the chain's lock, and the transaction's time when the database demands it (a staff
#: login: migration i13d's trigger takes only events stamped now() from a login that does not own the log)
_PG_TAIL = (
    "SELECT per_audit_tail(), CASE WHEN pg_has_role(session_user, c.relowner, 'MEMBER') THEN NULL ELSE now() END "
    "FROM pg_class c WHERE c.oid = 'audit_event'::regclass"
)


def chain_tail(session: Session) -> str:
    """The hash new events chain from, taking the chain's writer lock first (held until the transaction ends)."""
    cached = session.info.get(_TAIL_KEY)
    if cached is not None:
        return str(cached)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        head, now = conn.exec_driver_sql(_PG_TAIL).one()
        if now is not None:
            session.info[_NOW_KEY] = now.astimezone(UTC)
        return str(head)
    last = conn.exec_driver_sql(_TAIL).scalar()
    return last or GENESIS


def _moment(session: Session) -> datetime:
    """When an event is chained: now, or the transaction's time where the database demands it (``chain_tail``)."""
    now = session.info.get(_NOW_KEY)
    return now if isinstance(now, datetime) else utcnow()


def database_actor(session: Session) -> str | None:
    """PostgreSQL: the session's login role (cached with the driver connection); SQLite: None."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return None
    info = conn.connection.info
    actor = info.get(_ACTOR_KEY)
    if actor is None:
        actor = info[_ACTOR_KEY] = str(conn.exec_driver_sql("SELECT session_user").scalar())
    return str(actor)


def acting(session: Session, actor: str, details: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The actor and details to store: on PostgreSQL the login role, with a differing claim in ``claimed_actor``."""
    db_actor = database_actor(session)
    if db_actor is None or actor == db_actor:
        return actor, details
    if actor == session.info.get(UNCLAIMED_ACTOR):
        return db_actor, details
    return db_actor, {**details, "claimed_actor": actor}


def record(session: Session, ev: Event) -> None:
    record_many(session, [ev])


def record_many(session: Session, events: Iterable[Event]) -> int:
    """Append events to the chain in one statement, each stamped when it is chained; returns how many."""
    prev = chain_tail(session)
    conn = session.connection()
    rows: list[tuple[Any, ...]] = []
    for ev in events:
        at = _moment(session)
        actor, mapping = acting(session, ev.actor, ev.details)
        details = canonical_details(mapping)
        digest = event_hash(prev, at, actor, ev.action, ev.patient_id, ev.unit_code, ev.outcome, details)
        rows.append(
            (stored(conn, at), actor, ev.action, ev.patient_id, ev.unit_code, ev.outcome, details, prev, digest)
        )
        prev = digest
    return _append(session, rows, prev)


def record_batch(
    session: Session,
    actor: str,
    action: str,
    entries: Iterable[tuple[int | None, str | None, Mapping[str, Any]]],
    *,
    outcome: str = "ok",
) -> int:
    """Append one event per ``(patient_id, unit_code, details)``, all by one actor and action at one instant.

    For bulk paths (an enrolment chunk is one transaction, so one instant is the truth): the instant is formatted
    once and each row costs only its details and its hash. Returns how many were written.
    """
    prev = chain_tail(session)
    actor, claim = acting(session, actor, {})
    at = _moment(session)
    at_text = at.isoformat(timespec="microseconds")
    at_stored = stored(session.connection(), at)
    rows: list[tuple[Any, ...]] = []
    for patient_id, unit_code, details in entries:
        text = canonical_details({**details, **claim} if claim else details)
        digest = _sha256(_payload(prev, at_text, actor, action, patient_id, unit_code, outcome, text))
        rows.append((at_stored, actor, action, patient_id, unit_code, outcome, text, prev, digest))
        prev = digest
    return _append(session, rows, prev)


def _append(session: Session, rows: list[tuple[Any, ...]], tail: str) -> int:
    """Insert the rows; many of them by binary ``COPY`` on PostgreSQL where this login may (``copy_allowed``), or
    else through a staging table (``copy_staged``)."""
    if rows:
        conn = session.connection()
        table = table_of(AuditEvent)
        if len(rows) > 1 and copy_allowed(conn, table):
            copy_rows(conn, table, _COLUMNS, rows)
        elif len(rows) > 50 and staging_allowed(conn):  # a staff login: row-level security refuses COPY FROM
            copy_staged(conn, table, _COLUMNS, rows)
        else:
            insert_rows(conn, table, _COLUMNS, rows)
        session.info[_TAIL_KEY] = tail
    return len(rows)
