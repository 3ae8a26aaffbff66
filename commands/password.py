"""``per password``: patients' passwords."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from per_cli.cli.options import FILE, format_option, spreadsheet_options

if TYPE_CHECKING:
    from per_cli.cli.app import App

#: why ``--verify-caller`` is gone (it used BankID's phone authentication before a new password was sent)
VERIFY_CALLER_GONE = (
    "--verify-caller was removed: BankID's relying-party terms forbid using BankID to confirm the person behind "
    "another credential or to issue a new one (ID-växling); confirm a changed contact with the patient and use "
    "--contact-verified-by in-person|id-document|callback"
)


def _refuse_verify_caller(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        raise click.UsageError(VERIFY_CALLER_GONE, ctx=ctx)
    return value


@click.group("password")
def cli() -> None:
    """Patients' passwords: staff send new ones; the patient changes their own.

    Passwords never travel on the command line: a hidden prompt or --password-stdin.
    """


@cli.command("change")
@click.argument("personnummer")
@click.option(
    "--session",
    "token",
    required=True,
    envvar="PER_SESSION",
    metavar="TOKEN",
    help="The patient's own login session. Env: PER_SESSION.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read three lines from stdin: the old password, the new one, the new one again.",
)
@format_option()
@click.pass_obj
def change(app: App, personnummer: str, token: str, password_stdin: bool, fmt: str) -> None:
    """The patient's own password change ("Min profil"), in their own session.

    The new password has at least 8 characters (config [passwords] min_length_patient) and is not a common
    password. The must-change mark is cleared and the patient's other sessions end.

    \b
    Example:
      per password change 191212121212 --session "$TOKEN"
      printf '%s\\n%s\\n%s\\n' "$OLD" "$NEW" "$NEW" | PER_SESSION="$TOKEN" \\
          per password change 191212121212 --password-stdin
    """
    from per_cli.cli.output import emit
    from per_cli.cli.prompts import prompt_secret, stdin_lines
    from per_cli.passwords.change import change_password

    if password_stdin:
        old, new, again = stdin_lines(3, what="the old password, the new one and the new one again")
        if new != again:
            raise click.UsageError("the new password and its repetition differ")
    else:
        old = prompt_secret("Old password")
        new = prompt_secret("New password", confirm=True)
    record = change_password(app, personnummer, token=token, old=old, new=new)
    ended = record["sessions_ended"]
    app.note(f"Password changed for {record['patient']}." + (f" {ended} other session(s) ended." if ended else ""))
    emit([record], fmt, single=True)


@cli.command("status")
@click.argument("personnummer")
@format_option()
@click.pass_obj
def status(app: App, personnummer: str, fmt: str) -> None:
    """What became of the passwords sent to a patient: each message, newest first.

    Statuses: pending, sent, failed, unknown (may have been delivered), delivered, undelivered, skipped. The
    password state (a pending password since when, the last recipients) is on stderr.

    \b
    Example:
      per password status 19121212-1212
    """
    from per_cli.campaigns.report import STATUS_COLUMNS, patient_status
    from per_cli.cli.output import emit

    header, records = patient_status(app, personnummer)
    pending = f"; a new password is pending since {header['pending_since']:%Y-%m-%d %H:%M}" if header[
        "pending_since"] else ""  # fmt: skip
    app.note(f"{header['personnummer']}: {'has a password' if header['has_password'] else 'no password'}{pending}")
    columns = ("campaign", "channel", "recipient", "status", "created_at", "sent_at", "updated_at", "error")
    emit(records, fmt, columns=columns if fmt == "table" else None, header=STATUS_COLUMNS)


# --- ``password send``: staff send a new password by SMS and/or e-mail ---

_MAX_FAILURE_LINES = 20


@cli.command("send")
@click.argument("personnummer", required=False)
@click.option("--sms", is_flag=True, help="Send by SMS to the mobile number on the patient's profile.")
@click.option("--email", is_flag=True, help="Send by e-mail to the address on the patient's profile.")
@click.option(
    "--file",
    "file",
    type=FILE,
    metavar="FILE|-",
    help="Send to every patient in a list: one personnummer per line, or a CSV/TSV/XLSX file with a "
    "personnummer column ('-': stdin).",
)
@spreadsheet_options
@click.option(
    "--workers", type=click.IntRange(1, 256), help="With --file: threads that hash passwords (default: one per core)."
)
@click.option(
    "--channels",
    "channel_rule",
    type=click.Choice(["all", "available"]),
    help="With --file: 'all' (default) sends on every chosen channel and rejects a patient who lacks one; "
    "'available' sends each patient on those of the chosen channels they have.",
)
@click.option(
    "--resume",
    metavar="CAMPAIGN",
    help="Go on with a list's campaign (the id printed at its start): only patients not yet reached get a password.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="With --file or --resume: also send to patients whose message may have arrived (status unknown).",
)
@click.option(
    "--new-campaign",
    is_flag=True,
    help="With --file: start a new campaign even if this list was sent before on the same channels.",
)
@click.option(
    "--dry-run", is_flag=True, help="With --file: show who would get a password on which channels; send nothing."
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="With --file (PostgreSQL): store the campaign and return; `per campaign work` sends it.",
)
@click.option(
    "--contact-verified-by",
    type=click.Choice(["in-person", "id-document", "callback"]),
    help="How you confirmed with the patient a mobile number or e-mail address changed in the last "
    "[passwords] contact_change_hold_hours (24); recorded in the audit log. Without it such a contact gets no "
    "password (exit 4).",
)
@click.option(
    "--verify-caller", is_flag=True, hidden=True, is_eager=True, expose_value=False, callback=_refuse_verify_caller
)
@format_option()
@click.pass_obj
def send(
    app: App,
    personnummer: str | None,
    sms: bool,
    email: bool,
    file: str | None,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    workers: int | None,
    channel_rule: str | None,
    resume: str | None,
    resend_unknown: bool,
    new_campaign: bool,
    dry_run: bool,
    enqueue: bool,
    contact_verified_by: str | None,
    fmt: str,
) -> None:
    """Send a patient a new password by SMS, e-mail or both ("Skicka nytt lösenord").

    The password is random (12 characters without look-alikes such as 0/O and 1/l), stored only as an
    Argon2id hash, and must be changed by the patient after logging in. The text is Swedish, or English with
    [messages] language = "en"; it never contains the personnummer. The confirmation names the recipients
    and the time, as the profile shows them.

    Exit 0: sent on every channel. 3: sent on some, or may have been (unknown); the report names the others.
    1: nothing was sent (the old password still works), or refused before anything changed: no mobile or a
    fixed-line number for --sms, no e-mail address for --email, unknown or excluded patient. 4: the mobile
    number or e-mail address replaced an earlier one less than 24 h ago ([passwords] contact_change_hold_hours):
    confirm the change with the patient, then send with --contact-verified-by.

    With --file, every patient in the list gets a password, as a campaign whose id is printed at the start: a
    result per patient on stdout, a summary on stderr, exit 3 if any patient did not get one on every channel.
    Each password is stored (pending) before it is sent, so a run stopped at any moment leaves every patient
    with a password that works. Running the same list on the same channels again, or --resume CAMPAIGN, sends
    only to the patients not yet reached; a patient whose message may have arrived (unknown) is listed and
    sent again only with --resend-unknown. A patient whose mobile number or e-mail address replaced an earlier
    one within the hold is a rejected row, unless the list's contact_verified_by (kontakt_verifierad) column
    says in-person, id-document or callback for them (audited); --channels available then uses their others.

    \b
    Examples:
      per password send 19121212-1212 --sms --email
      per password send 191212121212 --email --format json
      per password send 191212121212 --sms --contact-verified-by callback   # number changed today
      per password send --file patienter.xlsx --sms --email --format csv > resultat.csv
      per password send --file patienter.xlsx --sms --email --channels available --dry-run
      per password send --resume 3f1c0e5b9a7d4e2f8c6b1a0d9e8f7a6b
    """
    channels = [name for name, chosen in (("sms", sms), ("email", email)) if chosen]
    bulk_only = [flag for flag, value in (("--channels", channel_rule), ("--resend-unknown", resend_unknown),
                                          ("--new-campaign", new_campaign), ("--dry-run", dry_run),
                                          ("--enqueue", enqueue)) if value]  # fmt: skip
    if contact_verified_by is not None and (file is not None or resume is not None):
        raise click.UsageError("--contact-verified-by confirms one patient's contact; it does not go with --file")
    if resume is not None and personnummer is None:
        if new_campaign or dry_run:
            raise click.UsageError("--resume goes on with a campaign; it does not go with --new-campaign or --dry-run")
        _send_file(app, file, channels, fmt, encoding=encoding, delimiter=delimiter, sheet=sheet, workers=workers,
                   channel_rule=channel_rule or ("all" if channels else None), resume=resume,
                   resend_unknown=resend_unknown, enqueue=enqueue)  # fmt: skip
        return
    if not channels:
        raise click.UsageError("choose where to send the password: --sms, --email or both")
    if file is not None:
        if personnummer is not None:
            raise click.UsageError("give a PERSONNUMMER or --file FILE, not both")
        if dry_run and (enqueue or new_campaign):
            raise click.UsageError("--dry-run sends nothing; it does not go with --enqueue or --new-campaign")
        _send_file(app, file, channels, fmt, encoding=encoding, delimiter=delimiter, sheet=sheet, workers=workers,
                   channel_rule=channel_rule or "all", resend_unknown=resend_unknown, new_campaign=new_campaign,
                   dry_run=dry_run, enqueue=enqueue)  # fmt: skip
        return
    given = [flag for flag, value in (("--encoding", encoding), ("--delimiter", delimiter), ("--sheet", sheet),
                                      ("--workers", workers)) if value is not None]  # fmt: skip
    given += bulk_only + (["--resume"] if resume is not None else [])
    if given:
        raise click.UsageError(f"{', '.join(given)} only go with --file")
    if personnummer is None:
        raise click.UsageError("give the patient's PERSONNUMMER, or --file FILE")
    send_one(app, personnummer, channels, fmt, contact_verified_by=contact_verified_by)


def send_one(
    app: App, personnummer: str, channels: list[str], fmt: str, *, contact_verified_by: str | None = None
) -> None:
    """Send, print the confirmation (table) or the per-channel report, then exit 0, 3 or 1 (4: contact held)."""
    from per_cli.cli.output import emit
    from per_cli.passwords.delivery.single import outcome_error, send_password

    delivery = send_password(
        app, personnummer, channels=channels, contact_verified_by=contact_verified_by, warn=app.warn
    )
    record = delivery.record()
    if fmt == "table":
        if delivery.sent and delivery.sent_at is not None:
            click.echo(f"Password sent to {delivery.sent_to} at {delivery.sent_at.astimezone():%Y-%m-%d %H:%M:%S}")
    elif fmt in ("json", "jsonl"):
        emit([record], fmt, single=True)
    else:
        rows = [{"personnummer": record["personnummer"], "sent_at": record["sent_at"], **channel}
                for channel in record["channels"]]  # fmt: skip
        emit(rows, fmt)
    error = outcome_error(delivery)
    if error is not None:
        raise error


def _send_file(app: App, file: str | None, channels: list[str], fmt: str, **options: Any) -> None:
    """Run a bulk send: the campaign id first, failures on stderr as they happen, a result per patient on stdout,
    the summary last; a run that ended early still reports everything and says how to resume."""
    from per_cli.cli.output import emit
    from per_cli.errors import DeliveryFailed, PartialFailure
    from per_cli.passwords.delivery.bulk import BulkOptions, BulkSummary, RowResult, send_file

    results: list[RowResult] = []
    shown = 0

    def on_result(result: RowResult) -> None:
        nonlocal shown
        if fmt == "jsonl":
            emit([result.record()], fmt)
        else:
            results.append(result)
        if result.status not in ("sent", "already", "would_send"):
            shown += 1
            if shown <= _MAX_FAILURE_LINES:
                app.say(f"line {result.line}: {result.personnummer}: {result.status}: {result.error}")

    def on_start(campaign_id: str, resumed: bool) -> None:
        app.note(f"{'Resuming' if resumed else 'Campaign'} {campaign_id}" + (
            ": only patients not yet reached get a password" if resumed else ""))  # fmt: skip

    with app.progress("sending passwords") as progress:

        def on_progress(summary: BulkSummary) -> None:
            progress.update(f"{summary.rows:,} patients, {summary.sent:,} sent, {summary.unsuccessful:,} not")

        options = {k: v for k, v in options.items() if v is not None}
        bulk = BulkOptions(file=file or "", channels=tuple(channels), **options)
        summary, error = send_file(
            app, bulk, on_result=on_result, on_progress=on_progress, on_start=on_start, warn=app.warn
        )
    if shown > _MAX_FAILURE_LINES:
        app.say(f"… and {shown - _MAX_FAILURE_LINES} more patients without a password on every channel "
                "(see the results)")  # fmt: skip
    results.sort(key=lambda r: r.line)
    if fmt == "json":
        emit([r.record() for r in results], fmt)
    elif fmt == "table":
        emit([r.flat() for r in results], fmt, columns=("line", "personnummer", "status", "sent_to", "sent_at",
                                                        "error"))  # fmt: skip
    elif fmt != "jsonl":
        emit([r.flat() for r in results], fmt)
    app.note(f"Summary: {summary.text()}")
    if bulk.enqueue and summary.campaign:
        app.note(f"Queued: `per campaign work --drain` sends campaign {summary.campaign}.")
        return
    if summary.stopped or error is not None:
        app.warn(f"{summary.stopped or error}: {summary.stop_text()}")
    if error is not None:
        raise error
    if summary.rows and not (summary.sent or summary.partial or summary.unknown or summary.already
                             or summary.would_send):  # fmt: skip
        raise DeliveryFailed(f"no password was sent to any of the {summary.rows:,} patients in the list")
    if summary.unsuccessful:
        raise PartialFailure(f"{summary.unsuccessful:,} of {summary.rows:,} patients did not get a password on "
                             "every channel")  # fmt: skip
