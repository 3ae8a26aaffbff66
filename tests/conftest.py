"""Shared fixtures: a real database per test on SQLite and (when configured) PostgreSQL, and ways to run `per`.

``db_url`` is parametrised over both backends, so every test that uses it runs twice; the PostgreSQL run
uses a fresh schema on the server named by ``PER_TEST_POSTGRES_URL`` and skips, with that reason, without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Generator, Iterator
from datetime import date
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


@pytest.fixture
def today() -> str:
    """The local date the test starts on, as `per` writes it: asked per test, not once at import, since a suite that
    starts before midnight ends after it."""
    return date.today().isoformat()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test that expected ``today`` and failed while the date changed under it is skipped, saying so: its dates
    cannot agree, which says nothing about `per`."""
    report = yield
    started = getattr(item, "funcargs", {}).get("today")
    if call.when == "call" and report.failed and started and started != date.today().isoformat():
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            (item.location[1] or 0) + 1,
            f"Skipped: the test crossed midnight ({started})",
        )
    return report


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return str(request.param)


class _Dropper:
    """Drops each test's PostgreSQL database in the background, several at once.

    ``DROP DATABASE`` waits for a forced checkpoint (PostgreSQL 15), 1.5–2.7 s on these machines: waited for in
    each test's teardown it was a third of the suite's time. Dropped by a few threads at once, the checkpoints
    they ask for coalesce, and the next test starts meanwhile. :meth:`close` waits for every drop."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(4, thread_name_prefix="drop-db")
        self._futures: list[object] = []

    def drop(self, database: str) -> None:
        self._futures.append(self._pool.submit(self._drop, database))

    @staticmethod
    def _drop(database: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(_pg_base()).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def close(self) -> None:
        from concurrent.futures import Future

        self._pool.shutdown(wait=True)
        for future in self._futures:
            assert isinstance(future, Future)
            future.result()  # a drop that failed fails the session's teardown, not silently


@pytest.fixture(scope="session")
def _dropper() -> Iterator[_Dropper]:
    dropper = _Dropper()
    try:
        yield dropper
    finally:
        dropper.close()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory, _dropper: _Dropper) -> Iterator[dict[str, str]]:
    """Databases migrated once per test session (per worker) by the real `per db upgrade`, copied for each test.

    A migration costs ~0.1 s on SQLite and ~0.7 s on PostgreSQL; copying a file or cloning a template database
    (``CREATE DATABASE … TEMPLATE``) costs a fraction of that. Tests of the first use and of migrations themselves
    ask for an empty database with ``@pytest.mark.empty_db``.
    """
    made: dict[str, str] = {}
    work = tmp_path_factory.mktemp("templates")
    sqlite_path = work / "per.db"
    sqlite_path.touch(mode=0o600)
    _upgrade(f"sqlite:///{sqlite_path}", work)
    made["sqlite"] = str(sqlite_path)
    admin = None
    if os.environ.get(PG_ENV):
        import sqlalchemy

        admin = sqlalchemy.create_engine(_pg_base(), isolation_level="AUTOCOMMIT")
        name = f"per_tmpl_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            made["postgresql"] = name
        template_url = _pg_database_url(name)
        import psycopg

        with psycopg.connect(template_url.split("?")[0].replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{_PG_SCHEMA}"')
        _upgrade(template_url, work)
    try:
        yield made
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)')
            admin.dispose()


#: the schema the PostgreSQL tests' tables live in, in a database of each test's own
_PG_SCHEMA = "per_test"


def _pg_database_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    base = make_url(_pg_base()).set(database=database, query={}).render_as_string(hide_password=False)
    return f"{base}?options=-csearch_path%3D{_PG_SCHEMA}"


def _upgrade(url: str, work: Path) -> None:
    config = work / "per.toml"
    config.touch()
    env = {**os.environ, "PER_DATABASE_URL": url, "PER_CONFIG": str(config), "HOME": str(work)}
    done = subprocess.run([PER, "db", "upgrade"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def db_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, _templates: dict[str, str], _dropper: _Dropper
) -> Iterator[str]:
    empty = request.node.get_closest_marker("empty_db") is not None
    if backend == "sqlite":
        # an empty file, as `per db upgrade` or an administrator leaves it: a path that does not exist is refused
        # (tests/cli/test_status.py); or a copy of the migrated template
        path = tmp_path / "per.db"
        path.touch(mode=0o600)
        if not empty:
            shutil.copyfile(_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    import sqlalchemy

    database = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(_pg_base(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if empty:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        else:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}" TEMPLATE "{_templates["postgresql"]}"')
    url = _pg_database_url(database)
    if empty:
        import psycopg

        with psycopg.connect(url.split("?")[0].replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{_PG_SCHEMA}"')
    engine.dispose()
    try:
        yield url
    finally:
        _dropper.drop(database)


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
