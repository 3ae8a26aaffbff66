"""Configuration: option > environment variable > TOML file > default (README, "Configuration").

Options and environment variables are resolved by click before this module sees them; what is left here is
the file, found through ``--config``, ``PER_CONFIG`` or the user config dir, and the defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from per_cli.errors import ConfigError

APP_NAME = "per"


def user_config_path() -> Path:
    """Where the config file lives when neither ``--config`` nor ``PER_CONFIG`` names one."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_database_url() -> str:
    """The embedded default: a SQLite file in the user data dir."""
    import platformdirs

    return "sqlite:///" + str(Path(platformdirs.user_data_dir(APP_NAME)) / "per.db")


@dataclass(frozen=True)
class Config:
    """The parsed config file plus the environment, with typed look-ups."""

    data: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{name}] must be a table", field=self._where())
        return value

    def get(self, section: str, key: str, default: Any = None, *, env: str | None = None) -> Any:
        """The value of ``[section] key``; an environment variable named by ``env`` wins over the file."""
        if env and self.environ.get(env):
            return self.environ[env]
        return self.section(section).get(key, default)

    def get_int(self, section: str, key: str, default: int, *, lo: int | None = None, hi: int | None = None) -> int:
        value = self.get(section, key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"[{section}] {key}: must be a whole number", field=self._where())
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"[{section}] {key}: must be between {lo} and {hi}, got {value}", field=self._where())
        return value

    def get_str(self, section: str, key: str, default: str | None = None, *, env: str | None = None) -> str | None:
        value = self.get(section, key, default, env=env)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"[{section}] {key}: must be a string", field=self._where())
        return value

    def _where(self) -> str:
        return str(self.path) if self.path else "config"


def load_config(explicit: str | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file named by ``explicit`` (``--config``/``PER_CONFIG``) or the default one.

    A named file must exist; the default file is optional.
    """
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"no such file: {path}; create it, or name the right file", field="config_file")
    else:
        path = user_config_path()
        if not path.is_file():
            return Config(environ=env)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", field=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", field=str(path)) from None
    return Config(data=data, path=path, environ=env)
