"""`record_batch`, the bulk writer of the chain: one instant for the batch, each event hashed exactly as
`event_hash` documents, chained on from single events, and `audit verify` passes (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from per_cli.audit.events import event_hash, record_batch
from per_cli.audit.verify import verify_chain
from per_cli.db.models import AuditEvent
from tests.helpers.audit import count, frozen_clock, shows, write


def test_a_batch_chains_on_from_single_events_at_one_instant(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, actor: str
) -> None:
    write(engine, shows(2))
    moment = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    entries = [(10, "NEURO-SU", {"source": "file", "line": 2}), (11, None, {"line": 3, "source": "file"})]
    with frozen_clock(monkeypatch, moment), Session(engine) as session, session.begin():
        assert record_batch(session, actor, "patient.enrol", entries) == 2
    write(engine, shows(1))
    with Session(engine) as session:
        events = list(session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    assert [e.action for e in events] == [
        "patient.show",
        "patient.show",
        "patient.enrol",
        "patient.enrol",
        "patient.show",
    ]
    batch = events[2:4]
    assert [(e.at, e.actor, e.patient_id, e.unit_code, e.details) for e in batch] == [
        (moment, actor, 10, "NEURO-SU", '{"line":2,"source":"file"}'),
        (moment, actor, 11, None, '{"line":3,"source":"file"}'),
    ]
    for before, event in pairwise(events):
        assert event.prev_hash == before.hash
    for e in batch:
        assert e.hash == event_hash(
            e.prev_hash, e.at, e.actor, e.action, e.patient_id, e.unit_code, e.outcome, e.details
        )
    report = verify_chain(engine)
    assert (report.intact, report.events) == (True, 5)


def test_a_secret_in_the_details_refuses_the_whole_batch(engine: Engine) -> None:
    entries: list[tuple[int | None, str | None, dict[str, Any]]] = [
        (1, "X", {"line": 2}),
        (2, "X", {"password": "hunter2"}),
    ]
    with pytest.raises(ValueError, match="password"), Session(engine) as session, session.begin():
        record_batch(session, "bench", "patient.enrol", entries)
    assert count(engine) == 0


def test_an_empty_batch_writes_nothing(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        assert record_batch(session, "bench", "patient.enrol", []) == 0
    assert count(engine) == 0
