"""TAB completion of scale codes, for ``registration new --scales`` and ``scale show``.

It runs in a fresh process at every TAB, where the root callback never runs and no ``App`` exists, so it reads
the config file itself (cheaply, and only then) and never lets a broken extra catalogue break completion: it
then offers the shipped scales.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from per_cli.cli.app import App
from per_cli.errors import PerError
from per_cli.scales.catalogue import catalogue_for, load_catalogue
from per_cli.scales.model import Catalogue


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


def _catalogue(ctx: click.Context) -> Catalogue:
    try:
        return catalogue_for(ctx.find_object(App) or _completion_app(ctx))
    except PerError:
        return load_catalogue(None)


def _completion_app(ctx: click.Context) -> App:
    """An app holding just the config file named on the command line (or the default one)."""
    from per_cli.config import load_config

    config_file = ctx.find_root().params.get("config_file")
    return App(config=load_config(config_file if isinstance(config_file, str) else None), actor="")
