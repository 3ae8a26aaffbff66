"""The ``per`` root group: global options, lazily loaded command groups, and error-to-exit-code mapping.

Each group lives in ``commands/<name>.py`` and is imported only when it is named, listed by ``--help`` or
completed, and those modules import only click at module level: help and TAB completion stay light.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from per_cli import __version__
from per_cli.errors import PerError

if TYPE_CHECKING:
    from per_cli.cli.app import App

#: command name -> (module, one-line help shown by ``per --help`` without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("commands.audit", "Read, verify and extract the access log."),
    "bankid": ("commands.bankid", "A local BankID RP API v6 stand-in for tests and CI."),
    "campaign": ("commands.campaign", "Password campaigns: message status, provider refresh, queue workers."),
    "caregiver": ("commands.caregiver", "Care giver accounts used for proxy login."),
    "completion": ("commands.completion", "Print the shell completion script for bash, zsh or fish."),
    "config": ("commands.config", "The configuration in use (config show: the same as status)."),
    "db": ("commands.db", "Create or migrate the database schema."),
    "login": ("commands.login", "Log a patient in: one-time code, care giver proxy or BankID."),
    "password": ("commands.password", "Send patients new passwords; the patient's own change."),
    "patient": ("commands.patient", "Enrol patients and keep their profiles."),
    "registration": ("commands.registration", "Registrations: choose scales, answer, score, export."),
    "scale": ("commands.scale", "The catalogue of scales (questionnaires)."),
    "session": ("commands.session", "Show, list and revoke login sessions."),
    "staff": ("commands.staff", "Staff logins on PostgreSQL: roles and care units."),
    "status": ("commands.status", "Which database, config and transports are in use; versions."),
    "transport": ("commands.transport", "Test the SMS and e-mail transports."),
    "unit": ("commands.unit", "Care units (vårdenheter)."),
}


#: groups that run without a config file: a named one that does not exist (yet) is skipped, so PER_CONFIG may
#: name the per.toml that ``per bankid simulator`` is about to write
CONFIG_OPTIONAL = frozenset({"bankid", "completion"})

#: domain fields that the root options give, for every command (a command's own are in ``options.flags``)
ROOT_FLAGS = {"database_url": "--database", "config_file": "--config"}


class _Failure(click.ClickException):
    """A domain error on its way out: one line on stderr and the domain's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    @classmethod
    def of(cls, exc: PerError) -> _Failure:
        """The one line for a domain error, its field named as the user gave it."""
        from per_cli.cli.options import flag_for
        from per_cli.identity.text import visible

        exc.field = flag_for(exc.field, ROOT_FLAGS)
        return cls(visible(str(exc)), exc.exit_code)  # a value quoted from the input is shown, never sent raw


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click docs, "Lazily Loading Subcommands")."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module = importlib.import_module(self.lazy[cmd_name][0])
            command = module.cli
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name][0]}.cli is not a click command")
            from per_cli.cli.global_options import add_global_copies

            return add_global_copies(command, _reopen)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Click's, with "Did you mean …?" drawn from every group (click looks only at those already loaded)."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=exc.ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List groups with their short help from the table, without importing any of them."""
        rows = [(name, self.lazy[name][1]) for name in self.list_commands(ctx) if name in self.lazy]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PerError as exc:
            raise _Failure.of(exc) from None
        except KeyboardInterrupt:  # not click's "Aborted!", exit 1: one line, exit 130 (README, "Conventions")
            from per_cli.errors import Interrupted

            stopped = Interrupted("interrupted (Ctrl-C): work committed before stays, nothing is half-written")
            raise _Failure.of(stopped) from None


