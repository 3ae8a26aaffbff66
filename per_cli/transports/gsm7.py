"""SMS length in GSM-7 septets or UCS-2 units, and the sender-ID rule (3GPP TS 23.038; 46elks KB).

Operators bill per segment, and one character outside GSM-7 (a typographic quote, an emoji) turns a
160-character text into a 70-character one; templates are checked with this before a bulk run.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

#: The GSM 03.38 basic table (0x00–0x7F) without ESC (0x1B). Swedish åäöÅÄÖ, é and ü are all here.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: ESC + code, so each of these costs two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # a concatenated part gives 7 septets to the 6-byte UDH
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


class SmsLength(NamedTuple):
    """``units`` are septets for GSM-7 and UTF-16 code units for UCS-2."""

    encoding: Encoding
    units: int
    segments: int


def _widths(text: str) -> tuple[Encoding, list[int]]:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return "GSM-7", [2 if c in GSM7_EXTENSION else 1 for c in text]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def sms_segments(text: str) -> SmsLength:
    """Encoding, length and segment count; an ESC pair or surrogate pair never straddles two parts."""
    encoding, widths = _widths(text)
    units = sum(widths)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    if units <= single:
        return SmsLength(encoding, units, 1)
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return SmsLength(encoding, units, segments)


def non_gsm7_chars(text: str) -> list[str]:
    """The distinct characters that force UCS-2, in order of appearance (to name them in a warning)."""
    seen: dict[str, None] = {}
    for c in text:
        if c not in GSM7_BASIC and c not in GSM7_EXTENSION:
            seen.setdefault(c)
    return list(seen)


def segment_warning(text: str) -> str | None:
    """A one-line warning when ``text`` needs more than one SMS, naming what to change; else None."""
    length = sms_segments(text)
    if length.segments <= 1:
        return None
    if length.encoding == "UCS-2":
        culprits = " ".join(repr(c) for c in non_gsm7_chars(text)[:5])
        return (
            f"the SMS text needs {length.segments} segments: {length.units} UCS-2 characters, one segment "
            f"holds {UCS2_SINGLE}; these characters are not GSM-7: {culprits}"
        )
    return (
        f"the SMS text needs {length.segments} segments: {length.units} GSM-7 septets, one segment holds "
        f"{GSM7_SINGLE} (each of ^{{}}\\[~]|€ counts as 2)"
    )


_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z][A-Za-z0-9]{2,10}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def validate_sender_id(sender: str) -> str:
    """Return ``sender`` if it is a phone number in E.164 or a text sender ID operators deliver.

    Text IDs: 3–11 ASCII letters and digits, not starting with a digit (46elks KB; Twilio is similar).
    Raises ValueError with the reason otherwise.
    """
    if _E164.fullmatch(sender) or _ALPHANUMERIC_SENDER.fullmatch(sender):
        return sender
    if sender.startswith("+"):
        raise ValueError(f"{sender!r} is not a phone number in E.164 form (+46700000000)")
    if not 3 <= len(sender) <= 11:
        raise ValueError(f"{sender!r} must be 3–11 characters long, not {len(sender)}")
    if sender[0].isdigit():
        raise ValueError(f"{sender!r} must not start with a digit")
    raise ValueError(f"{sender!r} may contain only the letters A–Z, a–z and the digits 0–9")
