"""The root's options after the subcommand too: ``per patient enrol … -q`` works like ``per -q patient enrol …``.

Every command and group below the root gets hidden copies of ``--database``, ``--config``, ``--actor``, ``-v``
and ``-q`` (a command whose own option already uses one of those flags keeps its own: ``audit list --actor``
filters). Click parses them with the command's other options, so a value that looks like a flag
(``--comment -q``) stays a value. A copy given on the command line reopens the application with the root's
values overridden by the later ones (``-v`` counts add up), before the command runs; they write nothing else.

Only click and the standard library are imported here: it runs at ``--help`` and TAB completion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

#: root parameter name -> (its flags, what the copy takes)
GLOBALS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "database": (("--database",), {"metavar": "URL"}),
    "config_file": (("--config",), {"metavar": "FILE"}),
    "actor": (("--actor",), {"metavar": "NAME"}),
    "verbose": (("-v", "--verbose"), {"count": True}),
    "quiet": (("-q", "--quiet"), {"is_flag": True}),
}

#: where a context keeps the global options given after its command (shared down the context chain)
META_KEY = "per.trailing_globals"

Reopen = Callable[[click.Context, Mapping[str, Any]], None]

_MARK = "_per_global_copies"


def trailing(ctx: click.Context) -> dict[str, Any]:
    """The global options given after a subcommand so far (root parameter name -> value)."""
    found: dict[str, Any] = ctx.meta.setdefault(META_KEY, {})
    return found


def effective(ctx: click.Context) -> dict[str, Any]:
    """The root's global options, overridden by those given after a subcommand (``-v`` counts add up)."""
    values = dict(ctx.find_root().params)
    for name, value in trailing(ctx).items():
        values[name] = (values.get(name) or 0) + value if name == "verbose" else value
    return values


def add_global_copies(command: click.Command, reopen: Reopen) -> click.Command:
    """Give ``command`` and every command below it hidden copies of the root's options (once)."""
    if getattr(command, _MARK, False):
        return command
    taken = {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}
    for name, (decls, kwargs) in GLOBALS.items():
        free = [flag for flag in decls if flag not in taken]
        if free:
            command.params.append(
                click.Option(
                    [*free, f"per_global_{name}"],
                    hidden=True,
                    expose_value=False,
                    callback=_given(name, reopen),
                    **kwargs,
                )
            )
    setattr(command, _MARK, True)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_copies(sub, reopen)
    return command


def _given(name: str, reopen: Reopen) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False or value == 0:
            return
        found = trailing(ctx)
        found[name] = found.get(name, 0) + value if name == "verbose" else value
        if not ctx.resilient_parsing:  # TAB completion only notes them (completers read ``effective``)
            reopen(ctx, effective(ctx))

    return callback
