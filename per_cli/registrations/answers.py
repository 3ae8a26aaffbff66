"""Answers as people type and store them: ``--answers 1,2,,4``, an answer file, and back to text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from per_cli.errors import InvalidInput

_SEPARATORS = re.compile(r"[,;\t]")


def parse_answer_file(text: str) -> list[int | None]:
    """The answers in a ``--file``: in item order, separated by commas, semicolons, tabs or line breaks.

    One answer per line and a single line ``1,2,,4`` (or a spreadsheet row saved with ``;``) both work. An empty
    entry or an empty line is a missing answer; ``#`` starts a comment, and a comment-only line is skipped;
    empty lines at the end of the file are not answers.
    """
    from per_cli.scales.scoring import parse_answers

    lines: list[str] = []
    for line in text.removeprefix("\ufeff").splitlines():
        content, hash_, _ = line.partition("#")
        if hash_ and not content.strip():
            continue
        lines.append(content.strip())
    while lines and not lines[-1]:
        lines.pop()
    return parse_answers(",".join(_SEPARATORS.sub(",", line) for line in lines))


def read_answer_file(path: str) -> list[int | None]:
    """Read and parse ``--file`` (``-`` is standard input); an unreadable file is one line naming it."""
    if path == "-":
        import sys

        return parse_answer_file(sys.stdin.read())
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return parse_answer_file(handle.read())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field="file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", field="file") from None


def answers_text(answers: Sequence[int | None] | None) -> str:
    """Answers as ``--answers`` takes them (``1,2,,4``): compact in a table, and can be typed back."""
    return "" if answers is None else ",".join("" if a is None else str(a) for a in answers)
