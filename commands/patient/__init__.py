"""``per patient``: enrol patients and keep their profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import FILE, complete_units, flags, format_option, spreadsheet_options

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("patient")
def cli() -> None:
    """Enrol patients and keep their profiles.

    A personnummer is accepted in every form (YYMMDD-NNNN, YYYYMMDDNNNN, with + for 100 years or more,
    samordningsnummer); it is stored as 12 digits and shown as YYYYMMDD-NNNN.
    """


@cli.command("enrol")
@click.argument("personnummer", required=False)
@click.option("--first-name", help="First name (förnamn).")
@click.option("--last-name", help="Last name (efternamn).")
@click.option("--unit", shell_complete=complete_units, help="Care unit code; for --file, the unit of rows without one.")
@click.option("--mobile", help="Mobile number; Swedish by default, stored as E.164 (+46701234567).")
@click.option("--email", help="E-mail address.")
@click.option("--pal", help="Responsible physician (PAL).")
@click.option("--registered-on", metavar="YYYY-MM-DD", help="Registration date. Default: today.")
@click.option("--comment", help="Free-text comment.")
@click.option(
    "--file", "file", type=FILE, metavar="FILE|-", help="Enrol every row of a CSV, TSV or XLSX file ('-': stdin)."
)
@click.option("--dry-run", is_flag=True, help="With --file: validate everything, change nothing.")
@click.option(
    "--on-existing",
    type=click.Choice(["skip", "update", "fail"]),
    default="skip",
    show_default=True,
    help="With --file: what to do with a patient already enrolled.",
)
@click.option(
    "--rejects",
    type=FILE,
    metavar="FILE",
    help="With --file: write rejected rows here (- for stdout), plus line and reason.",
)
@spreadsheet_options
@click.option("--ignore-unknown-columns", is_flag=True, help="With --file: skip columns per does not know.")
@click.option(
    "--override-objection",
    is_flag=True,
    help="Enrol a person who objected to registration or was erased all the same (needs --reason; audited).",
)
@click.option("--reason", metavar="TEXT", help="With --override-objection: why (recorded in the access log).")
@format_option()
@flags(default_unit="--unit", on_existing="--on-existing", rejects="--rejects", override_reason="--reason")
@click.pass_obj
def enrol(
    app: App,
    personnummer: str | None,
    first_name: str | None,
    last_name: str | None,
    unit: str | None,
    mobile: str | None,
    email: str | None,
    pal: str | None,
    registered_on: str | None,
    comment: str | None,
    file: str | None,
    dry_run: bool,
    on_existing: str,
    rejects: str | None,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    ignore_unknown_columns: bool,
    override_objection: bool,
    reason: str | None,
    fmt: str,
) -> None:
    """Enrol one patient, or every row of a spreadsheet with --file.

    A person who objected to registration or was erased (`per patient objections`) is refused, in any form
    of the number, unless --override-objection --reason TEXT says why.

    \b
    Examples:
      per patient enrol 19121212-1212 --first-name Tolvan --last-name Tolvansson \\
          --unit NEURO-SU --mobile "070-174 06 05" --email tolvan@example.se
      per patient enrol --file patienter.csv --unit NEURO-SU --rejects avvisade.csv
    """
    if override_objection and reason is None:
        raise click.UsageError("--override-objection needs --reason TEXT: say why the objection is overridden")
    if reason is not None and not override_objection:
        raise click.UsageError("--reason goes with --override-objection")
    override = reason if override_objection else None
    if file is not None:
        if personnummer or first_name or last_name or mobile or email or pal or registered_on or comment:
            raise click.UsageError("--file enrols from the file; give no PERSONNUMMER or per-patient options")
        options = {
            "file": file,
            "unit": unit,
            "dry_run": dry_run,
            "on_existing": on_existing,
            "rejects": rejects,
            "encoding": encoding,
            "delimiter": delimiter,
            "sheet": sheet,
            "ignore_unknown_columns": ignore_unknown_columns,
            "override_objection": override,
        }
        from commands.patient.enrolment import enrol_file_command

        enrol_file_command(app, options, fmt)
        return
    bulk_only = [
        n
        for n, v in (
            ("--dry-run", dry_run),
            ("--rejects", rejects),
            ("--encoding", encoding),
            ("--delimiter", delimiter),
            ("--sheet", sheet),
            ("--ignore-unknown-columns", ignore_unknown_columns),
        )
        if v
    ]
    if bulk_only:
        raise click.UsageError(f"{', '.join(bulk_only)} only go with --file")
    if not personnummer:
        raise click.UsageError("give a PERSONNUMMER, or --file FILE")
    for name, value in (("--first-name", first_name), ("--last-name", last_name), ("--unit", unit)):
        if not value:
            raise click.UsageError(f"missing option {name}")
    from per_cli.cli.output import emit
    from per_cli.patients.register import enrol_one

    record, warnings = enrol_one(
        app,
        personnummer,
        first_name=first_name,
        last_name=last_name,
        unit=unit,
        mobile=mobile,
        email=email,
        pal=pal,
        registered_on=registered_on,
        comment=comment,
        override_objection=override,
    )
    for warning in warnings:
        app.warn(warning)
    app.note(f"Enrolled {record['first_name']} {record['last_name']} ({record['personnummer']}) at {record['unit']}.")
    emit([record], fmt, single=True)


@cli.command("show")
@click.argument("personnummer")
@format_option()
@click.pass_obj
def show(app: App, personnummer: str, fmt: str) -> None:
    """Show a patient's profile and login status (the access is audited).

    The login status: whether a password is set and must be changed, when and where it was last sent, failed
    tries since the last login, locked until when (`per patient unlock` lifts it), the last login and its
    method, and how many sessions are open.

    \b
    Example:
      per patient show 1212121212 --format json
    """
    from per_cli.cli.output import emit
    from per_cli.credentials.status import show_with_login_status

    emit([show_with_login_status(app, personnummer)], fmt, single=True)


@cli.command("list")
@click.option("--unit", shell_complete=complete_units, help="Only patients of this care unit.")
@click.option(
    "--search",
    help="Part of a name, e-mail address, mobile number (any form) or personnummer; every word must match.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@format_option()
@flags(unit="--unit")
@click.pass_obj
def list_(app: App, unit: str | None, search: str | None, limit: int, fmt: str) -> None:
    """List patients by last name, then first name, in Swedish order (each patient listed is an audited access).

    The search ignores case but not å, ä and ö ("östen" finds Östen, "osten" does not; other accents may be
    left out). A number is matched by its digits however it is written: a mobile as 070-174 06 05 or
    +46 70 174, a personnummer or part of it. Stderr says "showing N of M" when --limit cuts the list.

    \b
    Examples:
      per patient list --unit NEURO-SU --search tolv --format csv
      per patient list --search "070-174 06 05"
      per patient list --search "åsa öberg"
    """
    from per_cli.cli.output import emit
    from per_cli.patients.register import list_records

    records, total = list_records(app, unit=unit, search=search, limit=limit)
    if not records:
        app.note("no patients match")
    elif total > len(records):
        more = f"--limit {total} shows all" if total <= 100_000 else "narrow it with --unit or --search"
        app.note(f"showing {len(records)} of {total} ({more})")
    emit(
        records,
        fmt,
        columns=None
        if fmt != "table"
        else ["personnummer", "first_name", "last_name", "unit", "mobile", "email", "excluded_on"],
        header=_PATIENT_COLUMNS,
    )


#: the columns of an empty CSV/TSV/xlsx listing (a listing with patients has the records' own)
_PATIENT_COLUMNS = (
    "personnummer",
    "first_name",
    "last_name",
    "unit",
    "mobile",
    "mobile_type",
    "email",
    "contact_person",
    "pal",
    "comment",
    "registered_on",
    "excluded_on",
    "exclusion_reason",
    "password_sent_to",
    "password_sent_at",
)


@cli.command("edit-profile")
@click.argument("personnummer")
@click.option("--mobile", help="New mobile number (with country code, or Swedish).")
@click.option("--no-mobile", is_flag=True, help="Remove the mobile number.")
@click.option("--email", help="New e-mail address.")
@click.option("--no-email", is_flag=True, help="Remove the e-mail address.")
@click.option(
    "--contact-person", type=click.Choice(["patient", "relative", "other"]), help="Who the contact details belong to."
)
@click.option("--first-name")
@click.option("--last-name")
@click.option("--pal", help="Responsible physician (PAL).")
@click.option("--comment")
@format_option()
@flags(
    mobile="--mobile",
    email="--email",
    contact_person="--contact-person",
    first_name="--first-name",
    last_name="--last-name",
    pal="--pal",
    comment="--comment",
)
@click.pass_obj
def edit_profile(
    app: App,
    personnummer: str,
    mobile: str | None,
    no_mobile: bool,
    email: str | None,
    no_email: bool,
    contact_person: str | None,
    first_name: str | None,
    last_name: str | None,
    pal: str | None,
    comment: str | None,
    fmt: str,
) -> None:
    """Change a patient's contact details and base data ("Redigera patientprofil").

    \b
    Example:
      per patient edit-profile 191212121212 --mobile +46701740605 --email tolvan@example.se
    """
    if mobile is not None and no_mobile:
        raise click.UsageError("--mobile and --no-mobile contradict each other")
    if email is not None and no_email:
        raise click.UsageError("--email and --no-email contradict each other")
    from per_cli.cli.output import emit
    from per_cli.patients.fields import ProfileChange
    from per_cli.patients.register import edit_profile as edit

    change = ProfileChange(
        mobile=mobile,
        clear_mobile=no_mobile,
        email=email,
        clear_email=no_email,
        contact_person=contact_person,
        first_name=first_name,
        last_name=last_name,
        pal=pal,
        comment=comment,
    )
    if change == ProfileChange():
        raise click.UsageError("nothing to change: give at least one option")
    record, changed, warnings = edit(app, personnummer, change)
    for warning in warnings:
        app.warn(warning)
    app.note(f"Updated {', '.join(changed)}." if changed else "Nothing changed: the profile already says so.")
    emit([record], fmt, single=True)


@cli.command("exclude")
@click.argument("personnummer")
@click.option("--on", "on", metavar="YYYY-MM-DD", help="Exclusion date. Default: today.")
@click.option("--reason", help="Why the patient is excluded.")
@format_option()
@flags(excluded_on="--on", exclusion_reason="--reason")
@click.pass_obj
def exclude(app: App, personnummer: str, on: str | None, reason: str | None, fmt: str) -> None:
    """Exclude a patient from the registry (exclusion date); logins and registrations are then refused.

    \b
    Example:
      per patient exclude 191212121212 --on 2026-01-31 --reason "Avböjer medverkan"
    """
    from per_cli.cli.output import emit
    from per_cli.patients.register import exclude_patient

    record = exclude_patient(app, personnummer, on=on, reason=reason)
    app.note(f"Excluded {record['personnummer']} on {record['excluded_on'].isoformat()}.")
    emit([record], fmt, single=True)


@cli.command("include")
@click.argument("personnummer")
@format_option()
@click.pass_obj
def include(app: App, personnummer: str, fmt: str) -> None:
    """Undo an exclusion: the patient is in the registry again (audited).

    \b
    Example:
      per patient include 191212121212
    """
    from per_cli.cli.output import emit
    from per_cli.patients.register import include_patient

    record, was = include_patient(app, personnummer)
    app.note(f"Included {record['personnummer']} again (was excluded on {was.isoformat()}).")
    emit([record], fmt, single=True)


@cli.command("unlock")
@click.argument("personnummer")
@format_option()
@click.pass_obj
def unlock(app: App, personnummer: str, fmt: str) -> None:
    """Forget a patient's failed login tries and lift a lock, without a new password (audited).

    `per patient show` says whether the patient is locked and how many tries failed.

    \b
    Example:
      per patient unlock 191212121212
    """
    from per_cli.cli.output import emit
    from per_cli.credentials.status import unlock_patient

    record = unlock_patient(app, personnummer)
    shown, failed, locked_until = record["personnummer"], record["failed_logins_cleared"], record["was_locked_until"]
    if locked_until is not None:
        app.note(
            f"Unlocked {shown} (was locked until {locked_until.astimezone():%Y-%m-%d %H:%M}, {failed} failed tries)."
        )
    elif failed:
        app.note(f"Cleared {failed} failed tries of {shown}; it was not locked.")
    else:
        app.note(f"{shown} was not locked and had no failed tries: nothing to do.")
    emit([record], fmt, single=True)


def _register_rights() -> None:
    """The rights commands live in their own module (``commands.patient.rights``), in this group."""
    from commands.patient.rights import erase, extract, objections

    for command in (erase, objections, extract):
        cli.add_command(command)


_register_rights()
