"""``per patient erase | objections | extract``: the patient's rights to erasure, objection and an extract."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import FILE, flags, format_option, period_options
from per_cli.cli.output import DOCUMENT_FORMATS

if TYPE_CHECKING:
    from datetime import datetime

    from per_cli.cli.app import App

#: the erasure reasons (per_cli.rights.tombstones.REASONS; a test keeps them equal without importing it here)
REASONS = ("objection", "request", "other")


@click.command("erase")
@click.argument("personnummer")
@click.option(
    "--reason",
    type=click.Choice(REASONS),
    help="Why (required): the patient objected to registration, asked to be erased, or another ground.",
)
@click.option("--note", help="A note kept with the tombstone, e.g. the request's reference (no patient data).")
@click.option("--yes", is_flag=True, help="Erase without asking (required when not on a terminal).")
@format_option()
@flags(reason="--reason", note="--note")
@click.pass_obj
def erase(app: App, personnummer: str, reason: str | None, note: str | None, yes: bool, fmt: str) -> None:
    """Erase a patient's registry data for good, keeping only a tombstone and the access log.

    Deletes the profile and contact details, password, sessions, one-time codes, password deliveries and
    registrations with their answers and scores, in one transaction. Kept: a tombstone (personnummer,
    erasure date, reason, note), so the erasure can be proven and a later enrolment is refused, and the
    access log, which is evidence with its own retention. Without --yes it shows what will be erased and
    asks first.

    \b
    Example:
      per patient erase 19121212-1212 --reason objection --note "Ärende 2026-117"
    """
    from per_cli.cli.output import emit
    from per_cli.cli.prompts import confirm, interactive
    from per_cli.errors import PerError
    from per_cli.rights.erase import check_request, describe, preview
    from per_cli.rights.erase import erase as erase_patient

    if reason is None:  # checked here, not by click: one line, however many choices
        raise click.UsageError(f"missing option --reason: {', '.join(REASONS)}")
    check_request(reason, note)
    if not yes:
        if not interactive():
            raise click.UsageError("not on a terminal, so nobody can confirm: give --yes to erase without asking")
        shown = preview(app, personnummer)
        if not confirm(["This erases, for good:", *shown.lines()], "Erase all of it?"):
            raise PerError("not confirmed; nothing was erased")
    result = erase_patient(app, personnummer, reason=reason, note=note)
    app.note(f"Erased {result['personnummer']}: {describe(result['deleted'])}. Kept: the tombstone and the access log.")
    emit([result], fmt, single=True)


@click.command("objections")
@period_options
@format_option()
@click.pass_obj
def objections(app: App, since: datetime | None, until: datetime | None, fmt: str) -> None:
    """List the tombstones: who objected to registration or asked to be erased, when and why.

    Each person listed is an audited access. enrolled_again says that staff have since enrolled the
    person with --override-objection.

    \b
    Example:
      per patient objections --since 2026-01-01 --format csv
    """
    from per_cli.cli.output import emit
    from per_cli.rights.objections import COLUMNS, list_objections

    emit(list_objections(app, since=since, until=until), fmt, columns=COLUMNS)


@click.command("extract")
@click.argument("personnummer")
@click.option(
    "--language",
    type=click.Choice(["sv", "en"]),
    help="Wording of titles and headings. Default: [messages] language in the config, else sv.",
)
@format_option(choices=DOCUMENT_FORMATS, output=False)
@click.option(
    "--output",
    type=FILE,
    metavar="FILE|-",
    help="Write the extract to FILE (readable only by you, written whole) instead of stdout; xlsx needs it.",
)
@flags(output="--output")
@click.pass_obj
def extract(app: App, personnummer: str, language: str | None, fmt: str, output: str | None) -> None:
    """The register extract: everything the registry holds about a person (GDPR art. 15).

    Profile and contact details, registrations with answers and scores, passwords sent (to where and
    when, never the password), one-time codes sent, logins and sessions, erasures, and the access-log
    extract of `per audit extract`. For an erased person: the tombstone and the access log. json gives one
    object, jsonl a line per record, csv/tsv/plain the long table section,item,field,value, table and
    xlsx a titled part per section. Producing it is logged.

    \b
    Examples:
      per patient extract 19121212-1212 --format xlsx --output registerutdrag.xlsx
      per patient extract 19121212-1212 --language en --format json
    """
    from per_cli.cli.document import render_document, workbook_bytes
    from per_cli.files import write_private
    from per_cli.rights.extract import register_extract

    if fmt == "xlsx" and output is None:
        raise click.UsageError("--format xlsx writes a workbook: give --output FILE (or --output - for stdout)")
    doc = register_extract(app, personnummer, language=language)
    if fmt == "xlsx":
        data = workbook_bytes(doc)
    elif output is None or output == "-":
        click.echo(render_document(doc, fmt), nl=False)
        return
    else:  # a file for Excel: UTF-8 with a byte order mark, so å, ä and ö survive
        data = render_document(doc, fmt).encode("utf-8-sig" if fmt in ("csv", "tsv") else "utf-8")
    write_private(output or "-", data)
    if output != "-":
        counts = ", ".join(f"{s.key} {len(s.records)}" for s in doc.sections)
        app.note(f"Wrote {output}: register extract for {doc.personnummer} ({counts}).")
