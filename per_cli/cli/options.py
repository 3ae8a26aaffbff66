"""Option groups and parameter types shared by many commands (sqlite-utils style decorators).

Only click and the standard library are imported here: it all runs at ``--help`` and TAB completion.

Domain errors name domain fields (``unit``, ``since``, ``file`` …); :func:`flags` is where a command says which of
its flags gave each one, so the one-line error names what the user typed (``Error: --unit: no care unit X``).
The option groups below declare their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from per_cli.cli.output import FORMATS
from per_cli.errors import InvalidInput, PerError

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:  # click 8.5 types its parameter types by value; the classes stay plain at run time
    from click.shell_completion import CompletionItem

    _MomentType = click.ParamType[datetime, Any]
    _DayType = click.ParamType[date, Any]
    _TextType = click.ParamType[str, Any]
else:
    _MomentType = _DayType = _TextType = click.ParamType

# --- domain fields -> flags ---


def flag_for(field: str | None, by_field: Mapping[str, str]) -> str | None:
    """The flag for a domain field; a value after a space is kept (``channel sms`` -> ``--channel sms``)."""
    if field is None:
        return None
    name, space, value = field.partition(" ")
    flag = by_field.get(name)
    return field if flag is None else flag + space + value


def flags(**by_field: str) -> Callable[[F], F]:
    """``@flags(unit="--unit")``: this command's errors about the domain field ``unit`` name ``--unit``."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PerError as exc:
                exc.field = flag_for(exc.field, by_field)
                raise

        return cast(F, wrapper)

    return decorate


def _flag(param: click.Parameter | None) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name if param is not None else "value"


# --- file names ---


class FileName(_TextType):
    """A file name (``-`` where the option says so), taken as typed: the domain checks and names it. TAB offers the
    shell's file names, which ``click.Path`` would too, without click's own checks and messages."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return value if isinstance(value, str) else str(value)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="file")]


#: the type of every option that names a file to read or write
FILE = FileName()


# --- values from the database: care units and care givers ---


def complete_units(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """TAB after ``--unit``: the care unit codes in the database (imported only when completing)."""
    from per_cli.cli.completers import complete_unit_codes

    return complete_unit_codes(ctx, param, incomplete)


def complete_users(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """TAB after ``--user``: the care givers' user names in the database."""
    from per_cli.cli.completers import complete_caregivers

    return complete_caregivers(ctx, param, incomplete)


# --- --format ---


def format_option(
    default: str = "table", *, choices: tuple[str, ...] = FORMATS, output: bool = True
) -> Callable[[F], F]:
    """``--format``, the same choices everywhere records are printed, and (unless ``output`` is False: a command
    with its own ``--output``) ``--output FILE`` and ``--excel``; ``xlsx`` needs ``--output``."""
    if not output:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default=default,
            show_default=True,
            help="Output format for records on stdout.",
        )

    def decorate(fn: F) -> F:
        fn = click.option(
            "--excel",
            is_flag=True,
            is_eager=True,  # before --format, which it turns from table into csv
            expose_value=False,
            callback=_remember("excel"),
            help="CSV for Swedish Excel: UTF-8 with BOM, ';' between fields.",
        )(fn)
        fn = click.option(
            "--output",
            type=FILE,
            metavar="FILE",
            expose_value=False,
            callback=_remember("output"),
            help="Write the records to FILE (only you can read it, written whole) instead of stdout; xlsx needs it.",
        )(fn)
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices if "xlsx" in choices else (*choices, "xlsx")),
            default=default,
            show_default=True,
            callback=_remember("fmt"),
            help="Output format for records (xlsx: a workbook, with --output).",
        )(fn)

    return decorate


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Keep ``--format``/``--output``/``--excel`` where ``output.emit`` finds them; check them once all three are."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from per_cli.cli.output import OUTPUT_META

        found: dict[str, Any] = ctx.meta.setdefault(OUTPUT_META, {})
        if name == "fmt" and value == "table" and found.get("excel"):
            value = "csv"  # --excel alone: CSV for Excel, whatever the command's default
        found[name] = value
        if len(found) == 3 and not ctx.resilient_parsing:
            if found["fmt"] == "xlsx" and not found["output"]:
                raise click.UsageError("--format xlsx writes a workbook: add --output FILE", ctx=ctx)
            if found["excel"] and found["fmt"] not in ("csv", "table"):
                raise click.UsageError(
                    f"--excel is CSV for Excel; it does not go with --format {found['fmt']}", ctx=ctx
                )
        return value

    return callback


