"""``per audit``: the access log of patient data."""

from __future__ import annotations

import click

from per_cli.cli.options import app_of, format_option


@click.group("audit")
def cli() -> None:
    """Read, verify, extract, review and prune the access log of patient data."""


@cli.command("list")
@click.option("--patient", metavar="PNR", help="Only events about this patient.")
@click.option("--actor", help="Only events by this actor.")
@click.option("--action", help="Only this action, e.g. patient.show (* matches anything: 'login.*').")
@click.option("--since", metavar="DATE|TIME", help="From this date or ISO time (inclusive).")
@click.option("--until", metavar="DATE|TIME", help="Up to this date (inclusive) or ISO time (exclusive).")
@click.option("--limit", type=click.IntRange(1), help="At most this many events.")
@format_option()
@click.pass_context
def list_(
    ctx: click.Context,
    patient: str | None,
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    fmt: str,
) -> None:
    """List audit events, oldest first.

    \b
    Example:
      per audit list --patient 191212121212 --since 2026-01-01 --format json
    """
    from per_cli.audit.query import AuditFilter, list_events, parse_moment
    from per_cli.cli.output import emit

    flt = AuditFilter(
        patient=patient,
        actor=actor,
        action=action,
        since=parse_moment(since, "--since") if since else None,
        until=parse_moment(until, "--until", end=True) if until else None,
    )
    app = app_of(ctx)
    with app.transaction() as session:
        records = list_events(session, app.actor, flt, limit=limit)
    emit(records, fmt)


@cli.command("verify")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line of text, or a JSON object for scripts.",
)
@click.pass_context
def verify(ctx: click.Context, fmt: str) -> None:
    """Check the hash chain of the whole log; exit 1 naming the first broken event.

    An edited, deleted or reordered event breaks the chain. It starts at the beginning of the log, or at
    the anchor of the last lawful prune.

    \b
    Example:
      per audit verify
    """
    import json

    from per_cli.audit.verify import verify_chain
    from per_cli.db.faults import translate_db_errors

    app = app_of(ctx)
    with translate_db_errors():
        app.ensure_schema()
        result = verify_chain(app.engine)
    click.echo(json.dumps(result.record(), indent=2) if fmt == "json" else result.line())
    if not result.intact:
        ctx.exit(1)


@cli.command("extract")
@click.argument("personnummer")
@click.option("--since", metavar="DATE|TIME", help="From this date or ISO time (inclusive).")
@click.option("--until", metavar="DATE|TIME", help="Up to this date (inclusive) or ISO time (exclusive).")
@click.option(
    "--language",
    type=click.Choice(["sv", "en"]),
    help="Wording of the extract. Default: [messages] language in the config, else sv.",
)
@format_option()
@click.pass_context
def extract(
    ctx: click.Context, personnummer: str, since: str | None, until: str | None, language: str | None, fmt: str
) -> None:
    """The patient's log extract: which care unit and who read or changed what, and when.

    Patients have the right to this extract (Patientdatalagen 8 kap. 5 §). Times are local. Producing it
    is itself logged.

    \b
    Example:
      per audit extract 19121212-1212 --since 2026-01-01 --language en
    """
    from per_cli.audit.extract import COLUMNS, extract, for_table, resolve_language
    from per_cli.audit.query import parse_moment
    from per_cli.cli.output import emit

    app = app_of(ctx)
    lang = resolve_language(app.config, language)
    with app.transaction() as session:
        records = extract(
            session,
            app.actor,
            personnummer,
            language=lang,
            since=parse_moment(since, "--since") if since else None,
            until=parse_moment(until, "--until", end=True) if until else None,
        )
    if fmt == "table":
        emit(for_table(records, lang), fmt)
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
@click.option("--since", metavar="DATE|TIME", help="Period start (inclusive). Default: the beginning of the log.")
@click.option("--until", metavar="DATE|TIME", help="Period end: this date (inclusive) or ISO time (exclusive).")
@click.option("--seed", type=int, help="Seed of the random draw: the same seed on the same log gives the same sample.")
@click.option(
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the sample as CSV (UTF-8 with BOM, for Excel) with an empty reviewer_note column.",
)
@format_option()
@click.pass_context
def review(
    ctx: click.Context,
    sample: int,
    since: str | None,
    until: str | None,
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
    from per_cli.audit.query import parse_moment
    from per_cli.audit.review import COLUMNS, review
    from per_cli.cli.output import emit, render

    app = app_of(ctx)
    with app.transaction() as session:
        drawn = review(
            session,
            app.actor,
            sample=sample,
            seed=seed,
            since=parse_moment(since, "--since") if since else None,
            until=parse_moment(until, "--until", end=True) if until else None,
        )
    randoms = len(drawn.records) - drawn.always
    summary = (
        f"{len(drawn.records)} events: {drawn.always} always reviewed (proxy logins, refusals), "
        f"{randoms} drawn at random of {drawn.population}; seed {drawn.seed}"
    )
    if output:
        with open(output, "w", encoding="utf-8-sig", newline="") as fh:
            fh.write(render(drawn.records, "csv", columns=COLUMNS))
        app.note(f"Wrote {output}: {summary}.")
        return
    app.note(summary + ".")
    emit(drawn.records, fmt, columns=COLUMNS)


@cli.command("prune")
@click.option(
    "--before",
    required=True,
    metavar="YYYY-MM-DD",
    help="Remove events before this date; at most today minus five years.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.pass_context
def prune(ctx: click.Context, before: str, dry_run: bool) -> None:
    """Remove events older than the five years the log must be kept (HSLF-FS 2016:40).

    A cut-off later than today minus five years is refused. The chain is verified first; the removal is
    recorded as an anchor and an audited event, so `per audit verify` still passes afterwards.

    \b
    Example:
      per audit prune --before 2020-01-01 --dry-run
    """
    from per_cli.audit.prune import check_cutoff, prune
    from per_cli.patients.fields import parse_date

    app = app_of(ctx)
    day = parse_date(before, "--before", allow_future=True)
    check_cutoff(day)
    with app.transaction() as session:
        result = prune(session, app.actor, day, dry_run=dry_run)
    click.echo(result.line())
