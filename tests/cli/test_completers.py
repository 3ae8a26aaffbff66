"""TAB completion of scale codes, alone and through click's shell-completion machinery."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete

from per_cli.cli.completers import complete_scale_code, complete_scale_codes
from tests.helpers.scales import WriteScale


def _ctx() -> click.Context:
    return click.Context(click.Command("registration"))


def _values(incomplete: str, *, single: bool = False) -> list[str]:
    function = complete_scale_code if single else complete_scale_codes
    return [item.value for item in function(_ctx(), click.Option(["--scales"]), incomplete)]


def test_empty_offers_every_code() -> None:
    assert _values("") == ["EQ-5D-5L", "HADS", "MG-ADL", "MSIS-29", "MSWS-12", "PDQ-39"]


def test_prefix_ignores_case() -> None:
    assert _values("ms") == ["MSIS-29", "MSWS-12"]
    assert _values("PDQ") == ["PDQ-39"]
    assert _values("x") == []


def test_completes_after_the_last_comma() -> None:
    assert _values("MSIS-29,EQ") == ["MSIS-29,EQ-5D-5L"]
    assert _values("HADS,MG-ADL,p") == ["HADS,MG-ADL,PDQ-39"]


def test_codes_already_listed_are_not_offered_again() -> None:
    assert _values("msis-29,ms") == ["msis-29,MSWS-12"]
    assert _values("MSIS-29,") == [f"MSIS-29,{c}" for c in ("EQ-5D-5L", "HADS", "MG-ADL", "MSWS-12", "PDQ-39")]


def test_help_is_the_scale_name() -> None:
    items = complete_scale_codes(_ctx(), click.Option(["--scales"]), "HAD")
    assert [(i.value, i.help) for i in items] == [("HADS", "Hospital Anxiety and Depression Scale")]


def test_single_code_completion_does_not_split_on_commas() -> None:
    assert _values("msw", single=True) == ["MSWS-12"]
    assert _values("MSIS-29,EQ", single=True) == []


def test_extra_dir_from_environment(monkeypatch: pytest.MonkeyPatch, write_scale: WriteScale, extra_dir: Path) -> None:
    write_scale()
    monkeypatch.setenv("PER_SCALES_DIR", str(extra_dir))
    assert _values("HADS,l") == ["HADS,LOCAL-1"]


def test_broken_extra_dir_falls_back_to_shipped_scales(
    monkeypatch: pytest.MonkeyPatch, write_scale: WriteScale, extra_dir: Path
) -> None:
    write_scale("this is not toml")
    monkeypatch.setenv("PER_SCALES_DIR", str(extra_dir))
    assert _values("") == ["EQ-5D-5L", "HADS", "MG-ADL", "MSIS-29", "MSWS-12", "PDQ-39"]
    monkeypatch.setenv("PER_SCALES_DIR", str(extra_dir / "missing"))
    assert _values("h") == ["HADS"]


def _root() -> click.Group:
    """A stand-in for ``per`` with ``--config`` and ``registration new --scales``."""

    @click.group()
    @click.option("--config", "config_file", type=click.Path(dir_okay=False))
    def root(config_file: str | None) -> None:
        pass

    @root.group()
    def registration() -> None:
        pass

    @registration.command()
    @click.argument("pnr")
    @click.option("--scales", shell_complete=complete_scale_codes)
    def new(pnr: str, scales: str) -> None:
        pass

    return root


def _complete(args: list[str], incomplete: str) -> list[str]:
    completer = ShellComplete(_root(), {}, "per", "_PER_COMPLETE")
    return [item.value for item in completer.get_completions(args, incomplete)]


def test_through_click_shell_completion() -> None:
    assert _complete(["registration", "new", "191212121212", "--scales"], "MSIS-29,E") == ["MSIS-29,EQ-5D-5L"]


def test_through_click_reads_the_config_file_named_on_the_line(
    tmp_path: Path, write_scale: WriteScale, extra_dir: Path
) -> None:
    """No ``ctx.obj`` exists during completion, so the completer reads ``--config`` itself."""
    write_scale()
    config = tmp_path / "per.toml"
    config.write_text(f'[scales]\nextra_dir = "{extra_dir.name}"\n')
    args = ["--config", str(config), "registration", "new", "191212121212", "--scales"]
    assert _complete(args, "loc") == ["LOCAL-1"]
    assert _complete(args[2:], "loc") == []  # without --config: the default (absent) config file
