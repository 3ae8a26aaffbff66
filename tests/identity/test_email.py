"""E-mail addresses: syntax only (no DNS), normalised by email-validator."""

from __future__ import annotations

import string

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from per_cli.errors import InvalidInput
from per_cli.identity import normalise_email
from per_cli.identity.email import _fast


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("tolvan.tolvansson@tolv.se", "tolvan.tolvansson@tolv.se"),
        ("Tolvan.Tolvansson@TOLV.SE", "Tolvan.Tolvansson@tolv.se"),  # local part is the server's business
        (" tolvan@tolv.se ", "tolvan@tolv.se"),
        ("\u00a0tolvan@tolv.se\t", "tolvan@tolv.se"),
        ("tolvan+per@tolv.se", "tolvan+per@tolv.se"),
        ("åsa.öberg@tolv.se", "åsa.öberg@tolv.se"),
        ("tolvan@RÄKSMÖRGÅS.se", "tolvan@räksmörgås.se"),
        ("tolvan@xn--rksmrgs-5wao1o.se", "tolvan@räksmörgås.se"),  # IDNA decoded
        ("tolvan@example.com", "tolvan@example.com"),  # no DNS: reserved example domains pass
    ],
)
def test_valid_addresses_are_normalised(text: str, normalised: str) -> None:
    assert normalise_email(text) == normalised


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tolvan@", "there must be something after the @-sign"),
        ("tolvan", "an email address must have an @-sign"),
        ("tolvan.tolv.se", "an email address must have an @-sign"),
        ("tol van@tolv.se", "the email address contains invalid characters before the @-sign: SPACE"),
        ("tolvan@tolv .se", "the part after the @-sign contains invalid characters: SPACE"),
        ("tolvan@tolv..se", "an email address cannot have two periods in a row"),
        ("tolvan@localhost", "the part after the @-sign is not valid. It should have a period"),
        (
            "Tolvan <tolvan@tolv.se>",
            "a display name and angle brackets around the email address are not permitted here",
        ),
        ("", "is empty"),
        ("   ", "is empty"),
    ],
)
def test_invalid_addresses_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_email(text)
    assert caught.value.field == "email"
    assert caught.value.message == reason


def test_reason_is_one_line_and_field_is_the_callers() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_email("tolvan@tolv.se\nBcc: x@y.se", field="contact_email")
    assert caught.value.field == "contact_email"
    assert "\n" not in caught.value.message


def test_repeated_input_gives_the_same_answer() -> None:
    assert normalise_email("Tolvan@TOLV.se") == normalise_email("Tolvan@TOLV.se") == "Tolvan@tolv.se"
    for _ in range(2):
        with pytest.raises(InvalidInput):
            normalise_email("tolvan@")


# --- the fast path for plain ASCII addresses must agree with email-validator exactly ---


_LOCAL = st.text(string.ascii_letters + string.digits + ".!#$%&'*+/=?^_`{|}~-\"()", min_size=0, max_size=70)
_DOMAIN = st.text(string.ascii_letters + string.digits + ".-", min_size=0, max_size=40)
_TLD = st.sampled_from(["se", "SE", "com", "test", "local", "x", "1a", "nu", "xn--p1ai", "museum", ""])


def _library(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@settings(max_examples=2000, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, tld=_TLD)
def test_fast_path_agrees_with_email_validator(local: str, domain: str, tld: str) -> None:
    address = f"{local}@{domain}.{tld}" if tld else f"{local}@{domain}"
    fast = _fast(address)
    if fast is not None:
        assert fast == _library(address)


@pytest.mark.parametrize(
    "address",
    [
        "tolvan.tolvansson@tolv.se",
        "A.B+tag@Sub.Example.COM",
        "x@a-b.c-d.se",
        "o'neil@example.org",
        "a@" + "b" * 63 + ".se",
    ],
)
def test_fast_path_takes_plain_addresses(address: str) -> None:
    assert _fast(address) is not None
    assert _fast(address) == _library(address)


@pytest.mark.parametrize(
    "address",
    [
        "a..b@tolv.se",
        ".a@tolv.se",
        "a@tolv",
        "a@-x.se",
        "a@x-.se",
        "a@bb--a.se",  # hyphens at positions 3-4 are reserved labels (found by hypothesis)
        "a@tolv.test",
        "a@xn--bcher-kva.se",
        '"a b"@tolv.se',
        "å@tolv.se",
        "a@tolv.1a",
    ],
)
def test_unusual_addresses_go_to_the_library(address: str) -> None:
    assert _fast(address) is None
