"""Completion scripts, identical to what ``_PER_COMPLETE={shell}_source per`` prints."""

from __future__ import annotations

from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    from per_cli.cli import cli

    cls = get_completion_class(shell)
    if cls is None:
        raise ValueError(f"unsupported shell {shell}")
    return cls(cli, {}, "per", "_PER_COMPLETE").source()
