"""Every ``per …`` line in a fenced block of the README parses: the command exists and takes those options and
arguments (click resolves and converts them; nothing runs)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from per_cli.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"
_SEPARATORS = {"|", "||", "&&", ";", "&"}
_REDIRECTS = {">", ">>", "<", "2>", "&>"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _blocks(text: str) -> list[str]:
    """The shell code of the fenced blocks (a ``toml`` block is configuration, not commands)."""
    found = re.findall(r"^```([a-z]*)\n(.*?)^```", text, flags=re.M | re.S)
    return [body for lang, body in found if lang not in ("toml", "json", "python")]


def _commands(block: str) -> list[list[str]]:
    """The arguments of every ``per`` command in a block: continued lines joined, ``$(per …)`` taken out, other
    substitutions a placeholder, an optional ``[--flag VALUE]`` as written inside, pipes and redirects cut off."""
    found: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        inner = re.findall(r"\$\((per [^)]*)\)", line)
        line = re.sub(r"\$\([^)]*\)", "X", line)
        line = re.sub(r"\[(--[^\]]*)\]", r"\1", line)
        for source in [line, *inner]:
            lexer = shlex.shlex(source, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            segment: list[str] = []
            skip = False
            for token in [*lexer, ";"]:
                if skip:
                    skip = False
                elif token in _REDIRECTS:
                    skip = True
                elif token in _SEPARATORS:
                    while segment and _ASSIGNMENT.match(segment[0]):
                        segment.pop(0)
                    if segment[:1] == ["per"]:
                        found.append(segment[1:])
                    segment = []
                else:
                    segment.append(token)
    return found


def _readme_commands() -> list[list[str]]:
    return [args for block in _blocks(README.read_text(encoding="utf-8")) for args in _commands(block)]


def _parse(args: list[str]) -> list[str]:
    """Resolve the command and parse its options as ``per`` would, without running it; returns the path."""
    ctx = cli.make_context("per", list(args))
    command: click.Command = cli
    path: list[str] = []
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]  # click 9: all in args
        assert rest, f"`per {' '.join(args)}` names no command below `per {' '.join(path)}`"
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None and sub is not None
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return path


def test_the_readme_has_its_examples() -> None:
    commands = _readme_commands()
    assert len(commands) > 50
    assert ["completion", "bash"] in commands  # from eval "$(per completion bash)"
    assert any(args[:2] == ["transport", "test"] and "--sms" in args for args in commands)


@pytest.mark.parametrize("args", _readme_commands(), ids=lambda args: " ".join(args)[:60])
def test_every_readme_example_parses(args: list[str]) -> None:
    try:
        _parse(args)
    except click.ClickException as exc:
        pytest.fail(f"README: `per {shlex.join(args)}`: {exc.format_message()}")


def test_a_wrong_example_would_be_caught() -> None:
    for wrong in (
        ["transport", "test", "--sms", "070-174", "06", "05"],
        ["patient", "enroll", "191212121212"],
        ["patient", "list", "--colour"],
        ["audit", "list", "--since"],
    ):
        with pytest.raises(click.ClickException):
            _parse(wrong)
    assert _commands('x=1 per -q unit list | cut -f1 > out.csv && echo "$(per completion zsh)"\n') == [
        ["-q", "unit", "list"],
        ["completion", "zsh"],
    ]
