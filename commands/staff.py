"""``per staff``: staff logins on PostgreSQL, their roles and care units."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import flags, format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App

ROLE_NAMES = ("admin", "registry", "support", "auditor", "service")


@click.group("staff")
def cli() -> None:
    """Staff logins on PostgreSQL: one database login per person, in one role, limited to care units.

    \b
    Roles (README, "Deploying for a registry"):
      admin     units, staff, everything in every unit; audit prune
      registry  enrol, edit profiles, exclude, registrations and export, in their units
      support   show, list, edit profiles, passwords, sessions, unlock, the access log, in their units
      auditor   reads everything, the access log included; changes nothing
      service   the login flows and registrations made with a session; cannot list patients

    Managing staff needs a login with CREATEROLE (an admin or the DBA); others are refused with exit 4.
    """


def _unit_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option("--unit", "units", multiple=True, metavar="CODE", help="A care unit (repeatable).")(fn)


@cli.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    metavar="|".join(ROLE_NAMES),
    shell_complete=lambda _c, _p, incomplete: [r for r in ROLE_NAMES if r.startswith(incomplete)],
    help="The staff member's role.",
)
@_unit_option
@click.option("--password-stdin", is_flag=True, help="Read the login's password from the first line of stdin.")
@click.option("--password-prompt", is_flag=True, help="Ask for the login's password (hidden, twice).")
@format_option()
@flags(role="--role", unit="--unit", units="--unit", password="--password-stdin")
@click.pass_obj
def add(
    app: App, name: str, role: str, units: tuple[str, ...], password_stdin: bool, password_prompt: bool, fmt: str
) -> None:
    """Add a staff login NAME in a role, limited to --unit care units (registry and support).

    Without a password option the DBA's own authentication applies (certificate, GSSAPI, peer); a password is
    sent to the server only as its SCRAM-SHA-256 verifier.

    \b
    Examples:
      per staff add anna.berg --role registry --unit NEURO-SU --unit NEURO-KS --password-prompt
      printf '%s\\n' "$STAFF_PASSWORD" | per staff add ci.portal --role service --password-stdin
    """
    from per_cli.cli.output import emit
    from per_cli.cli.prompts import read_password
    from per_cli.staff.manage import UNIT_ROLES, add_staff

    if password_stdin and password_prompt:
        raise click.UsageError("--password-stdin and --password-prompt exclude each other")
    password = None
    if password_stdin or password_prompt:
        password = read_password(password_stdin, f"Password for {name}", confirm=True)
    record, warnings = add_staff(app, name, role=role, units=units, password=password)
    app.note(f"Added {record['role']} {record['name']}.")
    for warning in warnings:
        app.warn(warning)
    if record["role"] in UNIT_ROLES and not record["units"]:
        app.warn(f"{record['name']} sees no patients until a unit is granted (`per staff grant {name} --unit CODE`)")
    emit([record], fmt, single=True)


@cli.command("list")
@format_option()
@click.pass_obj
def list_(app: App, fmt: str) -> None:
    """List staff logins with their role, care units and whether they may log in.

    \b
    Example:
      per staff list --format json
    """
    from per_cli.cli.output import emit
    from per_cli.staff.manage import list_staff

    emit(list_staff(app), fmt, columns=("name", "role", "units", "can_login"))


@cli.command("grant")
@click.argument("name")
@_unit_option
@format_option()
@flags(unit="--unit", units="--unit")
@click.pass_obj
def grant(app: App, name: str, units: tuple[str, ...], fmt: str) -> None:
    """Let a registry or support login act for the patients of more care units.

    \b
    Example:
      per staff grant anna.berg --unit NEURO-KS
    """
    from per_cli.cli.output import emit
    from per_cli.staff.manage import grant_units

    record = grant_units(app, name, units)
    app.note(f"{name}: granted {', '.join(record['changed'])}." if record["changed"] else f"{name}: no change.")
    emit([record], fmt, single=True)


@cli.command("revoke")
@click.argument("name")
@_unit_option
@format_option()
@flags(unit="--unit", units="--unit")
@click.pass_obj
def revoke(app: App, name: str, units: tuple[str, ...], fmt: str) -> None:
    """Take care units from a registry or support login.

    \b
    Example:
      per staff revoke anna.berg --unit NEURO-KS
    """
    from per_cli.cli.output import emit
    from per_cli.staff.manage import revoke_units

    record = revoke_units(app, name, units)
    app.note(f"{name}: revoked {', '.join(record['changed'])}.")
    emit([record], fmt, single=True)


def _set_login(app: App, name: str, enabled: bool, fmt: str) -> None:
    from per_cli.cli.output import emit
    from per_cli.staff.manage import set_login

    record = set_login(app, name, enabled=enabled)
    app.note(f"{name} {'may log in again' if enabled else 'may no longer log in'}.")
    if not enabled and record["connections_ended"] is None:
        app.warn(f"{name}'s open connections stay until they end: ending them needs pg_signal_backend (ask the DBA)")
    elif not enabled and record["connections_ended"]:
        app.note(f"Ended {record['connections_ended']} open connection(s) of {name}.")
    emit([record], fmt, single=True)


@cli.command("disable")
@click.argument("name")
@format_option()
@click.pass_obj
def disable(app: App, name: str, fmt: str) -> None:
    """Refuse a staff login (ALTER ROLE … NOLOGIN) and end its open connections; its role and units stay.

    The last admin cannot be disabled. Ending another login's connections needs superuser or pg_signal_backend.

    \b
    Example:
      per staff disable anna.berg
    """
    _set_login(app, name, False, fmt)


@cli.command("enable")
@click.argument("name")
@format_option()
@click.pass_obj
def enable(app: App, name: str, fmt: str) -> None:
    """Allow a disabled staff login again.

    \b
    Example:
      per staff enable anna.berg
    """
    _set_login(app, name, True, fmt)
