"""The access log's two costs: writing the event of ``per patient show``, and ``per audit verify``.

(a) The transaction of ``per patient show`` (look-up, unit, credential, record) is timed in-process on a real
SQLite file, with and without its ``record()`` call, interleaved, median of many runs: the audit event may add
at most 20 %. Production code has no switch to turn auditing off; the "without" side calls the same functions
``show_patient`` calls, minus the audit.

(b) ``verify_chain`` over 1 000 000 events (200 000 with ``--quick``) beside a bare ``SELECT`` of the same rows
plus one SHA-256 per row, through the same driver, interleaved, best of three: verification must reach at
least half that speed. The events are written with the production ``event_hash``; on PostgreSQL too when
``PER_BENCH_POSTGRES_URL`` names a server (a fresh schema is created and dropped).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from per_cli.audit.events import GENESIS, event_hash
from per_cli.audit.verify import verify_chain
from per_cli.config import Config
from per_cli.db import schema
from per_cli.db.engine import make_engine, session_scope

PNR = "191212121212"
_INSERT = (
    "INSERT INTO audit_event (at, actor, action, patient_id, unit_code, outcome, details, prev_hash, hash) "
    "VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}, {0})"
)


def _result(
    name: str, value: float, unit: str, baseline: str, base: float, ratio: float, target: str, ok: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": base,
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }


# --- (a) the audit event's share of `per patient show` ---


@dataclass
class _BenchUow:
    """The unit of work of a bench run: its own engine, transactions exactly as the app opens them."""

    engine: Engine
    actor: str = "bench"
    config: Config = field(default_factory=Config)

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        with session_scope(self.engine, read_only=read_only) as session:
            yield session


def _show_overhead(tmp: Path, reps: int, command_runs: int) -> list[dict[str, Any]]:
    from per_cli.patients.register import enrol_one, find_patient, load_with_unit, patient_record, show_patient
    from per_cli.patients.units import add_unit

    url = f"sqlite:///{tmp / 'show.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    uow = _BenchUow(engine)
    add_unit(uow, "BENCH", name="Bench")
    enrol_one(uow, PNR, first_name="Tolvan", last_name="Tolvansson", unit="BENCH", mobile="0701740605")

    def with_audit() -> None:
        show_patient(uow, PNR)

    def without_audit() -> None:  # show_patient minus its _audit() call
        with uow.transaction() as session:
            patient = find_patient(session, PNR)
            unit_code, credential = load_with_unit(session, patient)
            patient_record(patient, unit_code, credential)

    for _ in range(20):  # warm caches and the statement cache
        with_audit()
        without_audit()
    timed_with, timed_without = [], []
    for _ in range(reps):
        started = time.perf_counter()
        with_audit()
        timed_with.append(time.perf_counter() - started)
        started = time.perf_counter()
        without_audit()
        timed_without.append(time.perf_counter() - started)
    engine.dispose()
    value, base = statistics.median(timed_with) * 1000, statistics.median(timed_without) * 1000
    ratio = value / base
    added = value - base
    config = tmp / "none.toml"
    config.write_text("")
    command = _command_ms(url, config, command_runs)
    return [
        _result(
            "per patient show transaction, with its audit event (SQLite)",
            value,
            "ms",
            "the same transaction without the audit event",
            base,
            ratio,
            "≤ 1.20× (≤ 20 % added)",
            ratio <= 1.2,
        ),
        _result(
            "per patient show command (SQLite, subprocess)",
            command,
            "ms",
            "the same minus the audit event's measured cost",
            command - added,
            command / (command - added),
            "≤ 1.20× (≤ 20 % added)",
            command / (command - added) <= 1.2,
        ),
    ]


def _command_ms(url: str, config: Path, runs: int) -> float:
    """Median wall time of the real command (start-up included), as a user meets it."""
    per = str(Path(sys.executable).parent / "per")
    env = {**os.environ, "PER_DATABASE_URL": url, "PER_ACTOR": "bench", "PER_CONFIG": str(config)}
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([per, "patient", "show", PNR], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:]) * 1000  # the first run warms the page cache


# --- (b) verify over a large chain ---


def _fill(engine: Engine, count: int) -> None:
    """``count`` chained events, hashed by ``event_hash``, inserted in large driver batches."""
    schema.upgrade(engine)
    dialect = engine.dialect.name
    sql = _INSERT.format("?" if dialect == "sqlite" else "%s")
    base = datetime(2021, 1, 1, tzinfo=UTC)
    prev = GENESIS
    raw = engine.raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        cursor = driver.cursor()
        if dialect == "sqlite":
            cursor.execute("BEGIN")
        batch: list[tuple[Any, ...]] = []
        for i in range(count):
            at = base + timedelta(seconds=3 * i, microseconds=i % 997)
            action, details = (
                ("patient.edit_profile", '{"changed":["mobile"]}') if i % 7 == 0 else ("patient.show", "{}")
            )
            patient, unit = (None, None) if i % 101 == 0 else (i % 5000 + 1, "NEURO-SU")
            digest = event_hash(prev, at, "anna.andersson", action, patient, unit, "ok", details)
            stored_at: Any = at.replace(tzinfo=None).isoformat(" ", "microseconds") if dialect == "sqlite" else at
            batch.append((stored_at, "anna.andersson", action, patient, unit, "ok", details, prev, digest))
            prev = digest
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
        driver.commit()
        if dialect == "postgresql":
            driver.autocommit = True
            cursor.execute("VACUUM ANALYZE audit_event")
            driver.autocommit = False
    finally:
        raw.close()


def _bare_select_sha256(engine: Engine) -> int:
    """The floor: read every column of every row through the driver and hash it once."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        named = engine.dialect.name == "postgresql"
        cursor = driver.cursor(name="bench_bare") if named else driver.cursor()
        cursor.execute(
            "SELECT id, at, actor, action, patient_id, unit_code, outcome, details, prev_hash, hash "
            "FROM audit_event ORDER BY id"
        )
        sha256 = hashlib.sha256
        count = 0
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                sha256("\x1f".join(map(str, row)).encode()).hexdigest()
            count += len(rows)
        cursor.close()
        driver.rollback()
        return count
    finally:
        raw.close()


