"""The unit-of-work protocol every use case takes first: who acts, the configuration, and transactions.

A use case opens its own transaction(s) through :meth:`UnitOfWork.transaction`: commands never hold a database
session. ``per_cli.cli.app.App`` is the one the CLI passes; tests may pass any object with these members.
Helpers that compose inside one transaction take the ``Session`` instead.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.config import Config


class UnitOfWork(Protocol):
    """What a use case needs from the application (``per_cli.cli.app.App`` is one)."""

    actor: str
    config: Config

    def transaction(self, *, read_only: bool = False) -> AbstractContextManager[Session]:
        """One transaction: committed on success, rolled back on any error, driver faults as one-line errors.

        ``read_only`` gives one consistent snapshot that does not block writers (``per audit verify``).
        """
        ...
