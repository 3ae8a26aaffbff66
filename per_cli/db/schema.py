"""Schema state: create on first use, refuse an outdated one, upgrade on request (README, "The database").

The check that runs before every command reads ``alembic_version`` directly and compares it with ``HEAD``, so
ordinary commands never import Alembic; a test keeps ``HEAD`` equal to the migrations' real head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from per_cli.errors import PerError, SchemaOutdated

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration this program ships (tests/db/test_schema.py keeps it honest).
HEAD = "i17c"


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _is_empty(conn: Connection) -> bool:
    return not [t for t in inspect(conn).get_table_names() if t != "alembic_version"]


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def ensure_current(engine: Engine, *, role_prefix: str = "per_") -> None:
    with engine.connect() as conn:
        revision = current_revision(conn)
        empty = revision is None and _is_empty(conn)
        conn.rollback()
    if revision == HEAD:
        return
    if empty:
        upgrade(engine, role_prefix=role_prefix)
        return
    if revision is None:
        raise PerError("the database has tables but no per schema version; is it a per database?", field="database")
    if revision in _known_revisions():
        raise SchemaOutdated(
            f"schema is at revision {revision}, this per needs {HEAD}: run `per db upgrade`", field="database"
        )
    raise _newer(revision)


def _newer(revision: str) -> PerError:
    return PerError(f"schema revision {revision} is newer than this per knows; upgrade per", field="database")


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "per_cli:migrations")
    return cfg


def upgrade(
    engine: Engine,
    revision: str = "head",
    *,
    role_prefix: str = "per_",
    warn: Callable[[str], None] | None = None,
) -> tuple[str | None, str | None]:
    """Migrate to ``revision`` under a lock so that two first uses at once do not both create tables.

    On PostgreSQL, a schema at ``HEAD`` then gets the staff roles' grants and row-level security afresh
    (``per_cli.db.roles``), in the same transaction, and the trigram search index if it is still missing
    (``per_cli.db.trigram``: ``warn`` hears what the DBA should do when ``pg_trgm`` cannot be created).
    """
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
        before = current_revision(conn)
        if before is not None and before not in _known_revisions():
            raise _newer(before)
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = current_revision(conn)
        if conn.dialect.name == "postgresql" and after == HEAD:
            from per_cli.db.roles import apply
            from per_cli.db.trigram import ensure_search_index

            apply(conn, role_prefix)
            if (missing := ensure_search_index(conn)) and warn is not None:
                warn(missing)
    return before, after
