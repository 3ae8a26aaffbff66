"""``per session``: show, list and revoke login sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import flags, format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App

_TABLE = ["id", "patient", "name", "method", "proxy_by", "since", "last_seen_at", "expires_at", "status"]
#: every key of a listed session: the header row when none is listed
_ALL = [*_TABLE[:3], "unit", *_TABLE[3:], "revoked_at"]


@click.group("session")
def cli() -> None:
    """Show, list and revoke login sessions.

    A session token is shown once at login and stored only as a digest. A session ends after 30 minutes
    unused or 12 hours in all (config [sessions] idle_minutes, absolute_hours), or when revoked. Give TOKEN
    as '-' to read it from stdin.
    """


@cli.command("show")
@click.argument("token")
@format_option()
@click.pass_obj
def show(app: App, token: str, fmt: str) -> None:
    """Show who a session is for, how it was opened (proxy by whom), since when and until when.

    \b
    Example:
      per session show "$TOKEN" --format json
      printf '%s\\n' "$TOKEN" | per session show -
    """
    from per_cli.cli.output import emit
    from per_cli.cli.prompts import token_argument
    from per_cli.credentials.sessions import show_session

    emit([show_session(app, token_argument(token))], fmt, single=True)


@cli.command("list")
@click.option("--patient", metavar="PNR", help="Only this patient's sessions.")
@click.option("--all", "include_ended", is_flag=True, help="Include expired and revoked sessions.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@format_option()
@flags(patient="--patient")
@click.pass_obj
def list_(app: App, patient: str | None, include_ended: bool, limit: int, fmt: str) -> None:
    """List active sessions, newest first (each listed session is an audited access).

    \b
    Example:
      per session list --patient 191212121212 --all
    """
    from per_cli.cli.output import emit
    from per_cli.credentials.sessions import list_sessions

    records = list_sessions(app, patient=patient, include_ended=include_ended, limit=limit)
    emit(
        records,
        fmt,
        columns=_TABLE if fmt == "table" else None,
        header=_ALL,
    )


@cli.command("revoke")
@click.argument("token", required=False)
@click.option("--id", "session_id", type=int, help="The session's id (from `per session list`).")
@click.option("--patient", metavar="PNR", help="End every session of this patient.")
@format_option()
@flags(patient="--patient", session_id="--id")
@click.pass_obj
def revoke(app: App, token: str | None, session_id: int | None, patient: str | None, fmt: str) -> None:
    """End a session (log out), by token or id, or every session of a patient.

    \b
    Examples:
      per session revoke "$TOKEN"
      per session revoke --patient 191212121212
    """
    from per_cli.cli.output import emit
    from per_cli.cli.prompts import token_argument
    from per_cli.credentials.sessions import revoke_sessions

    if sum(v is not None for v in (token, session_id, patient)) != 1:
        raise click.UsageError("give exactly one of TOKEN, --id or --patient")
    value = token_argument(token) if token is not None else None
    records = revoke_sessions(app, token=value, session_id=session_id, patient=patient)
    app.note(f"Ended {len(records)} session(s)." if records else "Nothing to end: no active session.")
    emit(records, fmt, columns=_TABLE if fmt == "table" else None, header=_ALL)
