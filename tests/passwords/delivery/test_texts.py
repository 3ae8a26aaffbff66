"""The texts a patient receives and the settings behind them: GSM-7 length, placeholders, sender ID, language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from per_cli.config import Config
from per_cli.errors import ConfigError
from per_cli.passwords.delivery.core import SendSettings
from per_cli.passwords.delivery.texts import DEFAULTS, PasswordTexts
from per_cli.transports import sms_segments


def config(**messages: Any) -> Config:
    return Config(data={"messages": messages}, path=Path("per.toml"), environ={})


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("length", [8, 12, 30])
def test_default_sms_is_one_gsm7_segment(language: str, length: int) -> None:
    texts = PasswordTexts.from_config(config(language=language))
    body = texts.sms_body("K" * length)
    assert sms_segments(body) == (("GSM-7", len(body), 1))  # å, ä, ö are GSM-7 and count one septet
    assert texts.sms_warning(length) is None


@pytest.mark.parametrize("language", ["sv", "en"])
def test_default_texts_name_no_personnummer_and_hold_the_password_once(language: str) -> None:
    texts = PasswordTexts.from_config(config(language=language))
    subject, body = texts.email_message("Pw3x7kQmZr9t")
    assert body.count("Pw3x7kQmZr9t") == 1 and texts.sms_body("Pw3x7kQmZr9t").count("Pw3x7kQmZr9t") == 1
    assert "Pw3x7kQmZr9t" not in subject
    assert not any(ch.isdigit() for ch in DEFAULTS[language][0] + DEFAULTS[language][2])


def test_swedish_is_the_default_and_english_is_chosen_by_config() -> None:
    assert PasswordTexts.from_config(config()).subject == "Ditt nya lösenord till PER"
    assert PasswordTexts.from_config(config(language="en")).subject == "Your new password for PER"
    with pytest.raises(ConfigError, match='language: must be "sv" or "en"'):
        PasswordTexts.from_config(config(language="de"))


def test_a_long_or_non_gsm7_template_is_warned_about() -> None:
    long = PasswordTexts.from_config(config(password_sms="Lösenord: {password}. " + "Välkommen till PER! " * 8))
    assert "2 segments" in (long.sms_warning(12) or "") and "GSM-7 septets" in (long.sms_warning(12) or "")
    quote = PasswordTexts.from_config(config(password_sms="“Ditt lösenord” är {password}. " + "x" * 60))
    warning = quote.sms_warning(12) or ""
    assert "UCS-2" in warning and "'“'" in warning


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("password_sms", "Hej!", "must contain {password} exactly once"),
        ("password_sms", "{password} {password}", "exactly once"),
        ("password_email", "Hej {name}, {password}", "unknown placeholder {name}"),
        ("password_sms", "Lösenord {password} för 19121212-1212", "must not contain a personnummer"),
        ("password_subject", "Ditt lösenord {password}", "must not contain the password"),
        ("password_subject", "två\nrader", "must be one line"),
        ("password_sms", "trasig {password", "write a literal brace"),
    ],
)
def test_bad_templates_are_refused_by_name(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"password_|{message}") as info:
        PasswordTexts.from_config(config(**{key: value}))
    assert message in str(info.value) and key in str(info.value)


def test_a_template_may_carry_literal_braces() -> None:
    texts = PasswordTexts.from_config(config(password_sms="{{PER}} lösenord: {password}"))
    assert texts.sms_body("abc") == "{PER} lösenord: abc"


@pytest.mark.parametrize("sender", ["Neuroreg", "PER2", "abc", "Abcdefghijk", "+46700000000"])
def test_good_sender_ids(sender: str) -> None:
    assert SendSettings.from_config(config(sms_sender=sender)).sms_sender == sender


@pytest.mark.parametrize(
    ("sender", "reason"),
    [("NR", "3–11 characters"), ("Neuroregistret", "3–11 characters"), ("1177Vard", "must not start with a digit"),
     ("Neuro reg", "only the letters"), ("Neuröreg", "only the letters")],
)  # fmt: skip
def test_bad_sender_ids_are_refused(sender: str, reason: str) -> None:
    with pytest.raises(ConfigError, match="sms_sender") as info:
        SendSettings.from_config(config(sms_sender=sender))
    assert reason in str(info.value)


def test_settings_defaults_follow_owasp_and_the_issue() -> None:
    settings = SendSettings.from_config(config())
    assert settings.length == 12
    assert (settings.params.time_cost, settings.params.memory_kib, settings.params.parallelism) == (2, 19_456, 1)
    assert settings.texts.language == "sv" and settings.sms_sender is None and settings.email_from is None
