"""Helpers for the access-log tests: write chained events in-process, tamper with rows by plain SQL.

Tampering is what the holder of the database can do despite the append-only guards (migration i13b): a
PostgreSQL superuser switches triggers off for the transaction (``session_replication_role = replica``), the
owner of a SQLite file drops the guard triggers and puts them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Engine, Table, delete, func, select, update
from sqlalchemy.orm import Session

from per_cli.audit.events import Event, record_many
from per_cli.db.models import AuditEvent

TABLE = cast(Table, AuditEvent.__table__)
CONTENT = ("at", "actor", "action", "patient_id", "unit_code", "outcome", "details", "prev_hash", "hash")


def write(engine: Engine, events: Iterable[Event], *, per_transaction: int = 1) -> None:
    """Append events through the production writer, ``per_transaction`` per transaction."""
    pending = list(events)
    for start in range(0, len(pending), per_transaction):
        with Session(engine) as session, session.begin():
            record_many(session, pending[start : start + per_transaction])


def shows(count: int, *, patient_id: int | None = 1, actor: str = "tester", **kwargs: Any) -> list[Event]:
    return [
        Event(actor=actor, action="patient.show", patient_id=patient_id, unit_code="NEURO-SU", **kwargs)
        for _ in range(count)
    ]


@contextmanager
def frozen_clock(monkeypatch: pytest.MonkeyPatch, *moments: datetime) -> Iterator[None]:
    """The audit writer sees these moments, one per event, in order."""
    remaining = list(moments)
    with monkeypatch.context() as patch:
        patch.setattr("per_cli.audit.events.utcnow", lambda: remaining.pop(0))
        yield
    assert not remaining, "unused moments"


def ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TABLE)).scalar_one())


def row(engine: Engine, event_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        found = conn.execute(select(*(TABLE.c[c] for c in CONTENT)).where(TABLE.c.id == event_id)).one()
    return dict(found._mapping)


@contextmanager
def as_holder(engine: Engine) -> Iterator[Connection]:
    """A transaction with the log's append-only guards out of the way, as only the database's holder can."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
            return
        guards = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_%_no_%'"
        ).all()
        for name, _ in guards:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        yield conn
        for _, sql in guards:
            conn.exec_driver_sql(sql)


def set_columns(engine: Engine, event_id: int, **values: Any) -> None:
    with as_holder(engine) as conn:
        conn.execute(update(TABLE).where(TABLE.c.id == event_id).values(**values))


def remove(engine: Engine, event_id: int) -> None:
    with as_holder(engine) as conn:
        conn.execute(delete(TABLE).where(TABLE.c.id == event_id))


def swap(engine: Engine, a: int, b: int) -> None:
    """Exchange everything but the ids of two events (a reorder)."""
    first, second = row(engine, a), row(engine, b)
    with as_holder(engine) as conn:
        conn.execute(update(TABLE).where(TABLE.c.id == a).values(**second))
        conn.execute(update(TABLE).where(TABLE.c.id == b).values(**first))


def recompute(engine: Engine) -> None:
    """What the holder of the database can do: re-chain every event with ``event_hash`` so the chain is intact."""
    from per_cli.audit.events import GENESIS, event_hash

    with as_holder(engine) as conn:
        rows = conn.execute(select(TABLE.c.id, *(TABLE.c[c] for c in CONTENT)).order_by(TABLE.c.id)).all()
        prev = rows[0].prev_hash if rows else GENESIS
        for r in rows:
            digest = event_hash(prev, r.at, r.actor, r.action, r.patient_id, r.unit_code, r.outcome, r.details)
            conn.execute(update(TABLE).where(TABLE.c.id == r.id).values(prev_hash=prev, hash=digest))
            prev = digest
