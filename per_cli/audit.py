"""The access log: one event for every read or change of patient data, written in the same transaction.

Events form a hash chain (each ``hash`` covers the event and the previous event's hash), so an edited,
deleted or reordered row is detectable by ``per audit verify``. Writers take the chain's tail under a lock:
SQLite's ``BEGIN IMMEDIATE`` already serialises writers, PostgreSQL takes a transaction-level advisory lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from per_cli.db.models import AuditEvent, table_of, utcnow

GENESIS = "0" * 64
_TAIL_KEY = "per_audit_tail"
_LOCK_KEY = 4242002
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


def canonical_details(details: Mapping[str, Any]) -> str:
    for key in details:
        if any(word in key.lower() for word in _FORBIDDEN) and not key.endswith(("_sent", "_id", "_status")):
            raise ValueError(f"audit details must not carry secrets: {key!r}")
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


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
    """SHA-256 over the previous hash and the event's content, in a fixed, unambiguous encoding."""
    payload = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, patient_id, unit_code, outcome, details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _forget_tail(session: Session, *_args: Any) -> None:
    session.info.pop(_TAIL_KEY, None)


# Registered once for every Session: any transaction or savepoint ending (commit or rollback) drops the cached
# tail, so an event is never chained to a row that a rolled-back savepoint took away.
event.listen(Session, "after_transaction_end", _forget_tail)

_TAIL = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)


def chain_tail(session: Session) -> str:
    """The hash new events chain from, taking the chain's writer lock first (held until the transaction ends)."""
    cached = session.info.get(_TAIL_KEY)
    if cached is not None:
        return str(cached)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = conn.execute(_TAIL).scalar()
    return last or GENESIS


def record(session: Session, ev: Event) -> None:
    record_many(session, [ev])


def record_many(session: Session, events: Iterable[Event]) -> int:
    """Append events to the chain in one statement; returns how many were written."""
    prev = chain_tail(session)
    rows: list[dict[str, Any]] = []
    for ev in events:
        at = utcnow()
        details = canonical_details(ev.details)
        digest = event_hash(prev, at, ev.actor, ev.action, ev.patient_id, ev.unit_code, ev.outcome, details)
        rows.append(
            {
                "at": at,
                "actor": ev.actor,
                "action": ev.action,
                "patient_id": ev.patient_id,
                "unit_code": ev.unit_code,
                "outcome": ev.outcome,
                "details": details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    if rows:  # Core insert: the ORM's bulk path costs more than the hashing on large batches
        session.connection().execute(insert(table_of(AuditEvent)), rows)
        session.info[_TAIL_KEY] = prev
    return len(rows)
