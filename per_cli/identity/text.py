"""Free text staff type or import (names, comment, PAL, reasons, unit and care giver names, actor): one check.

Text from other systems' exports may carry control characters: an ESC starts a terminal escape (screen clears,
colours, OSC-8 links), a tab or newline breaks a row of ``--format plain|tsv``, a NUL is refused by PostgreSQL
with the whole transaction, and bidi overrides make text read differently from what is stored. None of them
belongs in a name or a comment, so every free-text field refuses C0 and C1 controls, DEL and the bidi
embedding, override and isolate characters, with the field's name and the character's code point. Each field
also has a length limit, checked here, so SQLite (which would store anything) and PostgreSQL (whose
``VARCHAR(200)`` would fail the transaction) accept and refuse the same values.
"""

from __future__ import annotations

import re

from per_cli.errors import InvalidInput

#: C0 controls, DEL, C1 controls, and the bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069)
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

#: the longest text each field takes, in characters (the column sizes of the schema)
NAME_MAX = 200
NOTE_MAX = 2000

_WORDS = {
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a line break",
    "\x00": "a NUL byte",
    "\x1b": "an escape character",
}


#: what a terminal must never receive from data: the above, and the line and paragraph separators
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def visible(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\t``, ``\\n``, ``\\u202e``).

    For terminals and one-record-per-line output: data stored before these checks, or read from elsewhere, can
    never clear the screen, change colours, plant a link or split a row.
    """
    return _UNSHOWABLE.sub(_escape, text) if _UNSHOWABLE.search(text) else text


def control_character(text: str) -> str | None:
    """The first forbidden character of ``text``, described (``'an escape character (U+001B)'``), or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    kind = _WORDS.get(char, "a bidi control" if char >= "\u202a" else "a control character")
    return f"{kind} (U+{ord(char):04X})"


def check_text(text: str, field: str, limit: int) -> str:
    """``text`` if it holds no control character and at most ``limit`` characters; else one-line refusal."""
    bad = control_character(text)
    if bad is not None:
        raise InvalidInput(f"contains {bad}; remove it", field=field)
    if len(text) > limit:
        raise InvalidInput(f"longer than {limit} characters ({len(text)})", field=field)
    return text


def optional_text(value: str | None, field: str, limit: int) -> str | None:
    """Stripped ``value`` checked by :func:`check_text`; empty gives None."""
    text = (value or "").strip()
    return check_text(text, field, limit) if text else None


def required_text(value: str | None, field: str, limit: int) -> str:
    """Like :func:`optional_text`, but empty is refused."""
    text = optional_text(value, field, limit)
    if text is None:
        raise InvalidInput("must not be empty", field=field)
    return text
