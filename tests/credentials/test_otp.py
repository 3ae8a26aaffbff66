"""One-time codes, their key, their messages; the lockout schedule; the common-password list."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import threading
from pathlib import Path

import pytest

from per_cli.config import Config
from per_cli.credentials import otp
from per_cli.credentials.lockout import LockoutPolicy
from per_cli.errors import ConfigError, InvalidInput

KEY = "k" * 40


def config(data: dict[str, dict[str, object]] | None = None, environ: dict[str, str] | None = None) -> Config:
    return Config(data=data or {}, environ=environ or {})


def test_codes_have_the_configured_digits_and_keep_leading_zeros() -> None:
    codes = [otp.generate_code(6) for _ in range(2000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert any(c.startswith("0") for c in codes)  # P(miss) = 0.9**2000
    assert len(set(codes)) > 1500
    assert len(otp.generate_code(8)) == 8


def test_the_stored_hash_is_keyed_and_bound_to_the_challenge() -> None:
    key = KEY.encode()
    stored = otp.code_hash(key, "c1", "123456")
    assert stored == hmac.new(key, b"c1:123456", hashlib.sha256).hexdigest()
    assert stored != hashlib.sha256(b"123456").hexdigest()
    assert otp.code_matches(key, "c1", "123456", stored)
    assert not otp.code_matches(key, "c2", "123456", stored)  # a hash moved to another challenge
    assert not otp.code_matches(b"x" * 40, "c1", "123456", stored)  # another key
    assert not otp.code_matches(key, "c1", "123457", stored)


def test_settings_defaults_and_limits() -> None:
    s = otp.OtpSettings.from_config(config())
    assert (s.digits, s.ttl_seconds, s.max_attempts, s.language, s.origin) == (6, 300, 5, "sv", None)
    custom = otp.OtpSettings.from_config(
        config(
            {
                "otp": {"digits": 8, "ttl_seconds": 600, "max_attempts": 3},
                "messages": {"language": "en", "otp_origin": "PER.Example.se"},
            }
        )
    )
    assert (custom.digits, custom.ttl_seconds, custom.max_attempts, custom.origin) == (8, 600, 3, "per.example.se")
    for bad in (
        {"otp": {"digits": 5}},
        {"otp": {"digits": 9}},
        {"otp": {"ttl_seconds": 601}},
        {"otp": {"max_attempts": 0}},
        {"messages": {"language": "de"}},
        {"messages": {"otp_origin": "https://per.example.se"}},
    ):
        with pytest.raises(ConfigError):
            otp.OtpSettings.from_config(config(bad))  # type: ignore[arg-type]


def test_messages_swedish_english_and_the_origin_bound_line() -> None:
    sv = otp.OtpSettings()
    subject, body = otp.message_text("042917", sv, "sms")
    assert subject is None and "engångskod" in body and "042917" in body and "5 minuter" in body
    assert "@" not in body
    origin = otp.OtpSettings(origin="per.example.se")
    _, sms = otp.message_text("042917", origin, "sms")
    assert sms.splitlines()[-1] == "@per.example.se #042917"
    subject, mail = otp.message_text("042917", origin, "email")
    assert subject and "@per.example.se" not in mail  # origin-bound codes are an SMS convention
    _, en = otp.message_text("042917", otp.OtpSettings(language="en", ttl_seconds=120), "sms")
    assert en.startswith("Your one-time code for PER is 042917") and "2 minutes" in en


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_sms_is_one_gsm7_segment_even_with_the_longest_origin_line(language: str) -> None:
    from per_cli.transports import sms_segments

    settings = otp.OtpSettings(digits=8, language=language, origin="patientens-egen-registrering.neuroreg.se")
    _, body = otp.message_text("12345678", settings, "sms")
    assert sms_segments(body).encoding == "GSM-7" and sms_segments(body).segments == 1


def test_reading_a_code_back_from_a_message() -> None:
    assert otp.code_from_text("Din kod är 123456.\n\n@per.example.se #123456", 6) == "123456"
    assert otp.code_from_text("Kod 12345678 gäller", 8) == "12345678"
    assert otp.code_from_text("no code here", 6) is None
    assert otp.code_from_text("two codes 111111 and 222222", 6) is None
    assert otp.code_from_text("1234567 is seven digits", 6) is None


def test_normalise_code() -> None:
    assert otp.normalise_code(" 123 456 ", 6) == "123456"
    assert otp.normalise_code("123-456", 6) == "123456"
    for bad in ("12345", "1234567", "12345a", "١٢٣٤٥٦"):
        with pytest.raises(otp.MalformedCode) as caught:
            otp.normalise_code(bad, 6)
        assert caught.value.exit_code == 4 and str(caught.value).startswith("login denied: ")


def test_key_from_environment_wins_and_must_be_long() -> None:
    cfg = config({"otp": {"key": "f" * 40}}, {"PER_OTP_KEY": KEY})
    assert otp.otp_key(cfg) == KEY.encode()
    assert otp.otp_key(config({"otp": {"key": "f" * 40}})) == b"f" * 40
    with pytest.raises(ConfigError, match="at least 32"):
        otp.otp_key(config(environ={"PER_OTP_KEY": "short"}))


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    first = otp.otp_key(config())
    path = tmp_path / "data" / "per" / "otp.key"
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert otp.otp_key(config()) == first and len(first) == 64
    assert not [p for p in path.parent.iterdir() if p.name != "otp.key"]  # no temporary files left


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    cfg = config({"otp": {"key_file": str(tmp_path / "k" / "otp.key")}})
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        keys.append(otp.otp_key(cfg))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_an_unreadable_or_short_key_file_is_a_config_error(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("abc\n")
    with pytest.raises(ConfigError, match="at least 32"):
        otp.otp_key(config({"otp": {"key_file": str(short)}}))
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.key"
        locked.write_text("x" * 64)
        locked.chmod(0)
        with pytest.raises(ConfigError):
            otp.otp_key(config({"otp": {"key_file": str(locked)}}))


def test_slow_down_doubles_from_slow_after_and_is_capped() -> None:
    policy = LockoutPolicy(slow_after=3, delay_ms=500, max_delay_ms=3000, lock_after=10)
    assert [policy.delay_seconds(n) for n in range(1, 8)] == [0, 0, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert LockoutPolicy(delay_ms=0).delay_seconds(50) == 0
    with pytest.raises(ConfigError):
        LockoutPolicy.from_config(config({"login": {"lock_after": 0}}))


def test_the_common_password_list() -> None:
    from per_cli.credentials.passwords import check_new_password, common_passwords

    words = common_passwords()
    assert len(words) >= 1000
    assert {"123456", "password", "qwerty123", "lösenord", "sommar2024", "hejsan123", "1qaz2wsx"} <= words
    assert all(w == w.lower() and w.strip() == w for w in words)
    with pytest.raises(InvalidInput, match="common"):
        check_new_password("Sommar2024", min_length=8)
    check_new_password("Tolvans-första-lösen", min_length=8)
