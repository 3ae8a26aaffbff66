"""Concurrent writers keep one chain: threads and separate processes append at once, then the chain verifies
and no two events share a ``prev_hash`` (a fork) — on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from per_cli.audit.events import Event, record_many
from per_cli.audit.verify import verify_chain
from per_cli.db.models import AuditEvent
from tests.helpers.audit import count

WRITER = """
import sys, time
from pathlib import Path
from sqlalchemy.orm import Session
from per_cli.audit.events import Event, record_many
from per_cli.db.engine import make_engine

url, transactions, actor, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
engine = make_engine(url)
while not go.exists():
    time.sleep(0.01)
for i in range(transactions):
    with Session(engine) as session, session.begin():
        record_many(session, [Event(actor=actor, action="patient.show", patient_id=i, unit_code="NEURO-SU"),
                              Event(actor=actor, action="patient.list", patient_id=i, unit_code="NEURO-SU")])
engine.dispose()
"""


def _forks(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        query = select(AuditEvent.prev_hash).group_by(AuditEvent.prev_hash).having(func.count() > 1)
        return list(conn.execute(query).scalars())


def test_threads_writing_at_once_keep_one_chain(engine: Engine) -> None:
    threads, transactions = 6, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(transactions):
                with Session(engine) as session, session.begin():
                    record_many(
                        session,
                        [
                            Event(actor=f"t{n}", action="patient.show", patient_id=i),
                            Event(actor=f"t{n}", action="patient.show", patient_id=i),
                        ],
                    )
                    time.sleep(0.001)  # hold the transaction open a moment: writers must queue, not fork
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert count(engine) == threads * transactions * 2
    assert _forks(engine) == []
    assert verify_chain(engine).line() == f"ok: {threads * transactions * 2} events, chain intact"


def test_processes_writing_at_once_keep_one_chain(engine: Engine, db_url: str, tmp_path: Path) -> None:
    processes, transactions = 3, 20
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, str(transactions), f"p{n}", str(go)],
            env={**os.environ},
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    time.sleep(0.5)  # let them import; they spin until the go file appears
    go.touch()
    failures = [p.stderr.read() if p.stderr else "" for p in procs if p.wait(timeout=120) != 0]
    assert failures == []
    assert count(engine) == processes * transactions * 2
    assert _forks(engine) == []
    result = verify_chain(engine)
    assert result.intact, result.line()
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEvent.actor, AuditEvent.details).order_by(AuditEvent.id)).all()
    # on PostgreSQL every event names the login role; the writer's own name is its claim
    actors = [json.loads(details).get("claimed_actor", actor) for actor, details in rows]
    switches = sum(1 for a, b in itertools.pairwise(actors) if a != b)
    assert switches >= processes - 1  # every process got its turn
