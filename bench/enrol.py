"""Bulk enrolment speed: ``per patient enrol --file`` beside the same validations + a raw SQLite executemany.

The baseline reads the same file with the same reader, validates every row exactly as ``per`` does, and
inserts the rows with one ``sqlite3`` ``executemany`` in one transaction, in one process: the floor of what
any implementation has to do. ``per`` additionally checks the register, writes audit events, commits in
chunks that survive a kill, and may use every core. PostgreSQL is measured when ``PER_TEST_POSTGRES_URL`` is
set; peak memory over 1 000 000 rows is measured in the full run.

The SQLite pair runs three times, baseline and ``per`` alternating, and each side counts its best run: on these
shared machines one pass of either can lose a third of its speed to a neighbour, and alternating keeps a slow
minute from landing on one side only.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from tests.helpers.enrolment_rows import write_csv

PER = str(Path(sys.executable).parent / "per")
ROUNDS = 3


def _baseline(path: Path, db: Path) -> float:
    from per_cli.patients.fields import validate_patient
    from per_cli.spreadsheet.headers import map_headers, to_record
    from per_cli.spreadsheet.sources import open_table

    started = time.perf_counter()
    today = date.today()
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE patient (personnummer TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, unit TEXT,"
        " mobile TEXT, mobile_type TEXT, email TEXT, registered_on TEXT)"
    )
    rows = []
    with open_table(str(path)) as table:
        mapping = map_headers(table.columns, ignore_unknown=False)
        width = len(table.columns)
        for _line, values in table.rows():
            d = validate_patient(to_record(values, mapping, width), default_unit="BENCH", today=today)
            rows.append(
                (
                    d.personnummer.canonical,
                    d.first_name,
                    d.last_name,
                    d.unit,
                    d.mobile.e164 if d.mobile else None,
                    d.mobile.number_type if d.mobile else None,
                    d.email,
                    d.registered_on.isoformat(),
                )
            )
    conn.executemany("INSERT INTO patient VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def _per(path: Path, url: str, env: dict[str, str]) -> float:
    env = {**env, "PER_DATABASE_URL": url}
    subprocess.run([PER, "db", "upgrade"], env=env, check=True, capture_output=True)  # creates the file
    subprocess.run([PER, "unit", "add", "BENCH", "--name", "Bench"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run(
        [PER, "patient", "enrol", "--file", str(path), "--unit", "BENCH", "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _peak_rss_mb(path: Path, url: str, env: dict[str, str]) -> float:
    """Largest resident set of the enrolment (main process or a worker), from a fresh parent."""
    code = (
        "import resource, subprocess, sys\n"
        f"subprocess.run([{PER!r}, 'patient', 'enrol', '--file', {str(path)!r}, '--unit', 'BENCH'], check=True,"
        " capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    env = {**env, "PER_DATABASE_URL": url}
    subprocess.run([PER, "db", "upgrade"], env=env, check=True, capture_output=True)  # creates the file
    subprocess.run([PER, "unit", "add", "BENCH", "--name", "Bench"], env=env, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return int(out.strip()) / 1024


def run(quick: bool) -> list[dict[str, object]]:
    n = 20_000 if quick else 100_000
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        csv_path = write_csv(base / "patients.csv", n)
        env = {**os.environ, "PER_ACTOR": "bench", "PER_CONFIG": str(base / "none.toml")}
        Path(env["PER_CONFIG"]).write_text("")
        base_runs, per_runs = [], []
        for r in range(ROUNDS):
            base_runs.append(_baseline(csv_path, base / f"baseline{r}.db"))
            per_runs.append(_per(csv_path, f"sqlite:///{base / f'per{r}.db'}", env))
        base_rate, per_rate = n / min(base_runs), n / min(per_runs)
        results.append(
            {
                "name": f"enrol {n:,} rows, SQLite",
                "value": per_rate,
                "unit": "rows/s",
                "baseline": f"same validations + raw executemany (best of {ROUNDS}, alternating)",
                "baseline_value": base_rate,
                "ratio": per_rate / base_rate,
                "target": "≥ 10 000 rows/s and ≥ 0.6×",
                "ok": per_rate >= 10_000 and per_rate / base_rate >= 0.6,
            }
        )
        pg = os.environ.get("PER_TEST_POSTGRES_URL")
        if pg:
            import sqlalchemy

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            engine = sqlalchemy.create_engine(
                pg.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
            )
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            try:
                sep = "&" if "?" in pg else "?"
                pg_s = _per(csv_path, f"{pg}{sep}options=-csearch_path%3D{schema}", env)
            finally:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                engine.dispose()
            pg_rate = n / pg_s
            results.append(
                {
                    "name": f"enrol {n:,} rows, PostgreSQL",
                    "value": pg_rate,
                    "unit": "rows/s",
                    "baseline": "same validations + raw executemany (SQLite)",
                    "baseline_value": base_rate,
                    "ratio": pg_rate / base_rate,
                    "target": "≥ 5 000 rows/s",
                    "ok": pg_rate >= 5_000,
                }
            )
        big = 200_000 if quick else 1_000_000
        big_path = write_csv(base / "big.csv", big, seed=2)
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss = _peak_rss_mb(big_path, f"sqlite:///{base / 'big.db'}", env)
        results.append(
            {
                "name": f"peak RSS, enrol {big:,} rows",
                "value": rss,
                "unit": "MB",
                "baseline": "this benchmark process",
                "baseline_value": self_rss,
                "ratio": rss / self_rss,
                "target": "≤ 250 MB",
                "ok": rss <= 250,
            }
        )
    return results
