"""``per audit``: the access log of patient data."""

from __future__ import annotations

import click

from per_cli.options import app_of, format_option


@click.group("audit")
def cli() -> None:
    """Read the access log: who read or changed which patient's data, and when."""


@cli.command("list")
@click.option("--patient", metavar="PNR", help="Only events about this patient.")
@click.option("--actor", help="Only events by this actor.")
@click.option("--action", help="Only this action, e.g. patient.show (* matches anything: 'login.*').")
@click.option("--since", metavar="DATE|TIME", help="From this date or ISO time (inclusive).")
@click.option("--until", metavar="DATE|TIME", help="Up to this date (inclusive) or ISO time (exclusive).")
@click.option("--limit", type=click.IntRange(1), help="At most this many events.")
@format_option()
@click.pass_context
def list_(ctx: click.Context, patient: str | None, actor: str | None, action: str | None, since: str | None,
          until: str | None, limit: int | None, fmt: str) -> None:
    """List audit events, oldest first.

    \b
    Example:
      per audit list --patient 191212121212 --since 2026-01-01 --format json
    """
    from per_cli.audit_log import AuditFilter, list_events, parse_moment
    from per_cli.output import emit

    flt = AuditFilter(patient=patient, actor=actor, action=action,
                      since=parse_moment(since, "--since") if since else None,
                      until=parse_moment(until, "--until", end=True) if until else None)
    app = app_of(ctx)
    with app.transaction() as session:
        records = list_events(session, app.actor, flt, limit=limit)
    emit(records, fmt)
