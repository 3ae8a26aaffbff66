"""``per campaign``: what became of a password campaign's messages, and the workers that send queued ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App

_TABLE = ("line", "personnummer", "channel", "recipient", "status", "sent_at", "updated_at", "error")


@click.group("campaign")
def cli() -> None:
    """Password campaigns: every `password send` is one; its id is printed when it starts.

    `campaign show` lists each message's status, `campaign refresh` asks the SMS providers (46elks, Twilio)
    which were delivered, and `campaign work` sends campaigns queued with `password send --file … --enqueue`
    (PostgreSQL).
    """


@cli.command("show")
@click.argument("campaign")
@format_option()
@click.pass_obj
def show(app: App, campaign: str, fmt: str) -> None:
    """Each message of a campaign: patient, channel, recipient, status, times and error.

    Statuses: pending (stored, not yet handed over), sent, failed, unknown (may have been delivered: the
    connection broke after the message was handed over), delivered, undelivered (as the provider reports,
    after `campaign refresh`), skipped; a patient not yet sent to shows queued. The summary per patient state
    is on stderr.

    \b
    Example:
      per campaign show 3f1c0e5b9a7d4e2f8c6b1a0d9e8f7a6b --format csv > kampanj.csv
    """
    from per_cli.campaigns.report import CAMPAIGN_COLUMNS, show_campaign
    from per_cli.cli.output import emit

    header, records = show_campaign(app, campaign)
    states = ", ".join(f"{n:,} {state}" for state, n in header["patients"].items()) or "no patients"
    app.note(f"Campaign {header['campaign']} ({header['source']}, {header['channels']}, {header['mode']}): {states}")
    emit(records, fmt, columns=_TABLE if fmt == "table" else None, header=CAMPAIGN_COLUMNS)


@cli.command("refresh")
@click.argument("campaign")
@format_option()
@click.pass_obj
def refresh(app: App, campaign: str, fmt: str) -> None:
    """Ask the SMS providers what became of the campaign's messages not yet final.

    46elks and Twilio are asked for each message sent (or unknown with a provider id): delivered or
    undelivered is recorded and audited; a delivered message makes its pending password the patient's
    password. E-mail and the file transport cannot tell and are counted as such.

    \b
    Example:
      per campaign refresh 3f1c0e5b9a7d4e2f8c6b1a0d9e8f7a6b
    """
    from per_cli.campaigns.refresh import refresh as run
    from per_cli.cli.output import emit

    summary = run(app, campaign)
    record = summary.record()
    app.note(
        f"Campaign {summary.campaign}: asked about {summary.asked:,} messages: {record['delivered']:,} delivered, "
        f"{record['undelivered']:,} undelivered, {summary.still_open:,} not final yet; {summary.cannot_tell:,} on "
        "transports that cannot tell"
    )
    for error in summary.errors[:3]:
        app.warn(error)
    emit([record], fmt, single=True)


@cli.command("work")
@click.option("--concurrency", type=click.IntRange(1, 256), help="Threads that hash and send (default: one per core).")
@click.option("--drain", is_flag=True, help="Exit when no queued patient is left (else wait for new campaigns).")
@format_option()
@click.pass_obj
def work(app: App, concurrency: int | None, drain: bool, fmt: str) -> None:
    """Send queued campaigns (PostgreSQL): start it on any number of machines; they share the work.

    Patients are claimed with SELECT … FOR UPDATE SKIP LOCKED, hashed on every core and sent within the rate
    limits ([transports] sms_per_second, email_per_second, shared by all workers); SMS wait out
    [messages] quiet_hours (Swedish time). A failed send is retried with a doubling back-off. A worker that
    is killed leaves nothing half done: its patients are taken up again by the others. Ctrl-C stops.

    \b
    Examples:
      per password send --file patienter.xlsx --sms --enqueue
      per campaign work --concurrency 4 --drain
    """
    from per_cli.campaigns.work import WorkOptions
    from per_cli.campaigns.work import work as run
    from per_cli.cli.output import emit

    summary = run(app, WorkOptions(concurrency=concurrency, drain=drain))
    app.note(f"Summary: {summary.text()}")
    emit([summary.record()], fmt, single=True)
