"""The root group: lazy loading, light help and completion, version, exit codes, python -m."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from per_cli.cli import COMMANDS, cli
from tests.helpers.per import PER

HEAVY = ("sqlalchemy", "phonenumbers", "stdnum", "httpx", "argon2", "alembic", "email_validator", "openpyxl")


def _imported_after(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys\n"
        f"sys.argv = {argv!r}\n"
        "from per_cli.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True
    )
    return set(proc.stderr.split())


@pytest.mark.parametrize(
    "argv",
    [
        ["per", "--help"],
        ["per", "patient", "--help"],
        ["per", "login", "--help"],
        ["per", "password", "send", "--help"],
        ["per", "registration", "new", "--help"],
    ],
)
def test_help_imports_none_of_the_heavy_libraries(argv: list[str]) -> None:
    assert _imported_after(argv) & set(HEAVY) == set()


@pytest.mark.parametrize("words", ["", "pa", "patient ", "patient enrol --", "login ", "registration new --scales "])
def test_tab_completion_imports_none_of_the_heavy_libraries(words: str) -> None:
    env = {"_PER_COMPLETE": "bash_complete", "COMP_WORDS": f"per {words}", "COMP_CWORD": str(len(words.split(" ")))}
    assert _imported_after(["per"], env) & set(HEAVY) == set()


def _walk(command: click.Command, path: list[str]) -> list[list[str]]:
    found = [path]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            found += _walk(sub, [*path, name])
    return found


def test_every_command_has_help_with_an_example() -> None:
    from click.testing import CliRunner

    runner = CliRunner()
    paths = _walk(cli, [])
    assert len(paths) > 10
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        command: click.Command | None = cli
        for name in path:
            assert isinstance(command, click.Group), path
            command = command.get_command(click.Context(command), name)
        if not isinstance(command, click.Group):
            assert "Example" in result.output, f"per {' '.join(path)} --help has no example"


def test_the_lazy_table_and_the_command_modules_agree() -> None:
    import commands

    for name, (module, _) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name == name, module
    folder = Path(commands.__path__[0])
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in folder.glob("*/__init__.py")}  # a group grown into a package
    assert modules == {module.rpartition(".")[2] for module, _ in COMMANDS.values()}


def test_version_and_python_dash_m() -> None:
    version = subprocess.run([PER, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout == "per, version 0.1.0\n"
    module = subprocess.run([sys.executable, "-m", "per_cli", "--version"], capture_output=True, text=True, check=True)
    assert module.stdout == version.stdout


def test_usage_errors_exit_2_and_bare_group_shows_help() -> None:
    proc = subprocess.run([PER, "patient", "enrol", "--bogus"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Error: No such option '--bogus'." in proc.stderr
    bare = subprocess.run([PER, "patient"], capture_output=True, text=True, check=False)
    assert bare.returncode == 2 and "enrol" in bare.stdout + bare.stderr
