"""Bulk inserts handed straight to the driver's ``executemany``.

On the bulk paths (enrolment chunks, their audit events) SQLAlchemy's per-row parameter processing costs more
than the database's own work. Values are converted here to exactly what SQLAlchemy would store, so every
other reader (the ORM, ``audit verify``) sees the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table

#: SQLAlchemy's SQLite storage formats for DATETIME (always with microseconds) and DATE
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_converter(sample: Any) -> Callable[[Any], Any] | None:
    """How a column's values are stored, decided from one row (bulk rows are uniform per column)."""
    if isinstance(sample, datetime):
        return _sqlite_datetime
    if isinstance(sample, date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(sample, bool):
        return lambda v: None if v is None else int(v)
    return None


@lru_cache(maxsize=64)  # bulk rows share a handful of timestamps (one "now" per chunk)
def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).strftime(_SQLITE_DATETIME)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *, suffix: str = ""
) -> None:
    """``INSERT INTO table (columns) VALUES (…) suffix`` for every row (tuples in ``columns`` order)."""
    if not rows:
        return
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) {suffix}"
    params: Sequence[tuple[Any, ...]] = rows
    if sqlite:
        converters = [(i, conv) for i in range(len(columns)) if (conv := _sqlite_converter(rows[0][i])) is not None]
        if converters:
            params = [_converted(p, converters) for p in rows]
    conn.exec_driver_sql(sql.rstrip(), list(params))


def stored(conn: Connection, value: Any) -> Any:
    """``value`` as ``insert_rows`` hands it to the driver: a SQLite date or datetime in SQLAlchemy's text form,
    anything else unchanged. Bulk paths convert a chunk's shared timestamp once instead of once per row."""
    if conn.dialect.name != "sqlite":
        return value
    convert = _sqlite_converter(value)
    return value if convert is None else convert(value)


def _converted(values: tuple[Any, ...], converters: list[tuple[int, Callable[[Any], Any]]]) -> tuple[Any, ...]:
    out = list(values)
    for i, conv in converters:
        out[i] = conv(out[i])
    return tuple(out)


def where_in(conn: Connection, column: str, values: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    """``column IN (…)`` for many values as one bound parameter (SQLAlchemy's expanding IN compiles a parameter
    per value, which dominates a 2 000-row chunk): a JSON array on SQLite, an array on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        import json

        return f"{column} IN (SELECT value FROM json_each(?))", (json.dumps(list(values)),)
    return f"{column} = ANY(%s)", (list(values),)


def _pg_array_type(table: Table, column: str) -> str:
    from sqlalchemy import Boolean, Date, DateTime, Integer

    kind = table.c[column].type
    impl = getattr(kind, "impl", kind)
    if isinstance(impl, Integer):
        return "bigint[]"
    if isinstance(impl, DateTime):
        return "timestamptz[]"
    if isinstance(impl, Date):
        return "date[]"
    if isinstance(impl, Boolean):
        return "boolean[]"
    return "text[]"


def insert_unnest_returning(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    conflict: str,
    returning: Sequence[str],
) -> list[Any]:
    """PostgreSQL: insert many rows in one statement with one array parameter per column, skipping conflicts on
    ``conflict`` and returning ``returning`` of the rows actually inserted (in input order)."""
    arrays = [list(values) for values in zip(*rows, strict=True)]
    select = ", ".join(f"%s::{_pg_array_type(table, c)}" for c in columns)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({select}) "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {', '.join(returning)}"
    )
    return list(conn.exec_driver_sql(sql, tuple(arrays)))


#: the escape character of every LIKE pattern per builds (``column.like(pattern, escape=LIKE_ESCAPE)``)
LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern: ``%``, ``_`` and the escape character escaped."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


_COPY_KEY = "per_copy_allowed"


def copy_allowed(conn: Connection, table: Table) -> bool:
    """PostgreSQL: may this login ``COPY … FROM`` into ``table``? Not when row-level security applies to it (a
    staff login of registry or support): PostgreSQL refuses ``COPY FROM`` there, and the INSERT path, which the
    policies check row by row, is the one to use. Asked once per table and connection."""
    if conn.dialect.name != "postgresql":
        return False
    cached: dict[str, bool] = conn.connection.info.setdefault(_COPY_KEY, {})
    if table.name not in cached:
        active = conn.exec_driver_sql("SELECT row_security_active(%s)", (table.name,)).scalar()
        cached[table.name] = not active
    return cached[table.name]


_STAGE_KEY = "per_may_stage"


def staging_allowed(conn: Connection) -> bool:
    """PostgreSQL: may this login make temporary tables (``TEMPORARY`` on the database, PUBLIC's by default)?
    Then :func:`copy_staged` serves a login that row-level security keeps from ``COPY FROM``. Asked once per
    connection."""
    if conn.dialect.name != "postgresql":
        return False
    info = conn.connection.info
    if _STAGE_KEY not in info:
        info[_STAGE_KEY] = bool(
            conn.exec_driver_sql("SELECT has_database_privilege(current_database(), 'TEMPORARY')").scalar()
        )
    return bool(info[_STAGE_KEY])


def copy_staged(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, suffix: str = ""
) -> list[Any]:
    """PostgreSQL, for a login row-level security keeps from ``COPY FROM`` (:func:`staging_allowed` first): the
    rows by binary ``COPY`` into a temporary table of this session, then one ``INSERT … SELECT`` in their order
    (``suffix``: ``ON CONFLICT …``, ``RETURNING …``), which the policies, triggers and constraints check as any
    INSERT. Several times the rate of a many-row INSERT; returns what ``RETURNING`` gave."""
    stage = f"pg_temp.per_stage_{table.name}"
    names = ", ".join(columns)
    typed = ", ".join(f"{c} {_pg_copy_type(table, c)}" for c in columns)
    # every time: a transaction that made it and was rolled back took it away (one catalog look-up otherwise)
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS per_stage_{table.name} (per_order int8, {typed})")
    copy_rows(conn, table, ("per_order", *columns), ((n, *row) for n, row in enumerate(rows)), into=stage)
    result = conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} ORDER BY per_order {suffix}".rstrip()
    )
    inserted = list(result) if result.returns_rows else []
    conn.exec_driver_sql(f"TRUNCATE {stage}")  # a failed INSERT leaves nothing either: its transaction is undone
    return inserted


def _pg_copy_type(table: Table, column: str) -> str:
    from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer

    kind = table.c[column].type
    impl = getattr(kind, "impl", kind)
    if isinstance(impl, BigInteger):
        return "int8"
    if isinstance(impl, Integer):
        return "int4"
    if isinstance(impl, DateTime):
        return "timestamptz"
    if isinstance(impl, Date):
        return "date"
    if isinstance(impl, Boolean):
        return "bool"
    return "text"  # varchar and text have the same binary form


def copy_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, into: str | None = None
) -> None:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` in binary, in the connection's transaction: the bulk load
    path, with the table's triggers and constraints as for INSERT (a unique violation fails the whole COPY).
    Values must be of the columns' types (dates as ``date``, not text). ``into``: another table with the same
    columns (a staging table), ``per_order`` an ``int8``."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    driver = conn.connection.driver_connection
    assert driver is not None
    types = ["int8" if c == "per_order" else _pg_copy_type(table, c) for c in columns]
    sql = f"COPY {into or table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:  # as SQLAlchemy would have raised it: IntegrityError, DataError, …
        raise DBAPIError.instance(sql, None, error, psycopg.Error, hide_parameters=True) from error
