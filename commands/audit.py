"""``per audit``: the access log of patient data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from per_cli.cli.options import FILE, Day, flags, format_option, period_options

if TYPE_CHECKING:
    from datetime import date, datetime

    from per_cli.cli.app import App


@click.group("audit")
def cli() -> None:
    """Read, verify, extract, review and prune the access log of patient data."""


@cli.command("list")
@click.option("--patient", metavar="PNR", help="Only events about this patient.")
@click.option("--actor", help="Only events by this actor.")
@click.option("--action", help="Only this action, e.g. patient.show (* matches anything: 'login.*').")
@click.option("--outcome", type=click.Choice(["ok", "denied", "error"]), help="Only events with this outcome.")
@period_options
@click.option("--limit", type=click.IntRange(1), help="The newest this many events.  [default: 50]")
@click.option("--all", "all_", is_flag=True, help="Every matching event (instead of the newest 50).")
@format_option()
@flags(patient="--patient")
@click.pass_obj
def list_(
    app: App,
    patient: str | None,
    actor: str | None,
    action: str | None,
    outcome: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    all_: bool,
    fmt: str,
) -> None:
    """List audit events, newest first: the newest 50 unless --limit N or --all.

    --since and --until take a day (YYYY-MM-DD, today, yesterday), a moment (YYYY-MM-DDTHH:MM) or a time
    ago (30m, 2h, 7d, 1w). Long output streams; the json, jsonl, csv, tsv and plain formats print as they read.

    \b
    Examples:
      per audit list --since today --outcome denied
      per audit list --patient 191212121212 --since 7d --all --format jsonl
    """
    if all_ and limit is not None:
        raise click.UsageError("--all and --limit contradict each other: give one")
    from per_cli.audit.query import COLUMNS, AuditFilter, list_events
    from per_cli.cli.output import emit_stream

    flt = AuditFilter(patient=patient, actor=actor, action=action, since=since, until=until, outcome=outcome)
    listed = list_events(
        app, flt, lambda rows: emit_stream(rows, fmt, columns=COLUMNS), limit=None if all_ else limit or 50
    )
    if not listed.shown:
        app.note("no events match")
    elif listed.more:
        app.note(f"showing the newest {listed.shown}; --limit N or --all for more")


@cli.command("verify")
@click.option(
    "--checkpoint",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check the log against this signed checkpoint (needs --public-key).",
)
@click.option(
    "--public-key",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The public key of the checkpoint's signer (from per audit keygen).",
)
@format_option()
@click.pass_obj
def verify(app: App, checkpoint: Path | None, public_key: Path | None, fmt: str) -> None:
    """Check the hash chain of the whole log; exit 1 naming the first broken event.

    An edited, deleted or reordered event breaks the chain. It starts at the beginning of the log, or at
    the anchor of the last lawful prune. The table format is one line; the others give intact, events,
    broken_at, reason, starts_from, head and last_id.

    With --checkpoint the log must also still be the one the checkpoint signed: its signature must hold, the
    chain must end in the signed hash at the signed event, and no event up to it may be missing. This catches
    whoever holds the database itself, who can recompute the chain. The other formats then give holds,
    events, checkpoint_last_id, checkpoint_at, reason and note.

    \b
    Examples:
      per audit verify
      per audit verify --format json
      per audit verify --checkpoint /mnt/worm/per-2026-12-01.json --public-key audit-public.pem
    """
    from per_cli.audit.verify import verify as verify_log
    from per_cli.cli.output import emit

    if (checkpoint is None) != (public_key is None):
        raise click.UsageError("--checkpoint and --public-key go together: name both files")
    if checkpoint is not None and public_key is not None:
        from per_cli.audit.checkpoint import check

        held = check(app, checkpoint, public_key)
        if fmt == "table":
            click.echo(held.line())
        else:
            emit([held.record()], fmt, single=True)
        if not held.holds:
            raise click.exceptions.Exit(1)
        return
    result = verify_log(app)
    if fmt == "table":
        click.echo(result.line())
    else:
        emit([result.record()], fmt, single=True)
    if not result.intact:
        raise click.exceptions.Exit(1)


@cli.command("keygen")
@click.option(
    "--private-key",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new private key (mode 0600; an existing file is never overwritten).",
)
@click.option(
    "--public-key",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the public key that verifies the checkpoints.",
)
@format_option()
@click.pass_obj
def keygen(app: App, private_key: Path, public_key: Path, fmt: str) -> None:
    """Make the Ed25519 key pair that signs checkpoints of the log.

    Keep the private key off the database host (the person who signs checkpoints, a vault); give the public
    key to whoever verifies. Neither file is ever overwritten.

    \b
    Example:
      per audit keygen --private-key ~/per-audit.key --public-key audit-public.pem
    """
    from per_cli.audit.checkpoint import keygen as make_keys
    from per_cli.cli.output import emit

    made = make_keys(private_key, public_key)
    emit([{"private_key": str(private_key), "public_key": str(public_key), "key": made}], fmt, single=True)


@cli.command("checkpoint")
@click.option(
    "--key",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The private key from per audit keygen.",
)
@click.option(
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checkpoint (JSON) to this file instead of stdout.",
)
@format_option("json", output=False)
@click.pass_obj
def checkpoint(app: App, key: Path, output: Path | None, fmt: str) -> None:
    """Sign the log's current state: last event id, head hash, event count and time, as JSON.

    The file (and the default json format) is what verify --checkpoint reads. The chain is verified first;
    a broken chain is not signed. The checkpoint is recorded in the log as an
    audit.checkpoint event. Store the file where the database's holders cannot change it (see README).

    \b
    Example:
      per audit checkpoint --key ~/per-audit.key --output /mnt/worm/per-$(date +%F).json
    """
    from per_cli.audit.checkpoint import checkpoint as sign
    from per_cli.audit.checkpoint import render, write_checkpoint

    made = sign(app, key)
    if output is None:
        click.echo(render(made), nl=False)
        return
    write_checkpoint(output, made)
    app.note(f"Wrote {output}: event {made['last_id']}, {made['events']} events.")


@cli.command("extract")
@click.argument("personnummer")
@period_options
@click.option(
    "--language",
    type=click.Choice(["sv", "en"]),
    help="Wording of the extract. Default: [messages] language in the config, else sv.",
)
@format_option()
@click.pass_obj
def extract(
    app: App, personnummer: str, since: datetime | None, until: datetime | None, language: str | None, fmt: str
) -> None:
    """The patient's log extract: which care unit and who read or changed what, and when.

    Patients have the right to this extract (Patientdatalagen 8 kap. 5 §). Times are local. Producing it
    is itself logged.

    \b
    Example:
      per audit extract 19121212-1212 --since 2026-01-01 --language en
    """
    from per_cli.audit.extract import COLUMNS, HEADINGS, extract, for_table, resolve_language
    from per_cli.cli.output import emit

    lang = resolve_language(app.config, language)
    records = extract(app, personnummer, language=lang, since=since, until=until)
    if fmt == "table":
        emit(for_table(records, lang), fmt, header=HEADINGS[lang])
    else:
        emit(records, fmt, columns=COLUMNS)


@cli.command("review")
@click.option(
    "--sample",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="How many random patient-data accesses to add.",
)
@period_options
@click.option("--seed", type=int, help="Seed of the random draw: the same seed on the same log gives the same sample.")
@click.option(
    "--output",
    type=FILE,
    metavar="FILE",
    help="Write the sample as CSV (UTF-8 with BOM, for Excel, private: 0600) with an empty reviewer_note column.",
)
@format_option(output=False)
@click.pass_obj
def review(
    app: App,
    sample: int,
    since: datetime | None,
    until: datetime | None,
    seed: int | None,
    output: str | None,
    fmt: str,
) -> None:
    """Draw the sample for the systematic log review.

    Every proxy login and every refused access in the period is included; a random sample of the other
    accesses to patient data is added. The seed is printed, so the draw can be repeated. Drawing the
    sample is itself logged.

    \b
    Example:
      per audit review --since 2026-10-01 --until 2026-10-31 --sample 50 --output granskning-oktober.csv
    """
    from per_cli.audit.review import COLUMNS, review
    from per_cli.cli.output import emit, render
    from per_cli.files import check_target, write_private

    if output:
        check_target(output, field="output")  # before the draw is made and logged
    drawn = review(app, sample=sample, seed=seed, since=since, until=until)
    randoms = len(drawn.records) - drawn.always
    summary = (
        f"{len(drawn.records)} events: {drawn.always} always reviewed (proxy logins, refusals), "
        f"{randoms} drawn at random of {'about ' if drawn.estimated else ''}{drawn.population}; seed {drawn.seed}"
    )
    if output and output != "-":
        write_private(output, render(drawn.records, "csv", columns=COLUMNS).encode("utf-8-sig"))
        app.note(f"Wrote {output}: {summary}.")
        return
    app.note(summary + ".")
    emit(drawn.records, "csv" if output == "-" else fmt, columns=COLUMNS)


@cli.command("prune")
@click.option(
    "--before",
    required=True,
    type=Day(),
    metavar="YYYY-MM-DD",
    help="Remove events before this date; at most today minus five years.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@format_option()
@flags(before="--before")
@click.pass_obj
def prune(app: App, before: date, dry_run: bool, fmt: str) -> None:
    """Remove events older than the five years the log must be kept (HSLF-FS 2016:40).

    A cut-off later than today minus five years is refused. The chain is verified first; the removal is
    recorded as an anchor and an audited event, so `per audit verify` still passes afterwards. The table format
    is one line; the others give before, removed, first_removed_id, last_removed_id and dry_run.

    \b
    Example:
      per audit prune --before 2020-01-01 --dry-run
    """
    from per_cli.audit.prune import prune
    from per_cli.cli.output import emit

    result = prune(app, before, dry_run=dry_run)
    if fmt == "table":
        click.echo(result.line())
    else:
        emit([result.record()], fmt, single=True)
