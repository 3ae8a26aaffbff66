"""``per status``: which database, config file and transports are in use, where each setting came from, and the
versions of per and its main libraries.

Nothing here creates anything: a SQLite file that does not exist is reported, not made; the one-time-code key
file is read only when it is there. Secrets never appear: URLs are masked, keys shown as fingerprints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from per_cli.errors import PerError

if TYPE_CHECKING:
    from per_cli.config import Config

#: settings shown even when nothing sets them: (section, key) -> default
DEFAULTS: dict[tuple[str, str], Any] = {
    ("database", "busy_timeout_ms"): 15000,
    ("messages", "language"): "sv",
    ("passwords", "length"): 12,
    ("otp", "digits"): 6,
    ("otp", "ttl_seconds"): 300,
    ("otp", "max_attempts"): 5,
    ("login", "lock_after"): 10,
    ("login", "lock_minutes"): 15,
    ("sessions", "idle_minutes"): 30,
    ("sessions", "absolute_hours"): 12,
}
#: settings an environment variable overrides: (section, key) -> variable
ENVIRONMENT = {
    ("transports", "email"): "PER_EMAIL_TRANSPORT",
    ("transports", "sms"): "PER_SMS_TRANSPORT",
    ("otp", "key"): "PER_OTP_KEY",
}
_SECRET_WORDS = ("key", "password", "secret", "token")
LIBRARIES = (
    "click",
    "SQLAlchemy",
    "alembic",
    "psycopg",
    "httpx",
    "argon2-cffi",
    "phonenumbers",
    "python-stdnum",
    "openpyxl",
    "tabulate",
)


@dataclass(frozen=True)
class Where:
    """What the root options decided: the database URL and where it came from, and the config file's origin."""

    database_url: str
    database_origin: str
    config_origin: str


@dataclass
class Status:
    records: list[dict[str, Any]]
    #: what stops commands from working (missing or outdated database …), with the next step; empty: all well
    problems: list[str]


def _row(setting: str, value: Any, source: str) -> dict[str, Any]:
    return {"setting": setting, "value": value, "source": source}


def masked_database_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    from per_cli.db.engine import normalise_url

    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show its scheme only, its secret could be anywhere
        return url.split(":", 1)[0] + "://***"


def status(config: Config, where: Where, revision: Any) -> Status:
    """Every record of ``per status``; ``revision`` reads the schema revision (may raise ``PerError``)."""
    from per_cli import __version__
    from per_cli.db.location import sqlite_path
    from per_cli.db.schema import HEAD

    problems: list[str] = []
    records = [_row("per", __version__, "installed")]
    records.append(_row("database", masked_database_url(where.database_url), where.database_origin))
    path = sqlite_path(where.database_url)
    if path is not None and not path.exists():
        records.append(_row("database exists", False, str(path)))
        problems.append(f"no database at {path}: create it with `per db upgrade` (or correct the path)")
    else:
        if path is not None:
            records.append(_row("database exists", True, str(path)))
        try:
            current = revision()
        except PerError as exc:
            records.append(_row("schema", f"unusable: {exc}", "database"))
            problems.append(str(exc))
        else:
            state = "current" if current == HEAD else f"this per needs {HEAD}: run `per db upgrade`"
            if current is None:
                state = "empty: created on first use, or by `per db upgrade`"
            records.append(_row("schema", f"{current or '-'} ({state})", "database"))
            if current is not None and current != HEAD:
                problems.append(f"schema is at {current}, this per needs {HEAD}: run `per db upgrade`")
    if config.path:
        records.append(_row("config file", str(config.path), where.config_origin))
    else:
        from per_cli.config import user_config_path

        records.append(_row("config file", "none", f"{user_config_path()} is not there"))
    records += _settings(config)
    records.append(_otp_key(config))
    records += [_row(f"version {name}", _version(name), "installed") for name in LIBRARIES]
    import platform

    records.append(_row("version Python", platform.python_version(), platform.python_implementation()))
    return Status(records, problems)


def _settings(config: Config) -> list[dict[str, Any]]:
    """Every setting the file or the environment gives, and the main defaults, with where each came from."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (section, key), default in DEFAULTS.items():
        rows[section, key] = _row(f"[{section}] {key}", default, "default")
    for section, values in config.data.items():
        if not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            rows[section, key] = _row(f"[{section}] {key}", _shown(section, key, value), "file")
    for (section, key), var in ENVIRONMENT.items():
        if config.environ.get(var, "").strip():
            rows[section, key] = _row(f"[{section}] {key}", _shown(section, key, config.environ[var]), var)
        elif (section, key) not in rows and section == "transports":
            rows[section, key] = _row(f"[{section}] {key}", "none", f"not set ({var} or the config file)")
    rows.pop(("database", "url"), None)  # the database row says it
    return sorted(rows.values(), key=lambda r: (not r["setting"].startswith("[transports]"), r["setting"]))


def _shown(section: str, key: str, value: Any) -> Any:
    """A value as ``status`` may print it: transport URLs masked, keys and passwords never."""
    if section == "transports" and isinstance(value, str):
        from per_cli.transports.url import masked

        return masked(value)
    if any(word in key.lower() for word in _SECRET_WORDS) and not key.endswith(("_file", "_length")):
        return "***"
    return value


def _otp_key(config: Config) -> dict[str, Any]:
    """The one-time-code key by its fingerprint (machines sharing a database must show the same)."""
    from per_cli.credentials import otp

    value = config.get_str("otp", "key", env=otp.KEY_ENV)
    if value:
        source = otp.KEY_ENV if config.environ.get(otp.KEY_ENV) else "file"
        return _row("one-time-code key", fingerprint(value.encode()), source)
    path = otp._key_path(config)
    if not path.is_file():
        return _row("one-time-code key", "none yet", f"created on first use: {path}")
    try:
        return _row("one-time-code key", fingerprint(otp._read_key(path)), str(path))
    except PerError as exc:
        return _row("one-time-code key", f"unusable: {exc}", str(path))


def fingerprint(key: bytes) -> str:
    """``SHA256:`` and the first 16 hex digits of the key's digest: comparable, and says nothing of the key."""
    return "SHA256:" + hashlib.sha256(key).hexdigest()[:16]


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
