"""PostgreSQL's trigram index on ``patient.search_text``: ``LIKE '%term%'`` found through an index, not a scan.

``pg_trgm`` is an extension, created in schema ``public`` (a database-wide object: never in a schema that may be
dropped with the index of another schema depending on it). Creating it needs the right to (the database's owner,
or a superuser); where that is refused, ``per db upgrade`` says what the DBA should run, and search still works
(unindexed). Each ``per db upgrade`` tries again, so the index follows once the extension is there.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

INDEX = "ix_patient_search_trgm"
MISSING = (
    "patient search is not indexed: the database has no pg_trgm extension and this login may not create it; "
    "ask the DBA to run `CREATE EXTENSION pg_trgm;` in this database, then run `per db upgrade` again"
)


def _extension_schema(conn: Connection) -> str | None:
    found = conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    ).scalar()
    return None if found is None else str(found)


def _has_index(conn: Connection) -> bool:
    return bool(
        conn.exec_driver_sql("SELECT to_regclass(current_schema() || '.' || %s) IS NOT NULL", (INDEX,)).scalar()
    )


def ensure_search_index(conn: Connection) -> str | None:
    """Create the trigram index if it is missing; returns the line for the DBA when ``pg_trgm`` is unavailable.

    The extension is created inside a savepoint, so a refusal leaves the caller's transaction (the migration's)
    intact.
    """
    if conn.dialect.name != "postgresql" or _has_index(conn):
        return None
    schema = _extension_schema(conn)
    if schema is None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except DBAPIError:
            pass
        schema = _extension_schema(conn)
    if schema is None:
        return MISSING
    opclass = '"' + schema.replace('"', '""') + '".gin_trgm_ops'
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {INDEX} ON patient USING gin (search_text {opclass})")
    return None
