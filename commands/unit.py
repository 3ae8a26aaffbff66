"""``per unit``: care units (vårdenheter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import flags, format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("unit")
def cli() -> None:
    """Care units (vårdenheter): every patient and care giver belongs to one."""


@cli.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The unit's name.")
@format_option()
@flags(name="--name")
@click.pass_obj
def add(app: App, code: str, name: str, fmt: str) -> None:
    """Add a care unit.

    \b
    Example:
      per unit add NEURO-SU --name "Neurologi, Sahlgrenska"
    """
    from per_cli.cli.output import emit
    from per_cli.patients.units import add_unit

    record = add_unit(app, code, name=name)
    app.note(f"Added care unit {record['code']}.")
    emit([record], fmt, single=True)


@cli.command("list")
@format_option()
@click.pass_obj
def list_(app: App, fmt: str) -> None:
    """List care units with their number of patients.

    \b
    Example:
      per unit list --format json
    """
    from per_cli.cli.output import emit
    from per_cli.patients.units import list_units

    emit(list_units(app), fmt, header=("code", "name", "patients", "created_at"))
