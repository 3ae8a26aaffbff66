"""A national register: the lookups of ``per`` at a base size and at full size, and the audit write rate.

``python -m bench.scale --patients N --events M`` builds a register through per's own paths (``per patient enrol
--file`` for the patients, the audit writer for the access log), first at a base size (a tenth, at most 100 000
patients, the events in the same proportion), then grows it to N patients and M events. At both sizes each
command is run as a subprocess, interleaved with ``per --help`` (the start-up baseline of the same moment), median
of five; a lookup should take at most 1.3× its base-size time at full size, ``audit review`` at most 2 s. The
audit write rate (events/s through the audit writer, as ``PATTERNS`` say) is measured at both sizes too.

SQLite always; PostgreSQL when ``PER_TEST_POSTGRES_URL`` is set (a schema of its own, dropped afterwards). The
documented full run is ``--patients 1000000 --events 5000000`` (about 3 GB of SQLite file, 40 minutes on two
cores); ``make bench`` runs the default sizes. Sizes that do not fit the free memory or disk are refused first.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

PER = str(Path(sys.executable).parent / "per")
UNITS = [f"U{i:02d}" for i in range(20)]
FIRST = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Åsa", "Björn", "Märta", "Örjan", "Ingrid", "Sven"]
FIRST += ["Eva", "Per", "Lena", "Nils", "Sara", "Olof", "Elin", "Göran", "Maja", "Hugo", "Saga", "Ture"]
_STEM = ["Berg", "Lind", "Sjö", "Ek", "Holm", "Ström", "Gran", "Nord", "Sand", "Ås", "Öst", "Wall", "Dahl", "Fors"]
_STEM += ["Lund", "Hed", "Björk", "Al", "Ny", "Sö", "Vik", "Hag", "Mal", "Ro"]
_TAIL = ["ström", "qvist", "berg", "gren", "lund", "man", "dal", "holm", "blad", "kvist", "stedt", "fors", "ros"]
LAST = [s + t for s in _STEM for t in _TAIL] + ["Andersson", "Johansson", "Karlsson", "Nilsson", "Öberg"]
SEARCH = "lindqvist"  # one surname of about 320: about 0.3 % of the register
#: bytes per patient and per event, SQLite file and PostgreSQL alike (measured, rounded up), and this process's
#: memory per patient (the numbers used, the raw load's rows as stored)
DISK_PER_PATIENT, DISK_PER_EVENT, MEMORY_PER_PATIENT = 1200, 450, 1000
RUNS = 5
LOOKUP_LIMIT, REVIEW_LIMIT_S = 1.3, 2.0


def _luhn(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _people(rng: random.Random, used: set[int], n: int) -> Iterator[list[str]]:
    while n:
        born = date(1920, 1, 1) + timedelta(days=rng.randrange(365 * 95))
        short = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}{rng.randrange(1, 1000):03d}"
        pnr = f"{born.year}{short[2:]}{_luhn(short)}"
        if int(pnr) in used:
            continue
        used.add(int(pnr))
        n -= 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        mobile = f"070-{rng.randrange(1000):03d} {rng.randrange(100):02d} {rng.randrange(100):02d}"
        yield [f"{pnr[:8]}-{pnr[8:]}", first, last, mobile, f"{first}.{last}.{len(used)}@example.se", rng.choice(UNITS)]


def write_patients(path: Path, rng: random.Random, used: set[int], n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(["personnummer", "förnamn", "efternamn", "mobiltelefon", "e-post", "enhet"])
        out.writerows(_people(rng, used, n))


def check_room(patients: int, events: int, folder: Path, backends: int) -> str | None:
    """One line naming what does not fit, or None."""
    disk = (patients * DISK_PER_PATIENT + events * DISK_PER_EVENT) * 1.1 * backends + patients * 120  # + CSV, base
    free = shutil.disk_usage(folder).free
    if disk > free * 0.8:
        return f"needs about {disk / 1e9:.1f} GB of disk in {folder}, {free / 1e9:.1f} GB free: give smaller sizes"
    memory = patients * MEMORY_PER_PATIENT + 400_000_000  # + per's own processes
    available = _available_memory()
    if available is not None and memory > available * 0.8:
        return f"needs about {memory / 1e9:.1f} GB of memory, {available / 1e9:.1f} GB available: give smaller sizes"
    return None


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# --- building the register through per ---


def _per(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PER, *args], env=env, check=True, capture_output=True, text=True)


def enrol(env: dict[str, str], path: Path) -> float:
    started = time.perf_counter()
    _per(env, "patient", "enrol", "--file", str(path), "--format", "json")
    return time.perf_counter() - started


def add_events(url: str, count: int, patients: int, seed: int) -> None:
    """``count`` events through the audit writer: reads of random patients, a few proxy logins and refusals, and
    the newest 100 one per transaction (so the newest events have instants of their own)."""
    from per_cli.audit.events import Event, record, record_batch
    from per_cli.db.engine import make_engine, session_scope

    rng = random.Random(seed)
    engine = make_engine(url)
    single = min(100, count)
    left = count - single
    try:
        while left > 0:
            n = min(5000, left)
            with session_scope(engine) as session:
                rare = n // 2000  # 0.05 % proxy logins, 0.05 % refusals
                shows: list[tuple[int | None, str | None, dict[str, Any]]] = [
                    (rng.randrange(1, patients + 1), rng.choice(UNITS), {}) for _ in range(n - 2 * rare)
                ]
                record_batch(session, "bench", "patient.show", shows)
                proxies = [
                    (rng.randrange(1, patients + 1), rng.choice(UNITS), {"caregiver": "cg"}) for _ in range(rare)
                ]
                record_batch(session, "bench", "login.proxy", proxies)
                denied = [(rng.randrange(1, patients + 1), None, {"channel": "sms"}) for _ in range(rare)]
                record_batch(session, "bench", "login.otp", denied, outcome="denied")
            left -= n
        for _ in range(single):
            with session_scope(engine) as session:
                pid = rng.randrange(1, patients + 1)
                record(session, Event(actor="bench", action="patient.show", patient_id=pid, unit_code=UNITS[0]))
    finally:
        engine.dispose()


#: how the audit write rate is measured: per's bulk paths write a chunk's events for patients in id order
#: (enrolment, campaigns), commands one event a transaction; random patients a batch is the worst case
PATTERNS = ("bulk (patients in order, 500 a transaction)", "commands (1 event a transaction)", "random patients, 500")


def write_rate(url: str, patients: int, pattern: str) -> float:
    """Events/s appended through per's audit writer in one of ``PATTERNS``."""
    from per_cli.audit.events import Event, record, record_batch
    from per_cli.db.engine import make_engine, session_scope

    rng = random.Random(patients)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:  # connect and warm up outside the timing
            record(session, Event(actor="bench", action="bench.start"))
        started = time.perf_counter()
        if pattern == PATTERNS[1]:
            count = 1000
            for _ in range(count):
                with session_scope(engine) as session:
                    pid = rng.randrange(1, patients + 1)
                    record(session, Event(actor="bench", action="patient.show", patient_id=pid, unit_code=UNITS[1]))
        else:
            count, per_transaction = 20_000, 500
            first = rng.randrange(1, max(2, patients - count))
            for batch in range(count // per_transaction):
                if pattern == PATTERNS[0]:
                    ids = [min(patients, first + batch * per_transaction + i) for i in range(per_transaction)]
                else:
                    ids = [rng.randrange(1, patients + 1) for _ in range(per_transaction)]
                entries: list[tuple[int | None, str | None, dict[str, Any]]] = [(p, UNITS[1], {}) for p in ids]
                with session_scope(engine) as session:
                    record_batch(session, "bench", "patient.show", entries)
        return count / (time.perf_counter() - started)
    finally:
        engine.dispose()


def analyze(url: str) -> None:
    """What autovacuum (PostgreSQL) or ``PRAGMA optimize`` would have done on a live register by now."""
    from per_cli.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        engine.dispose()


def _probe(url: str) -> tuple[str, str]:
    """A patient with events (the one most read) and the instant of the 31st-newest event, for the commands."""
    from per_cli.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT patient_id FROM audit_event ORDER BY id DESC LIMIT 1").scalar()
            pnr = conn.exec_driver_sql(f"SELECT personnummer FROM patient WHERE id = {int(pid or 1)}").scalar()
            at = conn.exec_driver_sql("SELECT at FROM audit_event ORDER BY id DESC LIMIT 1 OFFSET 30").scalar()
    finally:
        engine.dispose()
    when = at.isoformat() if isinstance(at, datetime) else f"{str(at).replace(' ', 'T')}+00:00"
    return str(pnr), when


# --- measuring ---


def commands(pnr: str, since: str) -> dict[str, list[str]]:
    return {
        "patient show": ["patient", "show", pnr],
        "audit list --patient": ["audit", "list", "--patient", pnr],
        "audit extract": ["audit", "extract", pnr],
        f"patient list --search {SEARCH}": ["patient", "list", "--search", SEARCH],
        "audit list --since T (31st-newest)": ["audit", "list", "--since", since],
        "audit review --sample 50": ["audit", "review", "--sample", "50", "--seed", "7", "--format", "csv"],
        "patient list --unit U03 --limit 100": ["patient", "list", "--unit", "U03", "--limit", "100"],
    }


def _timed(env: dict[str, str], args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([PER, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(envs: list[dict[str, str]], cmds: list[dict[str, list[str]]], runs: int = RUNS) -> list[dict[str, float]]:
    """Median seconds of each command on each database, and of ``per --help``, interleaved: every round runs
    ``per --help`` and then each command on each database in turn, so a busy minute on a shared machine hits all
    alike (one warm-up round first)."""
    times: list[dict[str, list[float]]] = [{"per --help": []} for _ in envs]
    for round_ in range(runs + 1):
        for i, env in enumerate(envs):
            took = _timed(env, ["--help"])
            if round_:
                times[i]["per --help"].append(took)
        for name in cmds[0]:
            for i, env in enumerate(envs):
                took = _timed(env, cmds[i][name])
                if round_:
                    times[i].setdefault(name, []).append(took)
    return [{name: statistics.median(values) for name, values in t.items()} for t in times]


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(label: str, url: str, folder: Path, patients: int, events: int, log: Any) -> dict[str, str]:
    """A register of ``patients`` (one ``per patient enrol --file``) and ``events`` access-log events."""
    started = time.perf_counter()
    env = _fresh(url, folder)
    write_patients(folder / "patients.csv", random.Random(patients), set(), patients)
    took = enrol(env, folder / "patients.csv")
    (folder / "patients.csv").unlink()
    log(f"  {label}: enrolled {patients:,} patients in {took:.1f} s ({patients / took:,.0f} rows/s)")
    add_events(url, max(0, events - patients), patients, seed=patients)
    analyze(url)
    log(
        f"  {label}: {patients:,} patients, {events:,} events built in {time.perf_counter() - started:.0f} s; {_load()}"
    )
    return env


def run_backend(
    label: str, urls: tuple[str, str], folder: Path, patients: int, events: int, log: Any
) -> list[dict[str, Any]]:
    """The look-ups and write rates at a tenth of the size (at most 100 000 patients) and at full size: two
    databases, measured turn about."""
    bp = min(100_000, max(1, patients // 10))
    be = max(bp, events * bp // patients)
    sizes = [(bp, be), (patients, events)]
    envs = [build(label, url, folder, n_p, n_e, log) for url, (n_p, n_e) in zip(urls, sizes, strict=True)]
    rates: list[dict[str, float]] = [{}, {}]
    for pattern in PATTERNS:
        runs: list[list[float]] = [[], []]
        for _ in range(3):
            for i, (url, (n_p, _n_e)) in enumerate(zip(urls, sizes, strict=True)):
                runs[i].append(write_rate(url, n_p, pattern))
        for i in range(2):
            rates[i][pattern] = statistics.median(runs[i])
    cmds = [commands(*_probe(url)) for url in urls]
    base, full = measure(envs, cmds)
    load = _load()
    for (n_p, n_e), medians, rate in zip(sizes, (base, full), rates, strict=True):
        log(f"  {label} at {n_p:,} patients, {n_e:,} events:")
        for name, value in medians.items():
            log(f"    {name:40s} {value * 1000:8.0f} ms")
        for pattern, value in rate.items():
            log(f"    audit write rate, {pattern}: {value:,.0f} events/s")
    log(f"  {load}")
    (fp, fe), base_rates, full_rates = sizes[1], rates[0], rates[1]
    results = []
    for name in full:
        if name == "per --help":
            continue
        ratio = full[name] / base[name]
        review = name.startswith("audit review")
        results.append(
            {
                "name": f"{name}, {fp:,} + {fe:,} events ({label}; per --help {full['per --help'] * 1000:.0f} ms)",
                "value": full[name] * 1000,
                "unit": "ms",
                "baseline": f"same at {bp:,} + {be:,} (per --help {base['per --help'] * 1000:.0f} ms)",
                "baseline_value": base[name] * 1000,
                "ratio": ratio,
                "target": f"≤ {REVIEW_LIMIT_S:g} s" if review else f"≤ {LOOKUP_LIMIT}×",
                "ok": full[name] <= REVIEW_LIMIT_S if review else ratio <= LOOKUP_LIMIT,
            }
        )
    results += [
        {
            "name": f"audit write rate, {pattern}, at {fe:,} events ({label}; {load})",
            "value": full_rates[pattern],
            "unit": "events/s",
            "baseline": f"same at {be:,} events (median of 3, turn about)",
            "baseline_value": base_rates[pattern],
            "ratio": full_rates[pattern] / base_rates[pattern],
            "target": "≥ 0.8×",
            "ok": full_rates[pattern] / base_rates[pattern] >= 0.8,
        }
        for pattern in PATTERNS
    ]
    return results


# --- bulk enrolment beside a raw load of the same rows; the process tree's peak memory ---


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (Linux ``/proc``)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def enrol_measured(env: dict[str, str], path: Path) -> tuple[float, int]:
    """``per patient enrol --file``: seconds, and the peak resident memory of its process tree (sampled)."""
    import threading

    started = time.perf_counter()
    proc = subprocess.Popen(
        [PER, "patient", "enrol", "--file", str(path), "--format", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0

    def sample() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = proc.wait()
    took = time.perf_counter() - started
    sampler.join()
    if code != 0:
        raise RuntimeError(f"per patient enrol exited {code}")
    return took, peak


def _stored_rows(path: Path, url: str) -> list[tuple[Any, ...]]:
    """The file's patients as per stores them (validated by per, search columns, unit ids), for the raw load."""
    from per_cli.db.engine import make_engine
    from per_cli.patients.enrolment.rows import EnrolRow, validate_rows
    from per_cli.patients.search import search_columns
    from per_cli.spreadsheet.headers import map_headers
    from per_cli.spreadsheet.sources import open_table

    engine = make_engine(url)
    with engine.connect() as conn:
        units: dict[str, int] = {str(c): int(i) for c, i in conn.exec_driver_sql("SELECT code, id FROM care_unit")}
    engine.dispose()
    now = datetime.now().astimezone()
    out: list[tuple[Any, ...]] = []
    with open_table(str(path)) as table:
        mapping = map_headers(table.columns, ignore_unknown=False)
        for row in validate_rows(list(table.rows()), mapping, len(table.columns), None, date.today()):
            assert isinstance(row, EnrolRow)
            extra = search_columns(
                personnummer=row.personnummer,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                mobile=row.mobile,
            )
            names = (row.personnummer, row.first_name, row.last_name, units[row.unit], row.mobile, row.mobile_type)
            rest = (row.email, "patient", row.pal, row.comment, date.fromisoformat(row.registered_on), now, now)
            out.append((*names, *rest, extra["search_text"], extra["sort_key"]))
    return out


_RAW_COLUMNS = (
    "personnummer, first_name, last_name, unit_id, mobile, mobile_type, email, contact_person, pal, comment, "
    "registered_on, created_at, updated_at, search_text, sort_key"
)


def raw_load(url: str, rows: list[tuple[Any, ...]]) -> float:
    """Seconds to load ``rows`` into per's patient table (its indexes and triggers) in one transaction: binary
    ``COPY`` on PostgreSQL, one ``executemany`` on SQLite. The floor any enrolment has to pay."""
    from per_cli.db.engine import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if engine.dialect.name == "sqlite":
            stored = [
                (*r[:10], r[10].isoformat(), *(t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in r[11:13]), *r[13:])
                for r in rows
            ]
            started = time.perf_counter()
            driver.execute("BEGIN")
            marks = ", ".join("?" * 15)
            driver.executemany(f"INSERT INTO patient ({_RAW_COLUMNS}) VALUES ({marks})", stored)
            driver.commit()
        else:
            started = time.perf_counter()
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY patient ({_RAW_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(
                    ["text"] * 3 + ["int4"] + ["text"] * 6 + ["date", "timestamptz", "timestamptz", "text", "text"]
                )
                for row in rows:
                    copy.write_row(row)
            driver.commit()
        return time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()


def _fresh(url: str, folder: Path) -> dict[str, str]:
    """A new database at ``url``, upgraded by ``per db upgrade``, with the bench's care units."""
    env = {**os.environ, "PER_DATABASE_URL": url, "PER_ACTOR": "bench", "PER_CONFIG": str(folder / "none.toml")}
    (folder / "none.toml").write_text("")
    _per(env, "db", "upgrade")
    from per_cli.db.engine import make_engine, session_scope
    from per_cli.patients.units import create_unit

    engine = make_engine(url)  # the units in-process, one transaction: 20 start-ups of per cost a minute here
    try:
        with session_scope(engine) as session:
            for code in UNITS:
                create_unit(session, code, f"Enhet {code}")
    finally:
        engine.dispose()
    return env


def enrolment(label: str, urls: Iterator[str], folder: Path, patients: int, log: Any) -> list[dict[str, Any]]:
    """Bulk enrolment of ``patients`` rows beside a raw load of the same rows, each into a fresh database; the
    process tree's peak memory at a tenth of the rows and at all of them."""
    small = max(1, patients // 10)
    rng, used = random.Random(4), set[int]()
    write_patients(folder / "small.csv", rng, used, small)
    write_patients(folder / "full.csv", rng, used, patients)
    _, small_peak = enrol_measured(_fresh(next(urls), folder), folder / "small.csv")
    url = next(urls)
    took, peak = enrol_measured(_fresh(url, folder), folder / "full.csv")
    raw_url = next(urls)
    _fresh(raw_url, folder)
    raw = raw_load(raw_url, _stored_rows(folder / "full.csv", raw_url))
    rate, raw_rate = patients / took, patients / raw
    target = 0.25 if label == "SQLite" else 0.3
    log(f"  {label}: enrol {patients:,} rows {rate:,.0f} rows/s, raw {raw_rate:,.0f} rows/s; {_load()}")
    log(f"  {label}: peak RSS {small_peak / 1e6:.0f} MB at {small:,} rows, {peak / 1e6:.0f} MB at {patients:,}")
    return [
        {
            "name": f"per patient enrol --file, {patients:,} rows ({label}; {_load()})",
            "value": rate,
            "unit": "rows/s",
            "baseline": "raw load of the same rows: " + ("executemany" if label == "SQLite" else "binary COPY"),
            "baseline_value": raw_rate,
            "ratio": rate / raw_rate,
            "target": f"≥ {target}×",
            "ok": rate / raw_rate >= target,
        },
        {
            "name": f"peak RSS of the enrolment's process tree, {patients:,} rows ({label})",
            "value": peak / 1e6,
            "unit": "MB",
            "baseline": f"same at {small:,} rows",
            "baseline_value": small_peak / 1e6,
            "ratio": peak / small_peak,
            "target": "≤ 250 MB, growth ≤ 20 MB",
            "ok": peak <= 250e6 and peak - small_peak <= 20e6,
        },
    ]


@contextmanager
def postgres_url(url: str) -> Iterator[str]:
    """A schema of its own on the server, dropped afterwards."""
    import sqlalchemy

    name = f"bench_scale_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def scale(patients: int, events: int, *, postgres: str | None, log: Any) -> list[dict[str, Any]]:
    if events < patients:
        raise SystemExit("bench/scale: --events must be at least --patients (each enrolment is an event)")
    with tempfile.TemporaryDirectory(prefix="per-scale-") as tmp:
        folder = Path(tmp)
        refusal = check_room(patients, events, folder, 2 if postgres else 1)
        if refusal:
            raise SystemExit(f"bench/scale: {refusal}")
        sqlite = (f"sqlite:///{folder / 'base.db'}", f"sqlite:///{folder / 'full.db'}")
        results = run_backend("SQLite", sqlite, folder, patients, events, log)
        for used in folder.glob("*.db*"):
            used.unlink()
        results += enrolment("SQLite", _sqlite_urls(folder), folder, patients, log)
        if postgres:
            with postgres_url(postgres) as base, postgres_url(postgres) as full:
                results += run_backend("PostgreSQL", (base, full), folder, patients, events, log)
            with postgres_url(postgres) as a, postgres_url(postgres) as b, postgres_url(postgres) as c:
                results += enrolment("PostgreSQL", iter((a, b, c)), folder, patients, log)
    return results


def _sqlite_urls(folder: Path) -> Iterator[str]:
    for i in range(3):
        path = folder / f"enrol{i}.db"
        for old in folder.glob(f"enrol{i - 1}.db*"):
            old.unlink()  # the previous one is done with: keep the disk used to one database at a time
        yield f"sqlite:///{path}"


def run(quick: bool) -> list[dict[str, Any]]:
    """``make bench``: the default sizes (``--quick``: a tenth)."""
    patients, events = (30_000, 150_000) if quick else (200_000, 1_000_000)
    return scale(patients, events, postgres=os.environ.get("PER_TEST_POSTGRES_URL"), log=_stderr)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200_000, help="patients at full size (default 200 000)")
    parser.add_argument("--events", type=int, default=1_000_000, help="audit events at full size (default 1 000 000)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even with PER_TEST_POSTGRES_URL")
    args = parser.parse_args()
    postgres = None if args.no_postgres else os.environ.get("PER_TEST_POSTGRES_URL")
    _stderr(f"bench/scale: {args.patients:,} patients, {args.events:,} events; {_load()}")
    results = scale(args.patients, args.events, postgres=postgres, log=_stderr)
    from tabulate import tabulate

    rows = [
        [r["name"], f"{r['value']:,.4g} {r['unit']}", r["baseline"], f"{r['baseline_value']:,.4g}", f"{r['ratio']:.2f}"]
        for r in results
    ]
    for row, r in zip(rows, results, strict=True):
        row += [r["target"], "yes" if r["ok"] else "NO"]
    print(
        tabulate(rows, headers=["figure", "value", "baseline (same run)", "baseline value", "ratio", "target", "met"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
