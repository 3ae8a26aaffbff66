"""The shared option groups: a period parsed once by its parameter type, spreadsheet options, domain fields named
as the flags that gave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from click.testing import CliRunner

from per_cli.cli.options import flag_for, flags, period_options, spreadsheet_options
from per_cli.errors import InvalidInput, NotFound


def _period_command() -> click.Command:
    @click.command()
    @period_options
    def show(since: datetime | None, until: datetime | None) -> None:
        click.echo(f"{since.isoformat() if since else '-'} {until.isoformat() if until else '-'}")

    return show


def test_a_day_is_local_midnight_and_until_takes_the_whole_day() -> None:
    result = CliRunner().invoke(_period_command(), ["--since", "2026-01-31", "--until", "2026-01-31"])
    assert result.exit_code == 0, result.output
    since, until = (datetime.fromisoformat(part) for part in result.output.split())
    assert since == datetime(2026, 1, 31).astimezone() and since.tzinfo is not None
    assert until - since == timedelta(days=1)


def test_a_moment_keeps_its_offset_and_a_naive_one_is_local() -> None:
    result = CliRunner().invoke(_period_command(), ["--since", "2026-01-31T08:30+01:00", "--until", "2026-02-01T10:00"])
    since, until = (datetime.fromisoformat(part) for part in result.output.split())
    assert since == datetime(2026, 1, 31, 7, 30, tzinfo=UTC) and since.utcoffset() == timedelta(hours=1)
    assert until == datetime(2026, 2, 1, 10).astimezone()
    unset = CliRunner().invoke(_period_command(), [])
    assert unset.output == "- -\n"


def test_a_bad_moment_is_the_domain_error_naming_the_flag() -> None:
    result = CliRunner().invoke(_period_command(), ["--until", "31/1"])
    assert isinstance(result.exception, InvalidInput)
    assert (
        str(result.exception)
        == "--until: not a date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, 7d, 2h): '31/1'"
    )


def test_flags_rename_the_domain_field_of_the_same_error() -> None:
    @click.command()
    @flags(unit="--unit", channel="--channel")
    def fail() -> None:
        raise NotFound("no care unit X", field="unit")

    result = CliRunner().invoke(fail, [])
    assert isinstance(result.exception, NotFound) and str(result.exception) == "--unit: no care unit X"
    assert flag_for("channel sms", {"channel": "--channel"}) == "--channel sms"
    assert flag_for("answers", {"channel": "--channel"}) == "answers"
    assert flag_for(None, {"channel": "--channel"}) is None


def test_spreadsheet_options_name_their_flags() -> None:
    @click.command()
    @click.option("--file")
    @spreadsheet_options
    def read(file: str | None, encoding: str | None, delimiter: str | None, sheet: str | None) -> None:
        raise InvalidInput(f"{encoding} {delimiter} {sheet}", field="sheet")

    result = CliRunner().invoke(read, ["--encoding", "cp1252", "--delimiter", ";", "--sheet", "Blad1"])
    assert str(result.exception) == "--sheet: cp1252 ; Blad1"
    assert [p.opts for p in read.params] == [["--file"], ["--encoding"], ["--delimiter"], ["--sheet"]]


def test_period_through_a_real_command(tmp_path: Path) -> None:
    """``audit list`` parses its period through the shared group, before any database is opened."""
    from per_cli.cli import cli

    (tmp_path / "per.toml").write_text("")
    env = {"PER_CONFIG": str(tmp_path / "per.toml"), "PER_DATABASE_URL": f"sqlite:///{tmp_path / 'per.db'}"}
    result = CliRunner().invoke(cli, ["audit", "list", "--since", "tomorrow"], env=env)
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --since: not a date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, 7d, 2h): 'tomorrow'\n",
    )
    assert not (tmp_path / "per.db").exists()


def test_every_command_that_prints_records_has_every_format() -> None:
    from per_cli.cli import cli
    from per_cli.cli.output import DOCUMENT_FORMATS, FORMATS

    def leaves(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
        if not isinstance(command, click.Group):
            return [(path, command)]
        ctx = click.Context(command)
        found = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += leaves(sub, (*path, name))
        return found

    without = {("bankid", "simulator"), ("completion",)}  # a server's address, a shell script: no records
    formats = {}
    for path, command in leaves(cli, ()):
        option = next((p for p in command.params if isinstance(p, click.Option) and "--format" in p.opts), None)
        formats[path] = tuple(option.type.choices) if option and isinstance(option.type, click.Choice) else None
    assert {path for path, choices in formats.items() if choices is None} == without
    # every listing may also be a workbook (with --output); a command whose --output is its own document may not
    own_output = {("audit", "checkpoint"), ("audit", "review")}
    assert {path for path, choices in formats.items() if choices == FORMATS} == own_output
    rest = {choices for path, choices in formats.items() if choices is not None and path not in own_output}
    assert rest == {DOCUMENT_FORMATS}
    assert len(formats) > 30
