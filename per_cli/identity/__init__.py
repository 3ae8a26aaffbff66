"""Patient identity and contact data: personnummer, phone numbers, e-mail addresses.

The personnummer names are imported eagerly (stdlib only). ``parse_phone``/``PhoneNumber`` and
``normalise_email`` are resolved on first access through module ``__getattr__`` (PEP 562), so that
``import per_cli.identity`` (and with it ``per --help``) does not import phonenumbers or email_validator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from per_cli.identity.personnummer import (
    Personnummer,
    PersonnummerInput,
    normalise_personnummer,
    parse_personnummer,
)

if TYPE_CHECKING:
    from per_cli.identity.email import normalise_email
    from per_cli.identity.phone import PhoneNumber, parse_phone

__all__ = [
    "Personnummer",
    "PersonnummerInput",
    "PhoneNumber",
    "normalise_email",
    "normalise_personnummer",
    "parse_personnummer",
    "parse_phone",
]

_LAZY = {"PhoneNumber": "phone", "parse_phone": "phone", "normalise_email": "email"}


def __getattr__(name: str) -> Any:
    """Import the phone or e-mail module only when one of its names is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