def _verify(engine: Engine) -> int:
    result = verify_chain(engine)
    if not result.intact:
        raise RuntimeError(f"benchmark chain does not verify: {result.line()}")
    return result.events


def _rate(fn: Callable[[Engine], int], engine: Engine) -> float:
    started = time.perf_counter()
    count = fn(engine)
    return count / (time.perf_counter() - started)


def _verify_speed(engine: Engine, label: str, count: int, rounds: int) -> dict[str, Any]:
    _bare_select_sha256(engine)  # warm the page cache for both sides
    bare, ours = [], []
    for _ in range(rounds):
        bare.append(_rate(_bare_select_sha256, engine))
        ours.append(_rate(_verify, engine))
    value, base = max(ours), max(bare)
    ratio = value / base
    return _result(
        f"audit verify, {count:,} events ({label})",
        value,
        "events/s",
        "bare SELECT + SHA-256 of the same rows",
        base,
        ratio,
        "≥ 0.5×",
        ratio >= 0.5,
    )


@contextmanager
def _postgres_schema(url: str) -> Iterator[Engine]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
        conn.commit()
    sep = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{sep}options=-csearch_path%3D{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
            conn.commit()
        admin.dispose()


def run(quick: bool) -> list[dict[str, Any]]:
    count = 200_000 if quick else 1_000_000
    rounds = 2 if quick else 3
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _show_overhead(Path(tmp), 300 if quick else 2000, 5 if quick else 11)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'verify.db'}")
        _fill(engine, count)
        results.append(_verify_speed(engine, "SQLite", count, rounds))
        engine.dispose()
    pg_url = os.environ.get("PER_BENCH_POSTGRES_URL")
    if pg_url:
        with _postgres_schema(pg_url) as engine:
            _fill(engine, count)
            results.append(_verify_speed(engine, "PostgreSQL", count, rounds))
    return results