# --- a period: --since / --until ---


_AGO = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_moment(text: str, *, end: bool = False, now: datetime | None = None) -> datetime:
    """A day or a moment; naive is local.

    ``YYYY-MM-DD``, ``today`` and ``yesterday`` are the start of that day (with ``end`` the start of the next);
    ``7d``, ``2h``, ``30m``, ``1w`` are that long before ``now``; anything else is an ISO time.
    """
    value = text.strip().lower()
    now = now or datetime.now().astimezone()
    day_only = len(value) == 10 or value in ("today", "yesterday")
    if value in ("today", "yesterday"):
        moment = datetime.combine(now.date() - timedelta(days=1 if value == "yesterday" else 0), time())
    elif len(value) >= 2 and value[:-1].isdigit() and value[-1] in _AGO:
        moment = now - int(value[:-1]) * _AGO[value[-1]]
    elif len(value) == 10:
        moment = datetime.combine(date.fromisoformat(value), time())
    else:
        moment = datetime.fromisoformat(value.upper())
    if not 1900 <= moment.year <= 9000:  # also keeps the arithmetic below and the database's clocks in range
        raise ValueError(f"{text.strip()} is outside the years 1900–9000")
    if day_only and end:
        moment += timedelta(days=1)
    return moment.astimezone() if moment.tzinfo is None else moment


class Moment(_MomentType):
    """A day or a moment, parsed once by click; ``end`` makes a day mean up to its end (``--until``).

    A value that is neither is the domain's bad input (one line naming the flag, exit 1), as it always was.
    """

    name = "moment"

    def __init__(self, *, end: bool = False) -> None:
        self.end = end

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_moment(str(value), end=self.end)
        except (ValueError, OverflowError) as exc:
            reason = str(exc) if "outside the years" in str(exc) else "not a date or time"
            raise InvalidInput(
                f"{reason} (YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, 7d, 2h): {str(value).strip()!r}",
                field=_flag(param),
            ) from None


def period_options(fn: F) -> F:
    """``--since`` and ``--until`` (datetimes, local time unless given): ``since`` inclusive, ``until`` exclusive."""
    fn = click.option(
        "--until",
        type=Moment(end=True),
        metavar="DATE|TIME",
        help="Up to the end of this day (YYYY-MM-DD, today, yesterday), or up to this moment (YYYY-MM-DDTHH:MM, 2h, "
        "7d ago; exclusive).",
    )(fn)
    fn = click.option(
        "--since",
        type=Moment(),
        metavar="DATE|TIME",
        help="From this day (YYYY-MM-DD, today, yesterday; local time) or this moment (YYYY-MM-DDTHH:MM, or 2h, 7d "
        "ago), inclusive.",
    )(fn)
    return flags(since="--since", until="--until")(fn)


class Day(_DayType):
    """A calendar day, ``YYYY-MM-DD`` (a spreadsheet's ``YYYY-MM-DD 00:00:00`` too), future days allowed."""

    name = "day"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        from per_cli.patients.fields import parse_date

        try:
            return parse_date(str(value), "day", allow_future=True)
        except InvalidInput as exc:
            exc.field = _flag(param)
            raise


# --- spreadsheets: --encoding / --delimiter / --sheet ---


def spreadsheet_options(fn: F) -> F:
    """How to read the ``--file`` spreadsheet; errors about the file and these options name their flags."""
    fn = click.option("--sheet", help="With --file: the XLSX sheet to read (default: the first).")(fn)
    fn = click.option("--delimiter", help="With --file: field delimiter (default: detect ',', ';' or tab).")(fn)
    fn = click.option(
        "--encoding", help="With --file: text encoding (default: detect UTF-8, UTF-8 BOM or Windows-1252)."
    )(fn)
    return flags(file="--file", encoding="--encoding", delimiter="--delimiter", sheet="--sheet")(fn)
