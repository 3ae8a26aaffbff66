"""Personnummer parsing: every accepted form, every rejection reason, and properties over generated identities.

python-stdnum's Luhn helper is the independent oracle for check digits, so the tests do not reuse the code
they test.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.se import personnummer as stdnum_personnummer

from per_cli.errors import InvalidInput
from per_cli.identity import Personnummer, normalise_personnummer, parse_personnummer
from per_cli.identity import personnummer as pnr

TODAY = date(2025, 6, 15)
TOLVAN = "191212121212"


def with_check(eleven: str) -> str:
    """Complete ``YYYYMMDDNNN`` (or ``YYMMDDNNN``) with its Luhn check digit over the 10-digit form."""
    return eleven + luhn.calc_check_digit(eleven[-9:])


def rejection(text: str, today: date = TODAY) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_personnummer(text, today=today)
    assert caught.value.field == "personnummer"
    return caught.value.message


# --- accepted forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "191212121212",
        "19121212-1212",
        "19121212+1212",  # 12 digits: the separator does not change the century
        "121212+1212",
        " 19121212-1212 ",
        "19121212 - 1212",
        "1912 1212 1212",
        "\u00a019121212-1212\u00a0",  # non-breaking spaces from a web page or Excel
        "19121212\u202f1212",  # narrow no-break space
        "\t191212121212\r\n",
        "\ufeff191212121212",  # byte-order mark glued to the first cell
        "1912\u200b1212-1212",  # zero-width space
        "19121212\u20131212",  # en dash, as Word writes it
        "19121212\u22121212",  # minus sign
        "12 12 12 + 12 12",
    ],
)
def test_tolvan_in_every_form(text: str) -> None:
    assert normalise_personnummer(text, today=TODAY) == Personnummer(TOLVAN)


@pytest.mark.parametrize("text", ["121212-1212", "1212121212", "121212 1212", " 121212-1212"])
def test_ten_digits_without_plus_mean_under_100(text: str) -> None:
    parsed = parse_personnummer(text, today=TODAY)
    assert parsed.is_short
    assert parsed.default.canonical == "201212121212"
    assert [c.canonical for c in parsed.candidates] == ["201212121212", "191212121212", "181212121212"]


def test_twelve_digits_have_one_candidate() -> None:
    parsed = parse_personnummer(TOLVAN, today=TODAY)
    assert not parsed.is_short
    assert parsed.candidates == (parsed.default,)


def test_properties() -> None:
    tolvan = Personnummer(TOLVAN)
    assert tolvan.display == "19121212-1212"
    assert tolvan.birth_date == date(1912, 12, 12)
    assert not tolvan.is_coordination


def test_default_today_is_the_real_today() -> None:
    assert normalise_personnummer("121212-1212").canonical == "201212121212"


# --- centenarians and the century of 10-digit numbers -----------------------------------------------------


def test_plus_means_100_or_older() -> None:
    parsed = parse_personnummer("121212+1212", today=TODAY)
    assert parsed.default.canonical == TOLVAN
    assert [c.canonical for c in parsed.candidates] == [TOLVAN, "181212121212"]


def test_plus_switches_on_1_january_of_the_year_of_the_100th_birthday() -> None:
    # Born 1925-12-20: on 2025-06-15 aged 99, yet Skatteverket already writes "+" since 1 January.
    short = with_check("251220123")
    assert normalise_personnummer(short[:6] + "+" + short[6:], today=TODAY).canonical == "19" + short
    # Born 1926: "+" cannot mean 1926 before 2026, so it means 1826.
    short = with_check("260101123")
    assert normalise_personnummer(short[:6] + "+" + short[6:], today=TODAY).canonical == "18" + short
    assert normalise_personnummer(short[:6] + "+" + short[6:], today=date(2026, 1, 1)).canonical == "19" + short


def test_later_this_year_means_a_hundred_years_ago() -> None:
    short = with_check("250620123")  # 20 June; today is 15 June 2025
    parsed = parse_personnummer(short, today=TODAY)
    assert [c.canonical for c in parsed.candidates] == ["19" + short, "18" + short]
    assert parse_personnummer(short, today=date(2025, 6, 20)).default.canonical == "20" + short


def test_29_february_only_in_leap_centuries() -> None:
    short = with_check("000229123")  # 2000 is a leap year, 1900 and 1800 are not
    parsed = parse_personnummer(short[:6] + "-" + short[6:], today=TODAY)
    assert [c.canonical for c in parsed.candidates] == ["20" + short]
    short = with_check("040229123")  # 2004, 1904, 1804 are all leap years
    assert len(parse_personnummer(short, today=TODAY).candidates) == 3


def test_a_centenarian_born_29_february_1900_does_not_exist() -> None:
    short = with_check("000229123")
    assert rejection(short[:6] + "+" + short[6:]) == "no such date 1900-02-29"


def test_an_impossible_date_is_shown_in_the_century_the_separator_names() -> None:
    short = with_check("260229123")  # "+" in 2025 cannot mean 1926, so the reason names 1826
    assert rejection(short[:6] + "+" + short[6:]) == "no such date 1826-02-29"
    assert rejection(short[:6] + "-" + short[6:]) == "no such date 1926-02-29"  # 2026 is to come


# --- samordningsnummer ------------------------------------------------------------------------------------


def test_stdnum_rejects_a_samordningsnummer_that_we_accept() -> None:
    assert not stdnum_personnummer.is_valid("701063-2391")
    assert not stdnum_personnummer.is_valid("197010632391")
    got = normalise_personnummer("701063-2391", today=TODAY)
    assert got.canonical == "197010632391"
    assert got.is_coordination
    assert got.birth_date == date(1970, 10, 3)
    assert got.display == "19701063-2391"


@pytest.mark.parametrize(
    ("eleven", "birth_date"),
    [
        ("19150072239", None),  # month 00: Skatteverket's test data (191500722390)
        ("19151260239", None),  # raw day 60: day unknown
        ("19150060239", None),  # both unknown
        ("20000289123", date(2000, 2, 29)),
        ("19121291123", date(1912, 12, 31)),
    ],
)
def test_samordningsnummer_with_known_and_unknown_parts(eleven: str, birth_date: date | None) -> None:
    got = normalise_personnummer(with_check(eleven), today=TODAY)
    assert got.is_coordination
    assert got.birth_date == birth_date


# --- rejections -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", pnr.EMPTY),
        ("  \u00a0 ", pnr.EMPTY),
        ("19121212121", "must have 10 or 12 digits, got 11"),
        ("1912121212123", "must have 10 or 12 digits, got 13"),
        ("19121212-12123", "must have 10 or 12 digits, got 13"),
        ("12121212", "must have 10 or 12 digits, got 8" + pnr.LOST_ZEROS),
        ("12-12-12", "must have 10 or 12 digits, got 6"),
        ("19121212-12l2", pnr.BAD_CHARACTERS),
        ("TOLVAN", pnr.BAD_CHARACTERS),
        ("19121212/1212", pnr.BAD_CHARACTERS),
        ("1912.12.12-1212", pnr.BAD_CHARACTERS),
        ("١٩١٢١٢١٢١٢١٢", pnr.BAD_CHARACTERS),  # Arabic-Indic digits pass str.isdigit()
        ("1,91212E+11", pnr.SCIENTIFIC),
        ("1.91212E+11", pnr.SCIENTIFIC),
        ("1,91212e11", pnr.SCIENTIFIC),
        ("1,91212121212E+11", pnr.SCIENTIFIC),
        (" 1,91212E+11 ", pnr.SCIENTIFIC),
        ("8,80320E+09", pnr.SCIENTIFIC),
        ("191212121212.0", pnr.DECIMAL),
        ("191212121212,00", pnr.DECIMAL),
        ("1912-1212-1212", pnr.TOO_MANY_SEPARATORS),
        ("19121212--1212", pnr.TOO_MANY_SEPARATORS),
        ("1912121-21212", pnr.SEPARATOR_PLACE),
        ("-191212121212", pnr.SEPARATOR_PLACE),
        ("191212121212+", pnr.SEPARATOR_PLACE),
        ("19121212-1213", pnr.CHECK_DIGIT),
        ("121212-1213", pnr.CHECK_DIGIT),
        ("20230230-1234", "no such date 2023-02-30"),
        ("20230290-1234", "no such date 2023-02-30 (coordination number day 90)"),
        ("19121292-1212", "no such date 1912-12-32 (coordination number day 92)"),
        ("19121245-1212", "no such date 1912-12-45"),
        ("19121232-1212", "no such date 1912-12-32"),
        ("19121300-1212", "no such date 1912-13-00"),
        ("19120012-1212", "no such date 1912-00-12"),  # month 00 only for samordningsnummer
        ("19121200-1212", "no such date 1912-12-00"),  # day 00 only for samordningsnummer
        ("19230229-1234", "no such date 1923-02-29"),
        ("19000229-1234", "no such date 1900-02-29"),
        ("17991212-1212", pnr.BEFORE_FIRST_YEAR),
        ("00001212-1212", pnr.BEFORE_FIRST_YEAR),
        (with_check("20991212123"), pnr.FUTURE),
        (with_check("20250616123"), pnr.FUTURE),  # tomorrow
        (with_check("20250760123"), pnr.FUTURE),  # samordningsnummer, July 2025, day unknown
        (with_check("20260072123"), pnr.FUTURE),  # samordningsnummer, 2026, month unknown
        (with_check("19121212000"), pnr.SERIAL_000),
        (with_check("121212000"), pnr.SERIAL_000),
    ],
)
def test_rejection_reasons(text: str, reason: str) -> None:
    assert rejection(text) == reason


def test_reasons_never_echo_the_number() -> None:
    for text in ["19121212-1213", "19121212121", "191212121213", "121212+1213"]:
        message = rejection(text)
        assert "1212" not in message


def test_today_is_a_valid_birth_date() -> None:
    newborn = with_check("20250615123")
    assert normalise_personnummer(newborn, today=TODAY).canonical == newborn


# --- properties over generated identities -----------------------------------------------------------------

WHITESPACE = st.sampled_from([" ", "\u00a0", "\u202f", "\t"])


@st.composite
def identities(draw: st.DrawFn) -> tuple[str, date, bool]:
    """A valid canonical number: birth date 1890..today, optional samordningsnummer, serial 001..999."""
    born = draw(st.dates(min_value=date(1890, 1, 1), max_value=TODAY))
    coordination = draw(st.booleans())
    serial = draw(st.integers(min_value=1, max_value=999))
    day = born.day + 60 if coordination else born.day
    return with_check(f"{born:%Y%m}{day:02d}{serial:03d}"), born, coordination


def sprinkle(data: st.DataObject, text: str) -> str:
    """Insert a few stray spaces anywhere, as copy-paste and spreadsheets do."""
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + data.draw(WHITESPACE) + text[at:]
    return text


def right_separator(born: date) -> str:
    return "+" if TODAY.year - born.year >= 100 else "-"


@given(identities(), st.data())
def test_every_long_form_maps_to_the_canonical(identity: tuple[str, date, bool], data: st.DataObject) -> None:
    canonical, born, coordination = identity
    forms = [canonical, f"{canonical[:8]}-{canonical[8:]}", f"{canonical[:8]}+{canonical[8:]}"]
    forms.append(sprinkle(data, data.draw(st.sampled_from(forms))))
    for text in forms:
        parsed = parse_personnummer(text, today=TODAY)
        assert parsed.default.canonical == canonical
        assert parsed.candidates == (parsed.default,)
        assert not parsed.is_short
    got = Personnummer(canonical)
    assert got.birth_date == born
    assert got.is_coordination == coordination
    assert normalise_personnummer(got.display, today=TODAY) == got


@given(identities(), st.data())
def test_every_short_form_finds_the_canonical(identity: tuple[str, date, bool], data: st.DataObject) -> None:
    canonical, born, _ = identity
    short = canonical[2:]
    separator = right_separator(born)
    official = parse_personnummer(sprinkle(data, f"{short[:6]}{separator}{short[6:]}"), today=TODAY)
    assert official.is_short
    assert official.default.canonical == canonical
    assert official.default in official.candidates
    for text in (short, f"{short[:6]}-{short[6:]}"):  # "-" or nothing: any century, newest first
        parsed = parse_personnummer(sprinkle(data, text), today=TODAY)
        assert Personnummer(canonical) in parsed.candidates
        assert parsed.default == parsed.candidates[0]
        if separator == "-":
            assert parsed.default.canonical == canonical


@given(identities())
def test_ordinary_numbers_agree_with_stdnum(identity: tuple[str, date, bool]) -> None:
    canonical, _, coordination = identity
    assert stdnum_personnummer.is_valid(canonical[:8] + "-" + canonical[8:]) != coordination


@given(identities(), st.integers(min_value=1, max_value=9))
def test_a_wrong_check_digit_is_named(identity: tuple[str, date, bool], shift: int) -> None:
    canonical, _, _ = identity
    wrong = canonical[:-1] + str((int(canonical[-1]) + shift) % 10)
    assert rejection(wrong) == pnr.CHECK_DIGIT
    assert rejection(wrong[2:]) == pnr.CHECK_DIGIT


@given(st.sampled_from([10, 12]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)))
def test_any_digit_string_failing_luhn_is_rejected(digits: str) -> None:
    assume(not luhn.is_valid(digits[-10:]))
    with pytest.raises(InvalidInput):
        parse_personnummer(digits, today=TODAY)


@given(identities(), st.data())
def test_any_string_with_a_letter_is_rejected(identity: tuple[str, date, bool], data: st.DataObject) -> None:
    text = data.draw(st.sampled_from([identity[0], identity[0][2:], f"{identity[0][:8]}-{identity[0][8:]}"]))
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    letter = data.draw(st.characters(categories=["L"]))
    with pytest.raises(InvalidInput):
        parse_personnummer(text[:at] + letter + text[at:], today=TODAY)


@given(identities(), st.sampled_from([".", ","]), st.sampled_from(["E+11", "E+011", "e11", "E11"]))
def test_scientific_notation_is_recognised(identity: tuple[str, date, bool], point: str, exponent: str) -> None:
    mantissa = f"{int(identity[0]) / 1e11:.5f}".replace(".", point)
    assert rejection(mantissa + exponent) == pnr.SCIENTIFIC
