"""Finding patients as Swedes write them: the normalised search column, the Swedish sort key, search terms.

Every write that changes a patient's names, e-mail or mobile stores :func:`search_columns` with them (single and
bulk enrolment, bulk update, profile edits), so ``patient list --search`` is one ``LIKE`` per term on one
column, the same on SQLite and PostgreSQL:

- names casefolded, å, ä and ö kept as the letters they are ("östen" and "ÖSTEN" find Östen, "osten" does
  not); other accents are also stored stripped, so "muller" finds Müller and "renee" Renée;
- the e-mail address casefolded;
- the mobile number as E.164 digits (``46701740605``) and, for a Swedish one, in national form (``0701740605``),
  so any way of writing it (``070-174 06 05``, ``+46 70 174``, ``0046…``) finds it once reduced to digits;
- the personnummer's 12 digits, so ``121212-1212`` and ``19121212`` find it.

The sort key orders by last name, then first name, in Swedish alphabetical order (… x y z å ä ö; é as e, ü as
y, æ as ä, ø as ö): casefolded, with å, ä, ö mapped to the three characters after ``z``. It is compared byte by
byte on both backends (SQLite's default, PostgreSQL's ``COLLATE "C"``), which is Python's ``str`` order too.

No database imports: the bulk writer calls this for every row.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: joins the parts of the search column; a term never contains it, so a match never spans two fields
SEPARATOR = "\x1f"
#: the longest sort key: short enough for any B-tree index entry, long enough for any real name
_LAST_KEY, _FIRST_KEY = 150, 100
_SWEDISH = {"å": "{", "ä": "|", "ö": "}", "æ": "|", "ø": "}", "ü": "y"}
_PHONE_LIKE = re.compile(r"^[\d\s()./+-]+$")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _fold(text: str) -> str:
    """NFC and casefolded: how a name is compared (accents kept)."""
    return unicodedata.normalize("NFC", text).casefold()


@lru_cache(maxsize=16384)  # bulk enrolment: names repeat, and this runs in the writing process for every row
def _strip_accents(folded: str) -> str:
    """Accents other than å, ä, ö removed (é → e, ü → u, ç → c)."""
    if folded.isascii():
        return folded
    out = []
    for char in folded:
        if char in "åäö":
            out.append(char)
            continue
        out.append("".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)))
    return "".join(out)


@lru_cache(maxsize=16384)
def _sort_part(name: str, limit: int) -> str:
    if name.isascii():  # nothing to map or strip: NFC and casefolding leave ASCII as lower case
        return name.lower()[:limit]
    out = []
    for char in _fold(name):
        mapped = _SWEDISH.get(char)
        out.append(mapped if mapped is not None else _strip_accents(char))
    return "".join(out)[:limit]


def sort_key(first_name: str, last_name: str) -> str:
    """Last name, then first name, in Swedish alphabetical order as a byte-comparable string."""
    return f"{_sort_part(last_name, _LAST_KEY)}\x01{_sort_part(first_name, _FIRST_KEY)}"


def national_mobile(e164: str) -> str | None:
    """A Swedish number's national digits (``+46701740605`` → ``0701740605``); ``None`` for other countries."""
    return "0" + e164[3:] if e164.startswith("+46") else None


def search_text(*, personnummer: str, first_name: str, last_name: str, email: str | None, mobile: str | None) -> str:
    """The normalised search column: every form a name, e-mail, mobile or personnummer is searched by."""
    name = _fold(f"{first_name} {last_name}")
    parts = [name]
    if (plain := _strip_accents(name)) != name:
        parts.append(plain)
    if email:
        parts.append(_fold(email))
    if mobile:
        parts.append(re.sub(r"\D", "", mobile))
        if national := national_mobile(mobile):
            parts.append(national)
    parts.append(personnummer)
    return SEPARATOR.join(_CONTROL.sub("", p) for p in parts)


def search_columns(
    *, personnummer: str, first_name: str, last_name: str, email: str | None, mobile: str | None
) -> dict[str, str]:
    """``search_text`` and ``sort_key`` for a patient's row: every writer of those fields stores these too."""
    return {
        "search_text": search_text(
            personnummer=personnummer, first_name=first_name, last_name=last_name, email=email, mobile=mobile
        ),
        "sort_key": sort_key(first_name, last_name),
    }


def search_terms(query: str) -> list[tuple[str, ...]]:
    """What ``--search`` looks for: each inner tuple is one term's alternatives; every term must match.

    A query of digits and the characters numbers are written with (``070-174 06 05``, ``+46 70``,
    ``121212-1212``) is one term of its digits (``00`` at the start may be the international prefix);
    anything else is one term per word, casefolded.
    """
    text = _SPACES.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFC", query))).strip()
    if not text:
        return []
    if _PHONE_LIKE.match(text) and any(c.isdigit() for c in text):
        digits = re.sub(r"\D", "", text)
        if digits.startswith("00") and len(digits) > 4:
            return [(digits, digits[2:])]
        return [(digits,)]
    return [(word,) for word in dict.fromkeys(text.casefold().split(" "))]
