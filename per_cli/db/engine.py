"""Engine construction for the two supported databases.

SQLite: WAL so readers never block the writer, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` so
that two writers queue on the lock instead of failing later with a stale snapshot. PostgreSQL: psycopg 3.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from per_cli.errors import ConfigError, PerError

log = logging.getLogger("per")

#: execution option that makes SQLite's BEGIN deferred: a WAL read snapshot that never blocks writers
_READ_ONLY = "per_read_only"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as shorthands for the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, busy_timeout_ms: int = 15000, warn: Callable[[str], None] | None = None) -> Engine:
    """An engine for ``url``; ``warn`` receives the one warning about an existing SQLite file others can read."""
    try:
        parsed = make_url(normalise_url(url))
    except Exception:  # sqlalchemy.exc.ArgumentError and friends
        raise ConfigError(
            "not a database URL (sqlite:///FILE or postgresql+psycopg://…)", field="database_url"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_ms, warn or log.warning)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, future=True, hide_parameters=True)  # no patient data in errors or logs
        except ModuleNotFoundError:
            raise ConfigError(
                "PostgreSQL needs psycopg 3: pip install 'per-cli[postgresql]'", field="database_url"
            ) from None
    raise ConfigError(f"unsupported database '{backend}' (use sqlite or postgresql)", field="database_url")


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: commits on success, rolls back on any error.

    ``read_only`` reads one consistent snapshot without taking the writers' lock: a deferred ``BEGIN`` (a WAL
    read snapshot) on SQLite, ``REPEATABLE READ, READ ONLY`` on PostgreSQL.
    """
    bind = engine
    if read_only:
        if engine.dialect.name == "postgresql":
            bind = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:
            bind = engine.execution_options(**{_READ_ONLY: True})
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def _sqlite_engine(parsed: Any, busy_timeout_ms: int, warn: Callable[[str], None]) -> Engine:
    from per_cli.db import private

    database = parsed.database
    path: Path | None = None
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        folder = path.parent
        try:
            private.make_folder(folder)  # folders per creates are 0700
        except OSError as exc:
            raise PerError(
                f"cannot create the folder {folder} ({exc.strerror or exc}); name a file in a folder you can write to",
                field="database",
            ) from None
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000}, hide_parameters=True)
    if path is not None:
        _keep_private(engine, path, warn)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB: bulk runs insert into random-keyed indexes
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def _keep_private(engine: Engine, path: Path, warn: Callable[[str], None]) -> None:
    """A new database file is 0600 before SQLite opens it; an exposed existing one is named once (README)."""
    from per_cli.db import private

    before_connect = private.guard(path, warn)

    @event.listens_for(engine, "do_connect")
    def _create_privately(*_args: Any) -> None:
        with contextlib.suppress(OSError):  # SQLite's own open reports a path it cannot use, as it always did
            before_connect()

    @event.listens_for(engine, "connect")
    def _tighten(*_args: Any) -> None:
        private.tighten_companions(path)
