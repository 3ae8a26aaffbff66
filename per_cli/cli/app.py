"""The application object (hatch style): the root group builds one, every command receives it with
``@click.pass_obj`` as ``app: App``.

It holds what the root options decided (config, database URL, actor, verbosity), is the unit of work every use
case takes (``per_cli.unit_of_work.UnitOfWork``), and is the one way to the terminal's stderr: notes, warnings,
progress and the BankID display all go through it, so ``-q`` silences everything but errors in one place. The
database is opened only when a use case first asks for a transaction, so ``--help`` and TAB completion never pay
for SQLAlchemy.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from per_cli.cli.progress import Progress
from per_cli.config import Config, default_database_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from per_cli.cli.qr import QrDisplay

log = logging.getLogger("per")


@dataclass
class App:
    config: Config
    actor: str
    #: ``actor`` was named by ``--actor``/``PER_ACTOR`` (on PostgreSQL a differing claim is logged as such)
    actor_claimed: bool = False
    database_url: str | None = None
    verbosity: int = 0
    #: where the database URL and the config file came from: a flag, an environment variable, the file, default
    database_origin: str = "default"
    config_origin: str = "default"
    _schema_checked: bool = field(default=False, repr=False)
    _may_create: bool = field(default=False, repr=False)
    _progress: Progress | None = field(default=None, repr=False)

    # --- the database: the unit of work ---

    @property
    def resolved_database_url(self) -> str:
        """Option or ``PER_DATABASE_URL`` (resolved by click), else ``[database] url``, else the default."""
        return self.database_url or self.config.get_str("database", "url") or default_database_url()

    @cached_property
    def engine(self) -> Engine:
        """The database; a SQLite file that does not exist is made only by `per db upgrade` or at the default path."""
        from per_cli.db.engine import make_engine
        from per_cli.db.location import require_existing

        require_existing(
            self.resolved_database_url,
            default_url=default_database_url(),
            origin=self.database_origin,
            may_create=self._may_create,
        )
        busy = self.config.get_int("database", "busy_timeout_ms", 15000, lo=0, hi=600_000)
        engine = make_engine(self.resolved_database_url, busy_timeout_ms=busy, warn=self.warn)
        log.debug("database: %s", engine.url.render_as_string(hide_password=True))
        return engine

    @property
    def role_prefix(self) -> str:
        """The prefix of the staff group roles on PostgreSQL (``[database] role_prefix``, default ``per_``)."""
        from per_cli.db.roles import role_prefix

        return role_prefix(self.config.get_str("database", "role_prefix"))

    def ensure_schema(self) -> None:
        """Create the schema on an empty database; stop on an outdated one (README, "The database")."""
        if not self._schema_checked:
            from per_cli.db.schema import ensure_current

            ensure_current(self.engine, role_prefix=self.role_prefix)
            self._schema_checked = True

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, maps driver faults to one line."""
        from per_cli.db.engine import session_scope
        from per_cli.db.faults import translate_db_errors
        from per_cli.staff.scope import HIDDEN, record_refusal

        try:
            with translate_db_errors(self.resolved_database_url, self.database_origin):
                self.ensure_schema()
                with session_scope(self.engine, read_only=read_only) as session:
                    if not self.actor_claimed:
                        from per_cli.audit.events import UNCLAIMED_ACTOR

                        session.info[UNCLAIMED_ACTOR] = self.actor
                    yield session
        except HIDDEN as refusal:  # told "not found"; the access log says "denied" (README, staff)
            with translate_db_errors(self.resolved_database_url, self.database_origin):
                claimed = self.actor if self.actor_claimed else None
                record_refusal(self.engine, refusal, command=self._command(), claimed=claimed)
            raise

    @staticmethod
    def _command() -> str:
        """The running command as the access log names it (``patient.show``)."""
        import click

        ctx = click.get_current_context(silent=True)
        return ".".join(ctx.command_path.split()[1:]) if ctx is not None else "unknown"

    @contextmanager
    def peek(self) -> Iterator[Session]:
        """A read-only look for TAB completion: an SQLite file that does not exist stays so, nothing is migrated."""
        from per_cli.db.engine import session_scope

        url = self.resolved_database_url
        if url.startswith("sqlite"):
            from pathlib import Path

            from sqlalchemy.engine import make_url

            name = make_url(url).database
            if not name or name == ":memory:" or not Path(name).is_file():
                raise FileNotFoundError(name or "no database file")
        with session_scope(self.engine, read_only=True) as session:
            yield session

    def upgrade_schema(self) -> tuple[str | None, str | None]:
        """``per db upgrade``: migrate to the schema this per needs; returns the revisions before and after."""
        from per_cli.db.faults import translate_db_errors
        from per_cli.db.schema import upgrade

        self._may_create = "engine" not in self.__dict__
        with translate_db_errors(self.resolved_database_url, self.database_origin):
            return upgrade(self.engine, role_prefix=self.role_prefix, warn=self.warn)

    def schema_revision(self) -> str | None:
        """``per db current``: the database's schema revision (None for an empty database)."""
        from per_cli.db.faults import translate_db_errors
        from per_cli.db.schema import current_revision

        with translate_db_errors(self.resolved_database_url, self.database_origin), self.engine.connect() as conn:
            return current_revision(conn)

    def close(self) -> None:
        """Release pooled connections when the command ends (the root group registers this)."""
        if "engine" in self.__dict__:
            self.engine.dispose()

    # --- stderr: everything but errors, silenced by -q ---

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    def warn(self, message: str) -> None:
        """A warning for the person at the terminal."""
        self.say(f"Warning: {message}")

    def note(self, message: str) -> None:
        """Progress or a confirmation detail."""
        self.say(message)

    def say(self, line: str) -> None:
        """One line on stderr (a running progress counter steps aside first)."""
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.done()
        from per_cli.identity.text import visible

        print(visible(line), file=sys.stderr, flush=True)  # a value quoted from data never reaches the terminal raw

    @contextmanager
    def progress(self, label: str) -> Iterator[Progress]:
        """A one-line counter, redrawn in place on a terminal; never drawn with ``-q`` or into a file."""
        counter = Progress(label, stream=sys.stderr, enabled=False if self.quiet else None)
        self._progress = counter
        try:
            yield counter
        finally:
            self._progress = None
            counter.done()

    def order_display(self, *, qr: bool) -> QrDisplay:
        """Where a BankID order is shown: the animated QR code (``qr``) or the link, and BankID's messages."""
        from per_cli.cli.qr import QrDisplay

        return QrDisplay(None if self.quiet else sys.stderr, animate_qr=qr)
