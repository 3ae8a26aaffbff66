"""Fixtures for the access-log tests: an engine on the test's database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from per_cli.db import schema
from per_cli.db.engine import make_engine
from tests.helpers.staff import staff  # noqa: F401 (staff logins for tests/audit/test_guards.py)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The same database the `per` fixtures use, at the current schema (copied from the migrated template)."""
    eng = make_engine(db_url)
    schema.ensure_current(eng)
    yield eng
    eng.dispose()
