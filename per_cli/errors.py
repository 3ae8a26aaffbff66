"""Errors the domain raises, each with the exit code the CLI turns it into.

The domain never calls ``sys.exit``: it raises one of these, and the root group prints the one-line message on
stderr and exits with ``exit_code`` (README, "Conventions": 0 done, 1 error, 2 usage, 3 partial, 4 denied).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_DENIED = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class PerError(Exception):
    """A failure the user can act on; ``field`` names the input it concerns, if any."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(PerError):
    """A value that fails validation (bad check digit, impossible date, landline as mobile …)."""


class NotFound(PerError):
    """The named patient, unit, care giver, session or registration does not exist."""


class Conflict(PerError):
    """The change contradicts what is stored (already enrolled, ambiguous 10-digit number …)."""


class ConfigError(PerError):
    """The configuration (file, environment, transport URL) is unusable."""


class DeliveryFailed(PerError):
    """No message could be delivered on any chosen channel."""


class Contention(PerError):
    """Two transactions wanted each other's rows (a deadlock): the database undid this one, nothing changed."""


class SchemaOutdated(PerError):
    """The database schema is older than this program; ``per db upgrade`` fixes it."""


class AuthDenied(PerError):
    """Authentication was refused: wrong password or code, locked, cancelled, expired, not permitted."""

    exit_code = EXIT_DENIED


class Forbidden(PerError):
    """The database refuses this login the action (its staff role lacks the right): README, "Deploying for a
    registry"."""

    exit_code = EXIT_DENIED


class Interrupted(PerError):
    """Ctrl-C: the message says what was done and how to finish."""

    exit_code = EXIT_INTERRUPTED


class PartialFailure(PerError):
    """Some rows or channels failed; the report printed before this says which."""

    exit_code = EXIT_PARTIAL
