"""TAB completion of scale codes (``registration new --scales``, ``scale show``), care unit codes (``--unit``) and
care givers' user names (``--user``, ``caregiver disable USER`` …).

It runs in a fresh process at every TAB, where the root callback never runs and no ``App`` exists, so it reads
the config file itself (cheaply, and only then) and never lets a broken extra catalogue break completion: it
then offers the shipped scales. Units and user names come from the database named by ``--database`` (before or
after the subcommand), ``PER_DATABASE_URL`` or the config, read without creating or migrating anything; any
trouble there (no such file, no server, no schema, no right) offers nothing rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

from per_cli.cli.app import App
from per_cli.cli.global_options import effective
from per_cli.errors import PerError
from per_cli.scales.catalogue import catalogue_for, load_catalogue
from per_cli.scales.model import Catalogue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def complete_scale_codes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Complete the code after the last comma of ``MSIS-29,EQ``; codes already listed are not offered again."""
    head, comma, current = incomplete.rpartition(",")
    chosen = {code.strip().casefold() for code in head.split(",")} if comma else set()
    prefix = head + comma
    return [
        CompletionItem(prefix + scale.code, help=scale.name)
        for scale in _catalogue(ctx)
        if scale.code.casefold().startswith(current.strip().casefold()) and scale.code.casefold() not in chosen
    ]


def complete_scale_code(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Complete a single scale code (an argument that takes exactly one)."""
    wanted = incomplete.strip().casefold()
    return [
        CompletionItem(scale.code, help=scale.name)
        for scale in _catalogue(ctx)
        if scale.code.casefold().startswith(wanted)
    ]


def complete_unit_codes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Care unit codes starting with what is typed (any case), with the unit's name as help."""
    from per_cli.patients.units import unit_choices

    return _from_database(ctx, lambda session: unit_choices(session, incomplete))


def complete_caregivers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Care givers' user names starting with what is typed, with their name and unit as help."""
    from per_cli.credentials.caregivers import caregiver_choices

    return _from_database(ctx, lambda session: caregiver_choices(session, incomplete))


def _from_database(ctx: click.Context, look: Callable[[Session], list[tuple[str, str]]]) -> list[CompletionItem]:
    try:
        with _completion_app(ctx).peek() as session:
            return [CompletionItem(value, help=help_) for value, help_ in look(session)]
    except Exception:  # completion offers what it can; a TAB never prints a traceback
        return []


def _catalogue(ctx: click.Context) -> Catalogue:
    try:
        return catalogue_for(ctx.find_object(App) or _completion_app(ctx))
    except PerError:
        return load_catalogue(None)


def _completion_app(ctx: click.Context) -> App:
    """An app holding just the config file and database named on the command line (or the defaults)."""
    from per_cli.config import load_config

    given = effective(ctx)
    config_file, database = given.get("config_file"), given.get("database")
    return App(
        config=load_config(config_file if isinstance(config_file, str) else None),
        actor="",
        database_url=database if isinstance(database, str) else None,
    )
