"""Passwords: generated for patients, chosen by care givers, stored only as Argon2id hashes.

Defaults follow the OWASP Password Storage Cheat Sheet minimum for Argon2id (m = 19 MiB, t = 2, p = 1); a
registry with stronger machines raises them in ``[passwords]``. Generated passwords avoid look-alike
characters (0/O, 1/l/I) because patients type them from an SMS.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from per_cli.errors import InvalidInput

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from per_cli.config import Config

#: letters and digits without look-alikes: no 0 O o, 1 l I i
ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 2
    memory_kib: int = 19_456
    parallelism: int = 1

    @classmethod
    def from_config(cls, config: Config) -> Argon2Params:
        return cls(
            time_cost=config.get_int("passwords", "argon2_time_cost", cls.time_cost, lo=1, hi=100),
            memory_kib=config.get_int("passwords", "argon2_memory_kib", cls.memory_kib, lo=8, hi=4_194_304),
            parallelism=config.get_int("passwords", "argon2_parallelism", cls.parallelism, lo=1, hi=64),
        )


@cache
def hasher(params: Argon2Params = Argon2Params()) -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=params.parallelism, type=Type.ID
    )


def generate_password(length: int = 12) -> str:
    """A random password from ``ALPHABET`` (12 characters ≈ 70 bits)."""
    if not 8 <= length <= 64:
        raise InvalidInput(f"must be between 8 and 64, got {length}", field="[passwords] length")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_password(password: str, params: Argon2Params = Argon2Params()) -> str:
    return hasher(params).hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong password."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def spend_one_hash(password: str, params: Argon2Params = Argon2Params()) -> None:
    """When there is no password to compare (unknown, locked, excluded …): one Argon2 operation with the
    *configured* parameters (hashing what was typed), so that the refusal costs what a wrong password costs:
    exactly one Argon2 run on every path, nothing computed once per process."""
    hasher(params).hash(password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower-cased), refused as new passwords."""
    text = files("per_cli.data").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_new_password(password: str, *, min_length: int, field: str = "password") -> None:
    """Length and the common-password list (NIST SP 800-63B §3.1.1.2); no composition rules."""
    if len(password) < min_length:
        raise InvalidInput(f"must have at least {min_length} characters", field=field)
    if len(password) > 256:
        raise InvalidInput("must have at most 256 characters", field=field)
    if password.lower() in common_passwords():
        raise InvalidInput("is on the list of common passwords; choose another", field=field)
