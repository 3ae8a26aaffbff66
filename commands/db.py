"""``per db``: the schema (Alembic migrations shipped inside the package)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("db")
def cli() -> None:
    """Create or migrate the database schema.

    An empty database gets the schema on first use; an older one is never migrated implicitly.
    """


@cli.command("upgrade")
@format_option()
@click.pass_obj
def upgrade(app: App, fmt: str) -> None:
    """Migrate the database to the schema this per needs.

    The table format is one sentence; the others give before, after and upgraded.

    \b
    Example:
      per --database postgresql+psycopg://per@db.example.se/per db upgrade
    """
    from per_cli.cli.output import emit

    before, after = app.upgrade_schema()
    if fmt != "table":
        emit([{"before": before, "after": after, "upgraded": before != after}], fmt, single=True)
    elif before == after:
        click.echo(f"Already at revision {after}.")
    else:
        click.echo(f"Upgraded from {before or 'an empty database'} to revision {after}.")


@cli.command("current")
@format_option()
@click.pass_obj
def current(app: App, fmt: str) -> None:
    """Print the schema revision of the database and whether it is current (exit 1 if not).

    The table format is one line; the others give revision, head (the revision this per needs) and current.

    \b
    Example:
      per db current
    """
    from per_cli.cli.output import emit
    from per_cli.db.schema import HEAD
    from per_cli.errors import SchemaOutdated

    revision = app.schema_revision()
    if fmt != "table":
        emit([{"revision": revision, "head": HEAD, "current": revision == HEAD}], fmt, single=True)
    elif revision == HEAD:
        click.echo(f"{revision} (current)")
    else:
        click.echo(f"{revision or 'none'} (this per needs {HEAD})")
    if revision != HEAD:
        raise SchemaOutdated("not current: run `per db upgrade`", field="database")
