"""``per status`` (also ``per config show``): what this per uses, and where each setting came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


def show_status(app: App, fmt: str) -> None:
    """Print the status records; exit 1 naming the next step when the database cannot be used as it is."""
    from per_cli.cli.output import emit
    from per_cli.status import Where, status

    where = Where(app.resolved_database_url, app.database_origin, app.config_origin)
    result = status(app.config, where, app.schema_revision)
    emit(result.records, fmt, columns=["setting", "value", "source"])
    for problem in result.problems:
        app.say(f"Problem: {problem}")
    if result.problems:
        raise click.exceptions.Exit(1)


@click.command("status")
@format_option()
@click.pass_obj
def cli(app: App, fmt: str) -> None:
    """Which database, config file and transports per uses, and where each setting came from.

    Shows the database URL (password masked), whether it exists and its schema is current, the config file,
    every setting the file or the environment gives and the main defaults (source: the flag, the environment
    variable, file or default), the transports (masked), the one-time-code key's fingerprint (machines sharing
    a database must show the same) and the versions of per and its libraries. Nothing is created or changed.
    Exit 1, saying what to do, when the database is missing, unreachable or outdated.

    \b
    Examples:
      per status
      per --database sqlite:///registry.db status --format json
    """
    show_status(app, fmt)
