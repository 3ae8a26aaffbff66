"""E-mail addresses: syntax check and normalisation with email-validator, never a DNS look-up.

Leading and trailing whitespace is dropped (spreadsheet cells and copy-paste carry it); whitespace inside
is an error. The result is the library's ``normalized`` form: domain lowercased and in Unicode (IDNA
decoded), local part kept as typed, since only the receiving server may interpret its case.

Results are memoised per input: validation costs about 30 µs, and bulk files repeat addresses (a relative
who is the contact for several patients, re-runs of the same file).
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from per_cli.errors import InvalidInput


def normalise_email(text: str, *, field: str = "email") -> str:
    """The normalised address for ``text``; raise ``InvalidInput`` with the library's reason if invalid."""
    normalised, reason = _check(text.strip())
    if reason:
        raise InvalidInput(reason, field=field)
    return normalised


#: Plain ASCII addresses (dot-atom local part, LDH labels, alphabetic TLD) that the library accepts unchanged
#: but for the lower-cased domain. They are nearly every address in a registry file, and the library costs
#: ~30 µs each; anything else (quotes, IDNA, special-use domains, long parts) goes to the library.
#: tests/identity/test_email.py checks that both paths agree.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}})"
)
_SPECIAL = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _fast(address: str) -> str | None:
    match = _PLAIN.fullmatch(address)
    if match is None or len(match["local"]) > 64 or len(address) > 254:
        return None
    domain = match["domain"].lower()
    # "--" covers IDNA ("xn--") and the other reserved labels with hyphens at positions 3-4 ("ab--c")
    if "--" in domain or any(domain == s or domain.endswith("." + s) for s in _SPECIAL):
        return None
    return f"{match['local']}@{domain}"


@lru_cache(maxsize=8192)
def _check(address: str) -> tuple[str, str]:
    """``(normalised, "")`` or ``("", reason)``; a tuple because exceptions cannot be cached."""
    if not address:
        return "", "is empty"
    fast = _fast(address)
    if fast is not None:
        return fast, ""
    try:
        return validate_email(address, check_deliverability=False).normalized, ""
    except EmailNotValidError as exc:
        return "", _one_line(str(exc))


def _one_line(message: str) -> str:
    """The library's sentence as a clause in ``field: reason``: one line, lower-case start, no full stop."""
    message = " ".join(message.split()).rstrip(".")
    first_word = message.split(" ", 1)[0]
    return message if first_word[1:].isupper() else message[:1].lower() + message[1:]  # keep "IDNA …"
