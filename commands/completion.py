"""``per completion``: shell completion scripts (also shipped, generated, in ``completions/``)."""

from __future__ import annotations

import click


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def cli(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    Examples:
      eval "$(per completion bash)"          # in ~/.bashrc
      per completion fish > ~/.config/fish/completions/per.fish
    """
    from per_cli.cli.completion import completion_script

    click.echo(completion_script(shell), nl=False)
