"""RFA texts and the hint-code mapping, including hint codes BankID has not invented yet."""

from __future__ import annotations

import pytest

from per_cli.bankid.messages import (
    RFA_TEXTS,
    check_language,
    error_rfa,
    failed_message,
    failed_rfa,
    pending_message,
    pending_rfa,
    rfa_text,
)
from per_cli.errors import ConfigError


@pytest.mark.parametrize(
    ("hint", "kwargs", "rfa"),
    [
        ("outstandingTransaction", {}, "RFA1"),
        ("outstandingTransaction", {"autostarted": True}, "RFA13"),
        ("noClient", {}, "RFA1"),
        ("started", {}, "RFA15A"),
        ("started", {"mobile": True}, "RFA15B"),
        ("userSign", {}, "RFA9"),
        ("userMrtd", {}, "RFA23"),
        ("somethingNew", {}, "RFA21"),
        (None, {}, "RFA1"),
    ],
)
def test_pending(hint: str | None, kwargs: dict[str, bool], rfa: str) -> None:
    assert pending_rfa(hint, **kwargs) == rfa


@pytest.mark.parametrize(
    ("hint", "qr", "rfa"),
    [
        ("cancelled", True, "RFA3"),
        ("userCancel", True, "RFA6"),
        ("expiredTransaction", True, "RFA8"),
        ("certificateErr", True, "RFA16"),
        ("startFailed", True, "RFA17B"),
        ("startFailed", False, "RFA17A"),
        ("userDeclinedCall", True, "RFA22"),
        ("transactionRiskBlocked", True, "RFA22"),
        ("somethingNew", True, "RFA22"),
        (None, True, "RFA22"),
    ],
)
def test_failed(hint: str | None, qr: bool, rfa: str) -> None:
    assert failed_rfa(hint, qr=qr) == rfa


@pytest.mark.parametrize(
    ("code", "rfa"),
    [
        ("alreadyInProgress", "RFA4"),
        ("requestTimeout", "RFA5"),
        ("internalError", "RFA5"),
        ("maintenance", "RFA5"),
        ("invalidParameters", None),
        ("unauthorized", None),
        ("notFound", None),
        ("methodNotAllowed", None),
        ("unsupportedMediaType", None),
        ("brandNewCode", "RFA22"),
    ],
)
def test_errors(code: str, rfa: str | None) -> None:
    assert error_rfa(code) == rfa


def test_swedish_by_default_english_by_choice() -> None:
    assert pending_message("userSign") == RFA_TEXTS["RFA9"][0]
    assert (
        pending_message("userSign", "en") == "Enter your security code in the BankID app and select Identify or Sign."
    )
    assert failed_message("userCancel", "en-GB") == "The action was cancelled."
    assert failed_message("userCancel") == "Åtgärden avbröts."
    assert rfa_text("RFA999", "en") == RFA_TEXTS["RFA22"][1]


def test_every_text_exists_in_both_languages() -> None:
    assert all(sv and en and sv != en for sv, en in RFA_TEXTS.values())


def test_unknown_language_is_a_config_error() -> None:
    assert check_language("SV") == "sv"
    with pytest.raises(ConfigError) as info:
        check_language("de")
    assert info.value.field == "bankid.language"
