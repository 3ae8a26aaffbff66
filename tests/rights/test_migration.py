"""Schema revision i18a (the tombstones) upgrades and downgrades on both backends, keeping the data around it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from per_cli.db import schema
from per_cli.db.engine import make_engine

pytestmark = pytest.mark.empty_db


def _tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_i18a_adds_and_removes_the_tombstones(db_url: str) -> None:
    from alembic import command

    engine = make_engine(db_url)
    schema.upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO care_unit (code, name, created_at) VALUES ('X', 'X', CURRENT_TIMESTAMP)"))
    assert "patient_erasure" not in _tables(engine)
    schema.upgrade(engine)
    assert "patient_erasure" in _tables(engine)
    with engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("patient_erasure")}
        assert schema.current_revision(conn) == schema.HEAD
    assert indexes == {
        "ix_patient_erasure_personnummer": ["personnummer"],
        "ix_patient_erasure_erased_at": ["erased_at"],
    }
    with engine.begin() as conn:
        cfg = schema._alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert "patient_erasure" not in _tables(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT code FROM care_unit")).scalars().all() == ["X"]
    schema.upgrade(engine)
    assert "patient_erasure" in _tables(engine)
    engine.dispose()
