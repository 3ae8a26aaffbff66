"""Staff logins in tests: real PostgreSQL login roles with names unique to the test, dropped afterwards.

``staff`` needs the PostgreSQL ``db_url`` (a schema of its own, owned by the suite's superuser): a module that
uses it overrides ``backend`` with ``pg_only``. Roles are cluster-wide, so each test's names start with a prefix
of its own and every role with that prefix is dropped at teardown, whoever created it (``per staff add`` too).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

PG_ENV = "PER_TEST_POSTGRES_URL"
_GROUPS = ("_admin", "_registry", "_support", "_auditor", "_service")


def pg_only() -> str:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"staff logins need PostgreSQL: {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return "postgresql"


@dataclass
class Staff:
    """The test's staff logins: names, URLs for `per`, and direct psycopg connections as each login."""

    owner_url: str
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}_")
    _connections: list[Any] = field(default_factory=list)

    def name(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def url(self, login: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.owner_url).set(username=login).render_as_string(hide_password=False)

    def connect(self, login: str) -> Any:
        """A psycopg connection as ``login`` (autocommit), the way a person with psql would connect."""
        import psycopg

        conninfo = self.url(login).replace("postgresql+psycopg://", "postgresql://", 1)
        conn = psycopg.connect(conninfo, autocommit=True)
        self._connections.append(conn)
        return conn

    def owner(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run SQL as the schema owner (the suite's superuser); returns the rows, if any."""
        conn = self.connect(self.url_user(self.owner_url))
        with conn.cursor() as cur:
            cur.execute(statement, params or None)
            return list(cur.fetchall()) if cur.description else []

    @staticmethod
    def url_user(url: str) -> str:
        from sqlalchemy.engine import make_url

        return str(make_url(url).username)

    def drop_all(self) -> None:
        import psycopg

        for conn in self._connections:
            conn.close()
        base = self.owner_url.replace("postgresql+psycopg://", "postgresql://", 1).split("?")[0]
        with psycopg.connect(base, autocommit=True) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT rolname FROM pg_roles WHERE left(rolname, %s) = %s", (len(self.prefix), self.prefix)
                )
            ]
            for name in sorted(names, key=lambda n: n.endswith(_GROUPS)):  # members first, then groups
                conn.execute(f'DROP OWNED BY "{name}"')
                conn.execute(f'DROP ROLE "{name}"')


@pytest.fixture
def staff(db_url: str) -> Iterator[Staff]:
    crew = Staff(db_url)
    try:
        yield crew
    finally:
        crew.drop_all()
