"""``per config``: the configuration in use (``per config show`` is ``per status``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("config")
def cli() -> None:
    """The configuration in use: `per config show` (the same as `per status`)."""


@cli.command("show")
@format_option()
@click.pass_obj
def show(app: App, fmt: str) -> None:
    """The same as `per status`: database, config file, settings and where each came from, transports, versions.

    \b
    Example:
      per config show --format json
    """
    from commands.status import show_status

    show_status(app, fmt)
