"""Who acts, as the caller names it (``--actor``, ``PER_ACTOR``) or as the OS knows them.

Everywhere an actor is printable text of at most 64 characters: control characters, newlines and escape
sequences would let a name rewrite a terminal or a log line, so they are refused, not cleaned. On PostgreSQL the
audit log records the session's login role instead and keeps a differing name as ``claimed_actor``
(``per_cli.audit.events``).
"""

from __future__ import annotations

from per_cli.errors import InvalidInput

MAX_LENGTH = 64


def problem(name: str) -> str | None:
    """Why ``name`` cannot be an actor, or None."""
    if not name.strip():
        return "is empty"
    if len(name) > MAX_LENGTH:
        return f"is {len(name)} characters long, at most {MAX_LENGTH} are allowed"
    if not name.isprintable():
        return "contains control characters, a line break or an escape sequence"
    return None


def checked(name: str, field: str) -> str:
    """``name`` if it is a valid actor; else one line naming ``field`` (``--actor`` or ``PER_ACTOR``)."""
    reason = problem(name)
    if reason:
        raise InvalidInput(f"the actor {reason}; give a plain name such as a user name", field=field)
    return name


def os_login() -> str:
    """The OS login name, or ``unknown`` when there is none or it is not a valid actor."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
    return name if problem(name) is None else "unknown"
