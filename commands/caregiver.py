"""``per caregiver``: care giver accounts used for proxy login."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import complete_units, complete_users, flags, format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("caregiver")
def cli() -> None:
    """Care giver accounts used for proxy login (`per login proxy`).

    A care giver may log in for patients of their own care unit. Passwords: at least 12 characters (config
    [passwords] min_length_caregiver), not a common password; stored as Argon2id hashes.
    """


def _password_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option(
        "--generate-password", "generate", is_flag=True, help="Generate a random password and show it once."
    )(fn)
    fn = click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")(fn)
    return fn


def _new_password(app: App, from_stdin: bool, generate: bool) -> tuple[str, bool]:
    if from_stdin and generate:
        raise click.UsageError("--password-stdin and --generate-password exclude each other")
    if generate:
        from per_cli.credentials.caregivers import min_length
        from per_cli.credentials.passwords import generate_password

        return generate_password(max(16, min_length(app.config))), True
    from per_cli.cli.prompts import read_password

    return read_password(from_stdin, "Care giver's new password", confirm=True), False


def _emit_account(app: App, record: dict[str, object], password: str | None, fmt: str) -> None:
    from per_cli.cli.output import emit

    if password is not None:
        record = {**record, "password": password}
        app.note("The generated password is shown only this once.")
    emit([record], fmt, single=True)


@cli.command("add")
@click.argument("user")
@click.option("--unit", required=True, shell_complete=complete_units, help="The care unit the care giver works at.")
@click.option("--name", help="The care giver's full name.")
@_password_options
@format_option()
@flags(unit="--unit", name="--name")
@click.pass_obj
def add(app: App, user: str, unit: str, name: str | None, password_stdin: bool, generate: bool, fmt: str) -> None:
    """Add a care giver account (password by hidden prompt, --password-stdin or --generate-password).

    \b
    Examples:
      per caregiver add anna.lind --unit NEURO-SU --name "Anna Lind"
      printf '%s\\n' "$CG_PASSWORD" | per caregiver add anna.lind --unit NEURO-SU --password-stdin
    """
    from per_cli.credentials.caregivers import add_caregiver, validate_username

    validate_username(user)
    password, generated = _new_password(app, password_stdin, generate)
    record = add_caregiver(app, user, unit=unit, name=name, password=password)
    app.note(f"Added care giver {record['username']} at {record['unit']}.")
    _emit_account(app, record, password if generated else None, fmt)


@cli.command("set-password")
@click.argument("user", shell_complete=complete_users)
@_password_options
@format_option()
@click.pass_obj
def set_password(app: App, user: str, password_stdin: bool, generate: bool, fmt: str) -> None:
    """Give a care giver a new password; also lifts a lock after failed logins.

    \b
    Example:
      per caregiver set-password anna.lind --generate-password
    """
    from per_cli.credentials.caregivers import set_password as change

    password, generated = _new_password(app, password_stdin, generate)
    record = change(app, user, password=password)
    app.note(f"New password set for {record['username']}.")
    _emit_account(app, record, password if generated else None, fmt)


def _set_active(app: App, user: str, active: bool, fmt: str) -> None:
    from per_cli.cli.output import emit
    from per_cli.credentials.caregivers import set_active

    record, ended = set_active(app, user, active=active)
    state = "enabled" if active else "disabled"
    app.note(f"{record['username']} is {state}" + (f"; {ended} proxy session(s) ended." if ended else "."))
    emit([record], fmt, single=True)


@cli.command("disable")
@click.argument("user", shell_complete=complete_users)
@format_option()
@click.pass_obj
def disable(app: App, user: str, fmt: str) -> None:
    """Disable a care giver account: proxy login is refused and its proxy sessions end.

    \b
    Example:
      per caregiver disable anna.lind
    """
    _set_active(app, user, False, fmt)


@cli.command("enable")
@click.argument("user", shell_complete=complete_users)
@format_option()
@click.pass_obj
def enable(app: App, user: str, fmt: str) -> None:
    """Enable a disabled care giver account again.

    \b
    Example:
      per caregiver enable anna.lind
    """
    _set_active(app, user, True, fmt)


@cli.command("list")
@click.option("--unit", shell_complete=complete_units, help="Only care givers of this care unit.")
@format_option()
@flags(unit="--unit")
@click.pass_obj
def list_(app: App, unit: str | None, fmt: str) -> None:
    """List care giver accounts.

    \b
    Example:
      per caregiver list --unit NEURO-SU --format json
    """
    from per_cli.cli.output import emit
    from per_cli.credentials.caregivers import list_caregivers

    emit(
        list_caregivers(app, unit=unit),
        fmt,
        header=("username", "name", "unit", "active", "locked_until", "created_at"),
    )
