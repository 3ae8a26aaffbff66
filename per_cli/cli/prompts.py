"""Reading secrets the two ways the README allows: a hidden prompt, or lines on stdin (``--password-stdin``).

Never from the command line. Only click is imported: commands call this before the database is opened.
Prompts go to stderr so stdout carries only data. A line read from stdin loses only its line ending:
leading and trailing spaces are part of a password.
"""

from __future__ import annotations

import sys

import click


def stdin_lines(count: int, *, what: str, option: str = "--password-stdin") -> list[str]:
    """Exactly ``count`` lines from stdin (more are ignored); a usage error names what was expected."""
    stream = sys.stdin
    lines: list[str] = []
    for _ in range(count):
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\r\n"))
    if len(lines) < count or any(not line for line in lines):
        raise click.UsageError(f"{option} expects {what} on stdin ({count} non-empty line{'s' * (count > 1)})")
    return lines


def prompt_secret(text: str, *, confirm: bool = False) -> str:
    """A hidden prompt on stderr; with ``confirm`` the value is asked twice and must match."""
    value: str = click.prompt(text, hide_input=True, confirmation_prompt=confirm, err=True)
    if not value:
        raise click.UsageError(f"{text}: nothing entered")
    return value


def read_password(from_stdin: bool, prompt: str, *, confirm: bool = False) -> str:
    """One password: the first line of stdin, or a hidden prompt."""
    if from_stdin:
        return stdin_lines(1, what="the password")[0]
    return prompt_secret(prompt, confirm=confirm)


def token_argument(value: str) -> str:
    """A session token given as ``-`` is read from stdin (keeps it out of the process list and shell history)."""
    if value == "-":
        return stdin_lines(1, what="the session token", option="TOKEN -")[0].strip()
    return value.strip()


def interactive() -> bool:
    """Whether a person can answer a question: stdin is a terminal."""
    return sys.stdin.isatty()


def confirm(lines: list[str], question: str) -> bool:
    """Show ``lines`` and ask ``question`` on stderr; only an explicit yes is a yes."""
    for line in lines:
        click.echo(line, err=True)
    return bool(click.confirm(question, default=False, err=True))
