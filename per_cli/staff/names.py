"""What a staff login's name and role may be."""

from __future__ import annotations

import re

from per_cli.db.roles import ROLES
from per_cli.errors import InvalidInput

_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")
_RESERVED = {"public", "none", "current_user", "current_role", "session_user", "postgres"}


def validate_login(name: str, prefix: str) -> str:
    """A staff login's role name: 1–63 lower-case letters, digits, '.', '_' or '-', starting with a letter."""
    if not _NAME.match(name):
        raise InvalidInput(
            "not a valid staff name: 1–63 lower-case letters, digits, '.', '_' or '-', starting with a letter "
            "(e.g. anna.berg)",
            field="name",
        )
    if name in _RESERVED or name.startswith("pg_") or name in {f"{prefix}{r}" for r in ROLES}:
        raise InvalidInput(f"{name} is reserved by PostgreSQL or per; choose another name", field="name")
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}", field="role")
    return role


def validate_password(password: str) -> str:
    if len(password) < 12:
        raise InvalidInput("must be at least 12 characters", field="password")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise InvalidInput("must not contain control characters", field="password")
    return password
