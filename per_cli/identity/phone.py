"""Phone numbers: normalise to E.164 with python-phonenumbers, Sweden as the default region.

Validity is judged by the numbering plan, not only by ``is_possible_number`` (length), because Swedish
lengths overlap: ``0701234`` is a possible but unassigned number. ``number_type`` returns ``UNKNOWN`` exactly
when ``is_valid_number`` is false (both run the same per-type pattern match after the same region lookup), so
one call gives validity and type (about 30 µs per number instead of 40). A valid number that is not
a mobile number is returned with its type; the caller stores it with a warning and refuses SMS to it.

Letters are refused although phonenumbers would read ``070-ABC`` as a vanity number and ``ext. 12`` as an
extension: in a patient's mobile field they are typing errors, and SMS has no extension. A number whose
leading zero a spreadsheet dropped (``701740605``) or that lost its ``+`` (``46701740605``) is still
understood, as phonenumbers reads both unambiguously.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from per_cli.errors import InvalidInput

EMPTY = "is empty"
BAD_CHARACTERS = "contains characters other than digits, spaces and + - ( ) . /"
SCIENTIFIC = (
    "looks like a number mangled by a spreadsheet (scientific notation such as 4,67017E+10); "
    "format the column as text and export again"
)
NOT_A_NUMBER = "is not a phone number"
UNKNOWN_COUNTRY = "has an unknown country code"
_DIGITS_HINT = "a Swedish mobile has 10 digits (070-123 45 67); another country's starts with + and its code"
TOO_SHORT = f"is too short: is a digit missing? {_DIGITS_HINT}"
TOO_LONG = f"is too long: is a digit too many? {_DIGITS_HINT}"
WRONG_LENGTH = "has the wrong number of digits for its country"
LOCAL_ONLY = "is a local number; include the area code"
NOT_IN_PLAN = "is not a valid number in the numbering plan of {region} (+{code})"

#: Swedish mobile numbers in their common clean forms; phonenumbers' SE metadata types ``7[023689]\d{7}`` mobile.
#: Bulk files are almost all of this shape, and the full parser costs ~40 µs a number; tests check agreement.
_SE_MOBILE = re.compile(r"(?:\+46|0046|0)(7[023689]\d{7})")
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")
_NOT_ALLOWED = re.compile(r"[^0-9+\-().\s/\u2010-\u2014\u2212]")
_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: UNKNOWN_COUNTRY,
    NumberParseException.NOT_A_NUMBER: NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}
_LENGTH_ERRORS = {
    ValidationResult.INVALID_COUNTRY_CODE: UNKNOWN_COUNTRY,
    ValidationResult.TOO_SHORT: TOO_SHORT,
    ValidationResult.TOO_LONG: TOO_LONG,
    ValidationResult.INVALID_LENGTH: WRONG_LENGTH,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: LOCAL_ONLY,
}
_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
_MOBILE_TYPES = frozenset({"mobile", "fixed_line_or_mobile"})


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid phone number in E.164 form with its numbering-plan type (``"mobile"``, ``"fixed_line"`` …)."""

    e164: str
    number_type: str

    @property
    def is_mobile(self) -> bool:
        """Whether SMS can reach it; ``fixed_line_or_mobile`` counts (the plan cannot tell, e.g. US)."""
        return self.number_type in _MOBILE_TYPES


def parse_phone(text: str, *, field: str = "mobile", region: str = "SE") -> PhoneNumber:
    """Parse a typed or imported number (a national number is read in ``region``); else ``InvalidInput``."""
    compact = "".join(text.split())
    if not compact:
        raise InvalidInput(EMPTY, field=field)
    if region == "SE" and (fast := _SE_MOBILE.fullmatch(compact.replace("-", ""))):
        return PhoneNumber("+46" + fast.group(1), "mobile")
    if _NOT_ALLOWED.search(compact):
        reason = SCIENTIFIC if _SCIENTIFIC.fullmatch(compact) else BAD_CHARACTERS
        raise InvalidInput(reason, field=field)
    try:
        number = phonenumbers.parse(compact, region)
    except NumberParseException as exc:
        raise InvalidInput(_PARSE_ERRORS.get(exc.error_type, NOT_A_NUMBER), field=field) from None
    number_type = phonenumbers.number_type(number)  # UNKNOWN exactly when is_valid_number() is False
    if number_type == PhoneNumberType.UNKNOWN:
        raise InvalidInput(_invalid_reason(number), field=field)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber(e164, _TYPE_NAMES.get(number_type, "unknown"))


def _invalid_reason(number: phonenumbers.PhoneNumber) -> str:
    """Why a number is not valid, as precisely as the metadata allows.

    ``is_possible_number_with_reason`` only knows the lengths of *all* types in a country together (Sweden:
    6-10 and 12 digits), so ``+46 70 174 060`` (a mobile missing a digit) counts as possible. When it says
    possible, try up to five digits more, or up to three fewer: if that gives a valid number, this one is too
    short or too long. Only the error path pays for this.
    """
    reason = _LENGTH_ERRORS.get(phonenumbers.is_possible_number_with_reason(number))
    if reason:
        return reason
    code = number.country_code or 0
    nsn = phonenumbers.national_significant_number(number)
    if any(_is_valid(code, nsn + d * extra) for extra in range(1, 6) for d in "0123456789"):
        return TOO_SHORT
    if any(_is_valid(code, nsn[:-cut]) for cut in (1, 2, 3) if len(nsn) - cut >= 2):
        return TOO_LONG
    return NOT_IN_PLAN.format(region=phonenumbers.region_code_for_country_code(code), code=code)


def _is_valid(country_code: int, nsn: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(f"+{country_code}{nsn}"))
    except NumberParseException:
        return False
