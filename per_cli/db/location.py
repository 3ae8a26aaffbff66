"""Where the database is, and the rule that a mistyped SQLite path never becomes a new empty database.

A SQLite file that does not exist is created only by ``per db upgrade``, or when the path is the default one
(the embedded first run). Any other command stops with one line naming the path, where the URL came from and
the command that creates it. Only the standard library is imported here.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from per_cli.errors import PerError


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///…`` URL names (``None``: not SQLite, in memory, or a ``file:`` URI)."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return None
    name = unquote(rest.split("?", 1)[0])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).expanduser()


def require_existing(url: str, *, default_url: str, origin: str, may_create: bool = False) -> None:
    """Stop unless ``url`` is not a SQLite file, the file exists, it is the default path or ``may_create``.

    ``origin`` says where the URL came from (``--database``, ``PER_DATABASE_URL``, the config file …).
    """
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise PerError(
            f"{path} is a folder, not a database file: name a file in it, e.g. {path / 'per.db'}", field=origin
        )
    if path.exists() or may_create:
        return
    default = sqlite_path(default_url)
    if default is not None and path.resolve() == default.resolve():
        return
    raise PerError(
        f"no database at {path}: check the path, or create the database there with `per db upgrade`",
        field=origin,
    )
