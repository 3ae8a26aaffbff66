"""``per db``: the schema (Alembic migrations shipped inside the package)."""

from __future__ import annotations

import click

from per_cli.cli.options import app_of


@click.group("db")
def cli() -> None:
    """Create or migrate the database schema.

    An empty database gets the schema on first use; an older one is never migrated implicitly.
    """


@cli.command("upgrade")
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Migrate the database to the schema this per needs.

    \b
    Example:
      per --database postgresql+psycopg://per@db.example.se/per db upgrade
    """
    from per_cli.db.schema import upgrade as run_upgrade

    app = app_of(ctx)
    before, after = run_upgrade(app.engine)
    if before == after:
        click.echo(f"Already at revision {after}.")
    else:
        click.echo(f"Upgraded from {before or 'an empty database'} to revision {after}.")


@cli.command("current")
@click.pass_context
def current(ctx: click.Context) -> None:
    """Print the schema revision of the database and whether it is current (exit 1 if not).

    \b
    Example:
      per db current
    """
    from per_cli.db.schema import HEAD, current_revision
    from per_cli.errors import SchemaOutdated

    app = app_of(ctx)
    with app.engine.connect() as conn:
        revision = current_revision(conn)
    if revision == HEAD:
        click.echo(f"{revision} (current)")
        return
    click.echo(f"{revision or 'none'} (this per needs {HEAD})")
    raise SchemaOutdated("not current: run `per db upgrade`", field="database")
