"""Scale files for the tests: a small valid scale, an extra directory to write scales into, and isolation from the
developer's own scale directory and config (``isolated_scales``, made autouse by the conftest of each directory
whose tests need it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from per_cli.scales.catalogue import clear_cache

#: a small valid scale: four items (one with an explicit answer list), one subscale, two scores
VALID_TOML = """\
code = "LOCAL-1"
name = "Local test scale"
version = "1"
source = "Invented for the tests."

items = [
  { id = "a", min = 0, max = 2 },
  { id = "b", min = 0, max = 2 },
  { id = "c", min = 0, max = 2 },
  { id = "d", values = [0, 1, 3] },
]

[[subscales]]
code = "first"
name = "First two"
items = ["a", "b"]

[scoring.total]
rule = "sum"

[scoring.first]
rule = "sum_transformed_0_100"
subscale = "first"
"""

WriteScale = Callable[..., Path]


@pytest.fixture
def valid_toml() -> str:
    return VALID_TOML


@pytest.fixture
def extra_dir(tmp_path: Path) -> Path:
    path = tmp_path / "scales"
    path.mkdir()
    return path


@pytest.fixture
def write_scale(extra_dir: Path) -> WriteScale:
    """Write ``text`` (default: the valid scale) as ``name`` in the extra directory; returns the file."""

    def write(text: str = VALID_TOML, name: str = "local-1.toml") -> Path:
        path = extra_dir / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def isolated_scales(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No extra directory or user config leaks in from the developer's environment; a fresh cache per test."""
    monkeypatch.delenv("PER_SCALES_DIR", raising=False)
    monkeypatch.delenv("PER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    clear_cache()
    yield
    clear_cache()