def _configure_logging(verbosity: int) -> None:
    """``-v`` shows technical logs on stderr, ``-q`` only errors; they never carry secrets or personnummer (README,
    "Conventions")."""
    import logging

    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    level = levels.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("per: %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("per")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--database",
    "database",
    envvar="PER_DATABASE_URL",
    metavar="URL",
    help="Database URL (sqlite:///FILE or postgresql+psycopg://…). Env: PER_DATABASE_URL.",
)
@click.option(
    "--config",
    "config_file",
    envvar="PER_CONFIG",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="TOML config file. Env: PER_CONFIG.",
)
@click.option(
    "--actor",
    envvar="PER_ACTOR",
    metavar="NAME",
    help="Who is acting, for the audit log. Env: PER_ACTOR. Default: your login name.",
)
@click.option("-v", "--verbose", count=True, help="Show technical logs on stderr (-vv for more).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.version_option(__version__, "--version", prog_name="per")
@click.pass_context
def cli(
    ctx: click.Context, database: str | None, config_file: str | None, actor: str | None, verbose: int, quiet: bool
) -> None:
    """Administer PER, the patients' own registration in a Swedish quality registry.

    Enrol patients, keep their contact details, send passwords by SMS and e-mail, and test the
    three login flows (BankID, password + one-time code, care giver proxy) on one shared database.
    The options below may also follow the command (`per patient list --unit NEURO-SU -q`).

    \b
    Example:
      per unit add NEURO-SU --name "Neurologi, Sahlgrenska"
      per patient enrol 19121212-1212 --first-name Tolvan --last-name Tolvansson --unit NEURO-SU
    """
    if ctx.resilient_parsing:  # TAB completion: decide nothing, open nothing
        return
    app = _open_app(
        database=database,
        config_file=config_file,
        actor=actor,
        actor_from_env=ctx.get_parameter_source("actor") == click.core.ParameterSource.ENVIRONMENT,
        verbose=verbose,
        quiet=quiet,
        config_optional=ctx.invoked_subcommand in CONFIG_OPTIONAL,
        origins=_origins(ctx),
    )
    ctx.obj = app  # what every command receives with @click.pass_obj
    ctx.call_on_close(app.close)


def _open_app(
    *,
    database: str | None,
    config_file: str | None,
    actor: str | None,
    verbose: int,
    quiet: bool,
    config_optional: bool = False,
    actor_from_env: bool = False,
    origins: Mapping[str, str] | None = None,
) -> App:
    """The application the root options decide (and again when some are given after the subcommand).

    ``origins``: the flag or environment variable that gave ``database`` and ``config_file``, if one did.
    """
    from pathlib import Path

    from per_cli.cli.app import App
    from per_cli.config import Config, load_config

    verbosity = -1 if quiet else verbose
    _configure_logging(verbosity)
    origins = origins or {}
    try:
        config = load_config(config_file)
    except PerError as exc:
        if not (config_optional and config_file and not Path(config_file).expanduser().exists()):
            if exc.field == "config_file":  # name what gave the file: --config or PER_CONFIG
                exc.field = origins.get("config_file", "--config")
            raise _Failure.of(exc) from None
        config = Config()
    if database:
        database_origin = origins.get("database", "--database")
    elif config.get("database", "url"):
        database_origin = f"[database] url in {config.path}"
    else:
        database_origin = "default"
    return App(
        config=config,
        actor=_actor(actor, "PER_ACTOR" if actor_from_env else "--actor"),
        actor_claimed=actor is not None,
        database_url=database or None,
        verbosity=verbosity,
        database_origin=database_origin,
        config_origin=origins.get("config_file", "default") if config_file else "default",
    )


def _actor(claimed: str | None, field: str) -> str:
    """The claimed actor, checked (the error names ``field``: --actor or PER_ACTOR), else the OS login name."""
    from per_cli.audit.actor import checked, os_login

    if claimed is None:
        return os_login()
    try:
        return checked(claimed, field)
    except PerError as exc:
        raise _Failure.of(exc) from None


#: root parameter -> (its flag, its environment variable)
_SOURCES = {"database": ("--database", "PER_DATABASE_URL"), "config_file": ("--config", "PER_CONFIG")}


def _origins(ctx: click.Context) -> dict[str, str]:
    """Which flag or environment variable gave the database URL and the config file (README, "Configuration")."""
    from click.core import ParameterSource

    from per_cli.cli.global_options import trailing

    root = ctx.find_root()
    found = {}
    for name, (flag, env) in _SOURCES.items():
        if name in trailing(ctx):
            found[name] = flag
        elif root.get_parameter_source(name) == ParameterSource.ENVIRONMENT:
            found[name] = env
        else:
            found[name] = flag
    return found


def _reopen(ctx: click.Context, values: Mapping[str, Any]) -> None:
    """Global options given after a subcommand: the same application object, opened with the values now known."""
    from per_cli.cli.app import App

    app = ctx.find_object(App)
    if app is None:
        return
    fresh = _open_app(
        database=values.get("database"),
        config_file=values.get("config_file"),
        actor=values.get("actor"),
        actor_from_env=values.get("actor") is not None and values.get("actor") == os.environ.get("PER_ACTOR"),
        verbose=int(values.get("verbose") or 0),
        quiet=bool(values.get("quiet")),
        config_optional=ctx.find_root().invoked_subcommand in CONFIG_OPTIONAL,
        origins=_origins(ctx),
    )
    vars(app).update(vars(fresh))


def main(*args: Any, **kwargs: Any) -> Any:
    """Console-script entry point."""
    kwargs.setdefault("prog_name", "per")
    try:
        return cli.main(*args, **kwargs)
    finally:
        _flush_quietly()


def _flush_quietly() -> None:
    """Flush stdout and stderr now; one that cannot be written (a closed pipe, a full disk) is pointed at
    /dev/null, so the interpreter's own flush at exit has nothing to add ("Exception ignored …") after the
    one error line."""
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass
