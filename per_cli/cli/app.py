"""The application object every command finds in ``ctx.obj`` (hatch style).

It holds what the root options decided (config, database URL, actor, verbosity) and opens the database only
when a command first asks for it, so ``--help`` and TAB completion never pay for SQLAlchemy.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from per_cli.config import Config, default_database_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger("per")


@dataclass
class App:
    config: Config
    actor: str
    database_url: str | None = None
    verbosity: int = 0
    _schema_checked: bool = field(default=False, repr=False)

    @property
    def resolved_database_url(self) -> str:
        """Option or ``PER_DATABASE_URL`` (resolved by click), else ``[database] url``, else the default."""
        return self.database_url or self.config.get_str("database", "url") or default_database_url()

    @cached_property
    def engine(self) -> Engine:
        from per_cli.db.engine import make_engine

        busy = self.config.get_int("database", "busy_timeout_ms", 15000, lo=0, hi=600_000)
        engine = make_engine(self.resolved_database_url, busy_timeout_ms=busy)
        log.debug("database: %s", engine.url.render_as_string(hide_password=True))
        return engine

    def ensure_schema(self) -> None:
        """Create the schema on an empty database; stop on an outdated one (README, "The database")."""
        if not self._schema_checked:
            from per_cli.db.schema import ensure_current

            ensure_current(self.engine)
            self._schema_checked = True

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, maps driver faults to one line."""
        from sqlalchemy.orm import Session

        from per_cli.db.faults import translate_db_errors

        with translate_db_errors():
            self.ensure_schema()
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session

    def close(self) -> None:
        """Release pooled connections when the command ends (the root group registers this)."""
        if "engine" in self.__dict__:
            self.engine.dispose()

    def warn(self, message: str) -> None:
        """A warning for the person at the terminal (stderr), silenced by ``-q``."""
        if self.verbosity >= 0:
            print(f"Warning: {message}", file=sys.stderr)

    def note(self, message: str) -> None:
        """Progress or a confirmation detail on stderr, silenced by ``-q``."""
        if self.verbosity >= 0:
            print(message, file=sys.stderr)
