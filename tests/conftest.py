"""Shared fixtures: a real database per test on SQLite and (when configured) PostgreSQL, and ways to run `per`.

``db_url`` is parametrised over both backends, so every test that uses it runs twice; the PostgreSQL run
uses a fresh schema on the server named by ``PER_TEST_POSTGRES_URL`` and skips, with that reason, without it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.helpers.per import PER, TOLVAN, Run, RunPer, enrol_args

#: the shared fixtures: the login and support-desk world, real local servers, the BankID stand-in, scale files
pytest_plugins = ("tests.helpers.world", "tests.helpers.servers", "tests.helpers.bankid", "tests.helpers.scales")

PG_ENV = "PER_TEST_POSTGRES_URL"


def _pg_base() -> str:
    url = os.environ.get(PG_ENV, "")
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        # an empty file, as `per db upgrade` or an administrator leaves it: a path that does not exist is refused
        # (tests/cli/test_status.py)
        (tmp_path / "per.db").touch(mode=0o600)
        yield f"sqlite:///{tmp_path / 'per.db'}"
        return
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = _pg_base()
    engine = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def actor(backend: str) -> str:
    """The actor the tests' `per` runs claim, and the one their events name: on PostgreSQL the database names the
    session's login role as the actor (a differing PER_ACTOR would be kept as claimed_actor), so it is that role."""
    if backend == "sqlite":
        return "tester"
    from sqlalchemy.engine import make_url

    return make_url(_pg_base()).username or "postgres"


@pytest.fixture
def env(db_url: str, tmp_path: Path, actor: str) -> dict[str, str]:
    """The environment every `per` run of a test gets: its own database, config, actor and outbox."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    config = tmp_path / "per.toml"
    if not config.exists():
        config.write_text("")
    return {
        "PER_DATABASE_URL": db_url,
        "PER_CONFIG": str(config),
        "PER_ACTOR": actor,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }


@pytest.fixture
def per(env: dict[str, str]) -> RunPer:
    """Run `per` in-process (fast); the real program, not a stand-in."""
    from per_cli.cli import cli

    def run(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Run:
        runner = CliRunner()
        result: Result = runner.invoke(
            cli, list(args), input=input, env={**env, **(extra_env or {})}, prog_name="per", catch_exceptions=False
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def per_proc(env: dict[str, str]) -> RunPer:
    """Run the installed `per` as a subprocess, the way a user or a CI pipeline does."""

    def run(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        full_env = {**os.environ, **env, **(extra_env or {})}
        proc = subprocess.run(
            [PER, *args], input=input, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def unit(per: RunPer) -> str:
    result = per("unit", "add", "NEURO-SU", "--name", "Neurologi, Sahlgrenska")
    assert result.exit_code == 0, result.stderr
    return "NEURO-SU"


@pytest.fixture
def tolvan(per: RunPer, unit: str) -> str:
    result = per(*enrol_args(TOLVAN, "--mobile", "070-174 06 05", "--email", "tolvan.tolvansson@tolv.se"))
    assert result.exit_code == 0, result.stderr
    return TOLVAN
