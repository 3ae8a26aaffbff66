"""The scale catalogue: one TOML file per scale, shipped in ``data/`` and optionally in an extra directory.

Stdlib only and cached, because TAB completion of scale codes loads it in a fresh process at every key press.
Every file is validated when it is loaded, so a bad file fails with its name and the offending key instead of
surfacing later as a wrong score. The file format and the rule vocabulary are described in ``README.md``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from per_cli.errors import ConfigError
from per_cli.scales.model import Catalogue, Scale
from per_cli.scales.parser import load_file

SHIPPED_DIR: Final = Path(__file__).with_name("data")
SCALES_DIR_ENV: Final = "PER_SCALES_DIR"


# --------------------------------------------------------------------------------------------------- loading


def load_catalogue(extra_dir: Path | None = None) -> Catalogue:
    """The shipped scales plus those in ``extra_dir``.

    An extra file may not reuse a shipped code (whatever its version): stored answers and scores are keyed by
    code, and one code must mean the same questionnaire on every installation. A local variant takes its own
    code (``MSIS-29-SE``). Results are cached; an extra directory is re-read when its files change.
    """
    if extra_dir is None:
        return _load_shipped()
    return _load_with_extra(str(extra_dir), _dir_signature(extra_dir))


def clear_cache() -> None:
    """Forget every loaded file (tests that rewrite the shipped data, long-running processes)."""
    _load_shipped.cache_clear()
    _load_with_extra.cache_clear()


def extra_dir_for(obj: object | None) -> Path | None:
    """The extra catalogue directory for an app (anything with a ``config``), or from the environment without one.

    ``PER_SCALES_DIR`` wins over ``[scales] extra_dir`` in the config file (the README's order of precedence). A
    relative path in the config file is taken relative to that file, so the file can travel with its directory.
    """
    config = getattr(obj, "config", None)
    value: Any
    base: Path | None = None
    if config is None:
        value = os.environ.get(SCALES_DIR_ENV) or None
    else:
        value = config.get("scales", "extra_dir", env=SCALES_DIR_ENV)
        config_path = getattr(config, "path", None)
        from_env = bool(getattr(config, "environ", os.environ).get(SCALES_DIR_ENV))
        if not from_env and isinstance(config_path, Path):
            base = config_path.parent
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        where = str(getattr(config, "path", None) or "config")
        raise ConfigError("[scales] extra_dir: must be a path (a string)", field=where)
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path


def catalogue_for(obj: object | None) -> Catalogue:
    """The catalogue as configured for an app or unit of work (shipped plus the configured extra directory)."""
    return load_catalogue(extra_dir_for(obj))


@lru_cache(maxsize=1)
def _load_shipped() -> Catalogue:
    scales = [load_file(path, "shipped") for path in sorted(SHIPPED_DIR.glob("*.toml"))]
    return Catalogue(_sorted_unique(scales))


def _dir_signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """File names, sizes and mtimes: a changed file invalidates the cache without re-parsing every time."""
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a directory"
        raise ConfigError(f"extra scale directory {directory} {what} (see [scales] extra_dir or {SCALES_DIR_ENV})")
    signature = []
    for path in sorted(directory.glob("*.toml")):
        try:
            st = path.stat()
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", field=str(path)) from None
        signature.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(signature)


@lru_cache(maxsize=8)
def _load_with_extra(directory: str, signature: tuple[tuple[str, int, int], ...]) -> Catalogue:
    shipped = _load_shipped()
    by_code = {scale.code.casefold(): scale for scale in shipped}
    extra: list[Scale] = []
    for name, _size, _mtime in signature:
        scale = load_file(Path(directory) / name, "extra")
        clash = by_code.get(scale.code.casefold())
        if clash is not None:
            where = f"the shipped {clash.code}" if clash.origin == "shipped" else f"{clash.path}"
            raise ConfigError(
                f"code: {scale.code} is already defined by {where}; give a local variant its own code",
                field=str(scale.path),
            )
        by_code[scale.code.casefold()] = scale
        extra.append(scale)
    return Catalogue(_sorted_unique([*shipped, *extra]))


def _sorted_unique(scales: list[Scale]) -> tuple[Scale, ...]:
    seen: dict[str, Scale] = {}
    for scale in scales:
        other = seen.get(scale.code.casefold())
        if other is not None:
            raise ConfigError(f"code: {scale.code} is already defined by {other.path}", field=str(scale.path))
        seen[scale.code.casefold()] = scale
    return tuple(sorted(scales, key=lambda s: s.code.casefold()))
