"""``per scale list | show CODE``: browse the scale catalogue (shipped plus the configured extra directory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from per_cli.cli.options import format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App

_format_option = format_option()
_LIST = ["code", "name", "version", "items", "scores", "origin"]
_ITEMS = ["id", "label", "answers", "missing_allowed", "missing_score"]


def _complete_code(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from per_cli.cli.completers import complete_scale_code

    return complete_scale_code(ctx, param, incomplete)


@click.group("scale")
def cli() -> None:
    """The catalogue of scales (questionnaires) patients fill in.

    Scales ship with per as data (no item texts: those are copyrighted); more can be added as TOML files in
    the directory named by [scales] extra_dir in the config file or by PER_SCALES_DIR.

    \b
    Example:
      per scale list
      per scale show MSIS-29
    """


@cli.command("list")
@_format_option
@click.pass_obj
def list_scales(app: App, fmt: str) -> None:
    """List the known scales: code, name, version, number of items and of scores, origin.

    \b
    Example:
      per scale list
      per scale list --format json
    """
    from per_cli.cli.output import emit
    from per_cli.scales.catalogue import catalogue_for
    from per_cli.scales.display import scale_rows

    rows = scale_rows(catalogue_for(app))
    if fmt == "table":
        _echo_table(rows, _LIST)
    else:
        emit(rows, fmt, columns=_LIST)


@cli.command("show")
@click.argument("code", shell_complete=_complete_code)
@_format_option
@click.pass_obj
def show_scale(app: App, code: str, fmt: str) -> None:
    """Show one scale: items and allowed answers, subscales, scores and the source of each rule.

    CODE is case-insensitive. json prints one object with items, subscales and scores lists; csv, tsv, jsonl
    and plain print one row per item.

    \b
    Example:
      per scale show pdq-39
      per scale show MSIS-29 --format json
    """
    import textwrap

    from per_cli.cli.output import emit
    from per_cli.scales.catalogue import catalogue_for
    from per_cli.scales.display import scale_detail

    detail = scale_detail(catalogue_for(app).get(code))
    if fmt == "json":
        emit([detail], fmt, single=True)
        return
    if fmt != "table":
        head = {"scale": detail["code"], "version": detail["version"]}
        emit([{**head, **item} for item in detail["items"]], fmt, columns=[*head, *_ITEMS])
        return
    for key in ("code", "name", "version", "origin", "file", "source", "copyright", "notes"):
        if detail[key]:
            text = f"{key + ':':<11}{detail[key]}"
            click.echo(textwrap.fill(text, width=100, subsequent_indent=" " * 11, break_on_hyphens=False))
    click.echo()
    _echo_table(detail["items"], _ITEMS)
    if detail["subscales"]:
        click.echo()
        subscales = [{**s, "items": ", ".join(s["items"])} for s in detail["subscales"]]
        _echo_table(subscales, ["code", "name", "items"])
    click.echo()
    _echo_table(detail["scores"], ["key", "label", "rule", "reads", "range", "decimals"])


def _echo_table(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> None:
    """A plain aligned table; columns that are empty in every row are dropped."""
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    keep = [i for i, col in enumerate(columns) if any(r[i] for r in cells)]
    header = [columns[i].upper() for i in keep]
    body = [[r[i] for i in keep] for r in cells]
    widths = [max([len(h), *(len(r[j]) for r in body)]) for j, h in enumerate(header)]
    for line in (header, *body):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    return str(value)
