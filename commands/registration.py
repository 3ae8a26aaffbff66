"""``per registration``: start a registration on chosen scales, answer it, show, list and export."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from per_cli.cli.options import FILE, complete_units, flags, format_option, period_options

if TYPE_CHECKING:
    from datetime import datetime

    from per_cli.cli.app import App

F = TypeVar("F", bound=Callable[..., Any])

#: formats whose cells are text: answers are shown as ``1,2,,4`` there (the form ``--answers`` takes)
_TEXT_FORMATS = ("table", "csv", "tsv", "plain")


def _complete_codes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from per_cli.cli.completers import complete_scale_codes

    return complete_scale_codes(ctx, param, incomplete)


def _complete_code(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from per_cli.cli.completers import complete_scale_code

    return complete_scale_code(ctx, param, incomplete)


def _session_option() -> Callable[[F], F]:
    return click.option(
        "--session",
        "token",
        metavar="TOKEN",
        help="Act as the patient logged in with this session token (from `per login …`); the patient, or the care "
        "giver by proxy, is then recorded as the one acting. An ended session or another patient's is refused "
        "(exit 4). Default: you (--actor) act.",
    )


@click.group("registration")
def cli() -> None:
    """Registrations: the scales a patient fills in, their answers and scores.

    A registration is started on one or more scales (each a pending part); answering a part validates the
    answers and computes its scores; the registration is complete when every part is done. REG is the
    registration number that `new` and `list` print.

    \b
    Example:
      per registration new 19121212-1212 --scales MSIS-29,EQ-5D-5L
      per registration answer 1 --scale EQ-5D-5L --answers 1,1,2,1,1,85
    """


@cli.command("new")
@click.argument("personnummer")
@click.option(
    "--scales",
    "scales",
    required=True,
    metavar="CODE[,CODE…]",
    shell_complete=_complete_codes,
    help="The scales to fill in, comma-separated, case-insensitive (see `per scale list`).",
)
@_session_option()
@format_option()
@flags(scales="--scales", session="--session")
@click.pass_obj
def new(app: App, personnummer: str, scales: str, token: str | None, fmt: str) -> None:
    """Start a registration: one pending part per scale ("skapa nya registreringar").

    An unknown scale code is refused with the list of known codes; an excluded patient is refused. Prints the
    new registration; its number (registration_id) is what `answer` and `show` take.

    \b
    Examples:
      per registration new 19121212-1212 --scales MSIS-29,EQ-5D-5L
      per registration new 1212121212 --scales eq-5d-5l --session "$TOKEN" --format json
      REG=$(per registration new 191212121212 --scales HADS --format plain | cut -f1)
    """
    from per_cli.cli.output import emit
    from per_cli.registrations.use_cases import new_registration

    record = new_registration(app, personnummer, scales=scales, token=token)
    app.note(
        f"Started registration {record['registration_id']} for {record['personnummer']}: {', '.join(record['scales'])}."
    )
    emit([record], fmt, single=True)


@cli.command("answer")
@click.argument("registration_id", metavar="REG", type=click.IntRange(min=1))
@click.option(
    "--scale",
    "scale",
    required=True,
    metavar="CODE",
    shell_complete=_complete_code,
    help="The part (scale) of the registration to answer.",
)
@click.option(
    "--answers",
    metavar="A,B,…",
    help="The answers in item order, comma-separated; leave an entry empty "
    "for a missing answer (1,2,,4) where the scale allows one.",
)
@click.option(
    "--file",
    "file",
    type=FILE,
    metavar="FILE|-",
    help="Read the answers from a UTF-8 file ('-': stdin): in item "
    "order, one per line or separated by commas, semicolons or tabs; an empty line or entry is a missing "
    "answer; '#' starts a comment.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the answers of a part already done (possible until the registration is complete).",
)
@_session_option()
@format_option()
@flags(scale="--scale", registration="REG", session="--session", file="--file")
@click.pass_obj
def answer(
    app: App,
    registration_id: int,
    scale: str,
    answers: str | None,
    file: str | None,
    replace: bool,
    token: str | None,
    fmt: str,
) -> None:
    """Answer one scale of a registration: validate, score and mark the part done.

    Every answer is checked against its item (the error names the item); the scores follow the scale's rules
    (`per scale show CODE`). When the last pending part is answered, the registration is complete. A part
    already done is refused unless --replace is given; a complete registration cannot be changed.

    \b
    Examples:
      per registration answer 1 --scale EQ-5D-5L --answers 1,1,2,1,1,85
      per registration answer 1 --scale MSIS-29 --file msis29.txt
      printf '1\\n1\\n2\\n1\\n1\\n85\\n' | per registration answer 1 --scale eq-5d-5l --file - --replace
    """
    if (answers is None) == (file is None):
        raise click.UsageError("give the answers with either --answers or --file")
    from per_cli.cli.output import emit
    from per_cli.registrations.answers import read_answer_file
    from per_cli.registrations.use_cases import answer as answer_part
    from per_cli.scales.scoring import parse_answers

    parsed = parse_answers(answers) if answers is not None else read_answer_file(file or "-")
    record = answer_part(app, registration_id, scale=scale, answers=parsed, replace=replace, token=token)
    scored = ", ".join(f"{k}={v}" for k, v in record["scores"].items()) or "no scores"
    if record["pending"]:
        app.note(f"Scored {record['scale']} ({scored}); still pending: {', '.join(record['pending'])}.")
    else:
        app.note(f"Scored {record['scale']} ({scored}); registration {record['registration_id']} is complete.")
    emit([_answers_as_text(record, fmt)], fmt, single=True)


@cli.command("show")
@click.argument("registration_id", metavar="REG", type=click.IntRange(min=1))
@format_option()
@flags(registration="REG")
@click.pass_obj
def show(app: App, registration_id: int, fmt: str) -> None:
    """Show a registration: who started it, its status, and each part with answers and scores.

    The table format prints the registration, then one line per part; json prints one object with a "parts"
    list; csv, tsv, jsonl and plain print one row per part.

    \b
    Example:
      per registration show 1
      per registration show 1 --format json
    """
    from per_cli.cli.output import emit, render
    from per_cli.registrations.use_cases import show as show_registration

    detail = show_registration(app, registration_id)
    parts: list[dict[str, Any]] = detail["parts"]
    if fmt == "json":
        emit([detail], fmt, single=True)
    elif fmt == "table":
        head = {k: v for k, v in detail.items() if k != "parts"}
        rows = [_answers_as_text(p, fmt) for p in parts]
        click.echo(render([head], fmt, single=True) + "\n" + render(rows, fmt), nl=False)
    else:
        head = {k: detail[k] for k in ("registration_id", "personnummer", "unit")}
        emit([_answers_as_text({**head, **p}, fmt) for p in parts], fmt)


@cli.command("list")
@click.argument("personnummer")
@format_option()
@click.pass_obj
def list_(app: App, personnummer: str, fmt: str) -> None:
    """List a patient's registrations, oldest first: status, scales, those still pending.

    \b
    Example:
      per registration list 19121212-1212
      per registration list 1212121212 --format json
    """
    from per_cli.cli.output import emit
    from per_cli.registrations.use_cases import SUMMARY_COLUMNS, list_for_patient

    records = list_for_patient(app, personnummer)
    if not records:
        app.note("No registrations.")
    columns = ["registration_id", "status", "scales", "pending", "started_by", "started_at", "completed_at"]
    emit(records, fmt, columns=columns if fmt == "table" else None, header=SUMMARY_COLUMNS)


@cli.command("export")
@period_options
@click.option("--unit", metavar="CODE", shell_complete=complete_units, help="Only patients of this care unit.")
@click.option(
    "--scale",
    "scales",
    metavar="CODE[,CODE…]",
    shell_complete=_complete_codes,
    help="Only these scales; the score columns are then exactly theirs, whatever the data holds.",
)
@format_option(default="csv")
@flags(unit="--unit", scales="--scale")
@click.pass_obj
def export(
    app: App, since: datetime | None, until: datetime | None, unit: str | None, scales: str | None, fmt: str
) -> None:
    """Export answered scales for analysis: one row per answered scale, one column per score.

    Columns: registration_id, personnummer (YYYYMMDD-NNNN), unit, scale, version, completed_at (UTC,
    ISO 8601), then the score keys of the exported scales (`per scale show CODE`); a row fills only its own
    scale's scores. Ready for pandas.read_csv and R's read.csv; json gives the same rows as objects. Each patient
    exported is an audited access.

    \b
    Examples:
      per registration export --since 2026-01-01 --unit NEURO-SU > per.csv
      per registration export --scale MSIS-29 --format json
    """
    from per_cli.cli.output import emit
    from per_cli.registrations.export import ExportFilter
    from per_cli.registrations.export import export as export_rows

    columns, records = export_rows(app, ExportFilter(since=since, until=until, unit=unit, scales=scales))
    patients = len({r["personnummer"] for r in records})
    app.note(
        f"Exported {len(records)} answered scale{'s' if len(records) != 1 else ''} "
        f"of {patients} patient{'s' if patients != 1 else ''}."
    )
    emit(records, fmt, columns=columns)


def _answers_as_text(record: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """In text formats, answers as ``1,2,,4``; JSON keeps the list (with null for a missing answer)."""
    if fmt not in _TEXT_FORMATS:
        return dict(record)
    from per_cli.registrations.answers import answers_text

    answers: Sequence[int | None] | None = record.get("answers")
    return {**record, "answers": answers_text(answers)}
