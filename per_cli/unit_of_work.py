"""The unit-of-work protocol every use case takes: who acts, the configuration, and one transaction at a time.

``per_cli.cli.app.App`` is one; tests may pass any object with these three members.
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

    def transaction(self) -> AbstractContextManager[Session]: ...
