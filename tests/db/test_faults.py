"""Driver faults are one line without the statement's values: real errors from both backends."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import text

from per_cli.db.engine import make_engine
from per_cli.db.faults import translate_db_errors
from per_cli.errors import PerError

SECRET = "191212121212 Tolvan"


def _table(url: str) -> sqlalchemy.Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE hostile (id INTEGER PRIMARY KEY, name VARCHAR(10) NOT NULL UNIQUE)")
        conn.execute(text("INSERT INTO hostile (id, name) VALUES (1, :n)"), {"n": "taken"})
    return engine


def _refused(engine: sqlalchemy.Engine, sql: str, params: dict[str, object]) -> str:
    with pytest.raises(PerError) as err, translate_db_errors(), engine.begin() as conn:
        conn.execute(text(sql), params)
    message = str(err.value)
    assert "\n" not in message and SECRET not in message and "191212121212" not in message
    assert err.value.field == "database"
    return message


def test_refusals_name_the_kind_never_the_values(db_url: str) -> None:
    engine = _table(db_url)
    try:
        unique = _refused(
            engine, "INSERT INTO hostile (id, name) VALUES (2, substr(:s, 1, 0) || 'taken')", {"s": SECRET}
        )
        assert "written meanwhile" in unique
        missing = _refused(engine, "INSERT INTO hostile (id, name) VALUES (3, nullif(:s, :s))", {"s": SECRET})
        assert missing.startswith("database: the database refused the row")
        if engine.dialect.name == "postgresql":  # SQLite stores both
            nul = _refused(engine, "INSERT INTO hostile (id, name) VALUES (4, :n)", {"n": "a\x00" + SECRET})
            assert "NUL" in nul or "refused a value" in nul
            long = _refused(engine, "INSERT INTO hostile (id, name) VALUES (5, :n)", {"n": SECRET * 3})
            assert long.startswith("database: the database refused a value: a text is longer than its column")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE hostile")
        engine.dispose()


def test_hide_parameters_keeps_values_out_of_sqlalchemy_texts(db_url: str) -> None:
    engine = _table(db_url)
    try:
        with pytest.raises(sqlalchemy.exc.IntegrityError) as err, engine.begin() as conn:
            conn.execute(text("INSERT INTO hostile (id, name) VALUES (:i, :n)"), {"i": 1, "n": SECRET[:10]})
        assert SECRET[:10] not in str(err.value).split("DETAIL")[0]
        assert "hidden due to hide_parameters" in str(err.value)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE hostile")
        engine.dispose()


def test_a_lost_connection_is_one_line(backend: str, db_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no server to lose")
    engine = make_engine(db_url)
    killer = sqlalchemy.create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(PerError) as err, translate_db_errors(), engine.begin() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with killer.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            conn.exec_driver_sql("SELECT 1")
        assert str(err.value) == "database: the connection to the database was lost; nothing was changed, try again"
    finally:
        engine.dispose()
        killer.dispose()
