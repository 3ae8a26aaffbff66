"""Phone numbers, tested with the ranges PTS reserves for fiction: never assigned, yet valid in the plan."""

from __future__ import annotations

import subprocess
import sys

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from per_cli.errors import InvalidInput
from per_cli.identity import PhoneNumber, parse_phone, phone
from per_cli.identity.phone import _SE_MOBILE

FICTION_MOBILE = st.integers(min_value=5, max_value=99)  # 070-174 06 05 .. 070-174 06 99


def rejection(text: str, field: str = "mobile") -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_phone(text, field=field)
    assert caught.value.field == field
    return caught.value.message


MOBILE_FORMS = [
    "070-174 06 {nn}",
    "07017406{nn}",
    "070 174 06 {nn}",
    "070-17406{nn}",
    "070/17406{nn}",
    "070.174.06.{nn}",
    "070\u2013174 06 {nn}",  # en dash
    "\u00a0070 174 06 {nn}\u00a0",
    "+467017406{nn}",
    "+46 70 174 06 {nn}",
    "+46 (0)70-174 06 {nn}",
    "(0)70-17406{nn}",
    "00467017406{nn}",
    "0046 70 174 06 {nn}",
    "7017406{nn}",  # leading zero dropped by a spreadsheet
    "467017406{nn}",  # "+" dropped
]


@pytest.mark.parametrize("form", MOBILE_FORMS)
def test_fiction_mobile_in_common_forms(form: str) -> None:
    got = parse_phone(form.format(nn="05"))
    assert got == PhoneNumber("+46701740605", "mobile")
    assert got.is_mobile


@given(FICTION_MOBILE, st.sampled_from(MOBILE_FORMS))
def test_whole_fiction_mobile_range(last: int, form: str) -> None:
    assert parse_phone(form.format(nn=f"{last:02d}")).e164 == f"+467017406{last:02d}"


@given(st.integers(min_value=0, max_value=99))
def test_fiction_landline_is_a_valid_fixed_line(last: int) -> None:
    got = parse_phone(f"08-465 004 {last:02d}")
    assert got == PhoneNumber(f"+468465004{last:02d}", "fixed_line")
    assert not got.is_mobile


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("031-390 06 00", "+46313900600"),
        ("040-628 04 99", "+46406280499"),
        ("0980-31 92 00", "+46980319200"),
        ("+46 8 465 004 00", "+46846500400"),
    ],
)
def test_other_fiction_landlines(text: str, e164: str) -> None:
    assert parse_phone(text) == PhoneNumber(e164, "fixed_line")


@pytest.mark.parametrize(
    ("text", "number_type", "is_mobile"),
    [
        ("075-123 45 67", "personal_number", False),
        ("020-12 34 56", "toll_free", False),
        ("074-712 34 56", "pager", False),
        ("010-123 45 67", "uan", False),
        ("+44 7911 123456", "mobile", True),
        ("+1 202 555 0100", "fixed_line_or_mobile", True),  # NANP: the plan cannot tell
    ],
)
def test_number_types(text: str, number_type: str, is_mobile: bool) -> None:
    got = parse_phone(text)
    assert got.number_type == number_type
    assert got.is_mobile == is_mobile


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", phone.EMPTY),
        ("   ", phone.EMPTY),
        ("+4670174060", phone.TOO_SHORT),
        ("070-174 06 0", phone.TOO_SHORT),
        ("070174", phone.TOO_SHORT),
        ("+467017406055", phone.TOO_LONG),
        ("070-174 06 055", phone.TOO_LONG),
        ("+46 70 174 06 05 55 55 55 55 55 55", phone.TOO_LONG),
        ("+46 8 465 004 00 12", phone.WRONG_LENGTH),
        ("0710000000", "is not a valid number in the numbering plan of SE (+46)"),
        ("abc", phone.BAD_CHARACTERS),
        ("070-ABC-DEFG", phone.BAD_CHARACTERS),  # phonenumbers would read letters as a vanity number
        ("+46701740605 ext. 12", phone.BAD_CHARACTERS),
        ("tolvan@tolv.se", phone.BAD_CHARACTERS),
        ("0", phone.NOT_A_NUMBER),
        ("+46", phone.NOT_A_NUMBER),
        ("--", phone.NOT_A_NUMBER),
        ("+999 123 456", phone.UNKNOWN_COUNTRY),
        ("4,67017E+10", phone.SCIENTIFIC),
        ("7.01741E+08", phone.SCIENTIFIC),
    ],
)
def test_rejection_reasons(text: str, reason: str) -> None:
    assert rejection(text) == reason


def test_field_is_the_callers() -> None:
    assert rejection("+4670174060", field="contact_phone") == phone.TOO_SHORT


@given(st.text("0123456789", min_size=5, max_size=13), st.sampled_from(["SE", "GB", "US", "FI"]))
def test_number_type_unknown_exactly_when_invalid(digits: str, region: str) -> None:
    """parse_phone uses number_type() == UNKNOWN in place of a second is_valid_number() call."""
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return
    unknown = phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.UNKNOWN
    assert unknown != phonenumbers.is_valid_number(number)


def test_importing_the_package_does_not_import_phonenumbers_or_email_validator() -> None:
    code = (
        "import sys, per_cli.identity as i\n"
        "assert 'phonenumbers' not in sys.modules and 'email_validator' not in sys.modules\n"
        "i.normalise_personnummer('191212121212')\n"
        "assert 'phonenumbers' not in sys.modules\n"
        "assert i.parse_phone('0701740605').e164 == '+46701740605'\n"
        "assert 'phonenumbers' in sys.modules and 'email_validator' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the fast path for clean Swedish mobile numbers must agree with phonenumbers exactly ---


@settings(max_examples=3000, deadline=None)
@given(
    prefix=st.sampled_from(["+46", "0046", "0", "+460", "46", ""]),
    second=st.integers(0, 9),
    rest=st.text("0123456789", min_size=6, max_size=9),
    dashes=st.booleans(),
)
def test_fast_path_agrees_with_phonenumbers(prefix: str, second: int, rest: str, dashes: bool) -> None:
    text = f"{prefix}7{second}{'-' if dashes else ''}{rest}"
    match = _SE_MOBILE.fullmatch(text.replace("-", ""))
    if match is None:
        return
    number = phonenumbers.parse(text, "SE")
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+46" + match.group(1)


def test_every_mobile_series_of_the_metadata_is_covered_or_falls_back() -> None:
    for second in range(10):
        number = phonenumbers.parse(f"07{second}1740605", "SE")
        is_mobile = phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        assert bool(_SE_MOBILE.fullmatch(f"07{second}1740605")) == is_mobile, second
