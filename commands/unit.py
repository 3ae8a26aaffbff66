"""``per unit``: care units (vårdenheter)."""

from __future__ import annotations

import click

from per_cli.cli.options import app_of, format_option


@click.group("unit")
def cli() -> None:
    """Care units (vårdenheter): every patient and care giver belongs to one."""


@cli.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The unit's name.")
@format_option()
@click.pass_context
def add(ctx: click.Context, code: str, name: str, fmt: str) -> None:
    """Add a care unit.

    \b
    Example:
      per unit add NEURO-SU --name "Neurologi, Sahlgrenska"
    """
    from per_cli.cli.output import emit
    from per_cli.patients.units import add_unit

    app = app_of(ctx)
    with app.transaction() as session:
        unit = add_unit(session, code, name)
        record = {"code": unit.code, "name": unit.name, "created_at": unit.created_at}
    app.note(f"Added care unit {unit.code}.")
    emit([record], fmt, single=True)


@cli.command("list")
@format_option()
@click.pass_context
def list_(ctx: click.Context, fmt: str) -> None:
    """List care units with their number of patients.

    \b
    Example:
      per unit list --format json
    """
    from per_cli.cli.output import emit
    from per_cli.patients.units import list_units

    app = app_of(ctx)
    with app.transaction() as session:
        records = list_units(session)
    emit(records, fmt)
