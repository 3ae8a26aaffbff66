"""Row-level security's price: bulk enrolment on PostgreSQL as a ``registry`` staff login beside the schema owner.

The owner bypasses row-level security; the registry login's every statement passes its care-unit policies (a
STABLE SECURITY DEFINER function evaluated once per statement) and its GRANTs. Both enrol the same file into a
fresh schema of their own, alternating, best of ``ROUNDS`` each (these machines are shared and noisy).
Target: the registry login keeps ≥ 0.8 of the owner's rate. Needs ``PER_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.helpers.enrolment_rows import write_csv

PER = str(Path(sys.executable).parent / "per")
ROUNDS = 3


def _per(env: dict[str, str], url: str, *args: str) -> None:
    subprocess.run([PER, "--database", url, *args], env=env, check=True, capture_output=True)


def _enrol(env: dict[str, str], url: str, path: Path) -> float:
    started = time.perf_counter()
    _per(env, url, "patient", "enrol", "--file", str(path), "--unit", "BENCH", "--format", "json")
    return time.perf_counter() - started


def run(quick: bool) -> list[dict[str, object]]:
    pg = os.environ.get("PER_TEST_POSTGRES_URL")
    if not pg:
        print("  staff: skipped (PostgreSQL only: set PER_TEST_POSTGRES_URL)", file=sys.stderr)
        return []
    import sqlalchemy
    from sqlalchemy.engine import make_url

    n = 20_000 if quick else 100_000
    base_url = make_url(pg.replace("postgresql://", "postgresql+psycopg://", 1))
    login = f"bench_registry_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(base_url, isolation_level="AUTOCOMMIT")
    schemas: list[str] = []

    def fresh(user: str | None = None) -> str:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        url: Any = base_url.update_query_dict({"options": f"-csearch_path={schema}"})
        if user is not None:
            url = url.set(username=user)
        return str(url.render_as_string(hide_password=False))

    owner_runs: list[float] = []
    registry_runs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(Path(tmp) / "patients.csv", n)
        env = {**os.environ, "PER_ACTOR": "bench", "PER_CONFIG": str(Path(tmp) / "none.toml")}
        Path(env["PER_CONFIG"]).write_text("")
        try:
            for r in range(ROUNDS):
                owner = fresh()
                _per(env, owner, "unit", "add", "BENCH", "--name", "Bench")
                owner_runs.append(_enrol(env, owner, path))

                as_owner = fresh()
                as_registry = as_owner.replace(f"//{base_url.username}@", f"//{login}@", 1)
                _per(env, as_owner, "unit", "add", "BENCH", "--name", "Bench")
                _per(env, as_owner, "unit", "add", "OTHER", "--name", "Another unit")
                if r == 0:
                    _per(env, as_owner, "staff", "add", login, "--role", "registry", "--unit", "BENCH")
                else:
                    _per(env, as_owner, "staff", "grant", login, "--unit", "BENCH")
                registry_runs.append(_enrol(env, as_registry, path))
        finally:
            with admin.connect() as conn:
                for schema in schemas:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                conn.exec_driver_sql(f"DROP ROLE IF EXISTS {login}")
            admin.dispose()
    owner_rate, registry_rate = n / min(owner_runs), n / min(registry_runs)
    return [
        {
            "name": f"enrol {n:,} rows, PostgreSQL, registry login (row-level security)",
            "value": registry_rate,
            "unit": "rows/s",
            "baseline": f"the schema owner, same file (best of {ROUNDS}, alternating)",
            "baseline_value": owner_rate,
            "ratio": registry_rate / owner_rate,
            "target": "≥ 0.8×",
            "ok": registry_rate / owner_rate >= 0.8,
        }
    ]
