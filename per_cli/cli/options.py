"""Options shared by many commands (only click is imported here: it runs at ``--help``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from per_cli.cli.output import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def format_option(default: str = "table") -> Callable[[F], F]:
    """``--format``, the same choices everywhere records are printed."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="Output format for records on stdout.",
    )


def app_of(ctx: click.Context) -> Any:
    """The ``App`` of the root group (``ctx.obj``)."""
    return ctx.find_root().obj
