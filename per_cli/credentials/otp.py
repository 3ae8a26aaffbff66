"""One-time codes: generation, keyed hashing, the message texts, and reading a code back from a file outbox.

A code is ``digits`` random decimal digits (6 by default, 6–8), valid ``ttl_seconds`` (300, at most 600 as
NIST SP 800-63B §5.1.3.2 allows), at most ``max_attempts`` tries (5). At most ``max_sends`` codes (5) go to one
patient per ``send_window_minutes`` (15), as Twilio Verify caps them (``per_cli.credentials.send_cap``). Only
``HMAC-SHA256(key, challenge_id ":" code)`` is stored: binding the challenge id means a hash copied to another
row verifies nothing, and the key means a stolen database does not give the codes away (a 6-digit code is
trivially brute-forced from a plain hash). Codes are compared with ``hmac.compare_digest``.

The key (config ``[otp] key`` or environment ``PER_OTP_KEY``, at least 32 characters) must be the same on
every machine that shares a database, because a code sent from one terminal may be typed on another. When
neither is set, a random key is created once in ``otp.key`` in the user data dir (or ``[otp] key_file``),
mode 0600: right for the embedded single-user SQLite database, wrong for a shared PostgreSQL one — set the
key there. The database cannot hold the key (that would defeat the point), but it holds the key's
fingerprint, and a machine with another key stops (``per_cli.credentials.otp_key``).

Message texts are Swedish by default, English with ``[messages] language = "en"``; they never contain the
personnummer. With ``[messages] otp_origin = "per.example.se"`` the SMS ends with the origin-bound line
``@per.example.se #123456`` (WICG "Origin-bound one-time codes delivered via SMS"), so phones autofill the code
only on that site.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from per_cli.errors import AuthDenied, ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from per_cli.config import Config

KEY_ENV = "PER_OTP_KEY"
KEY_FILE = "otp.key"
MIN_KEY_LENGTH = 32
LANGUAGES = ("sv", "en")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_ORIGIN_LINE = re.compile(r"^@(\S+) #(\d+)(?: .*)?$")


@dataclass(frozen=True)
class OtpSettings:
    digits: int = 6
    ttl_seconds: int = 300
    max_attempts: int = 5
    language: str = "sv"
    origin: str | None = None
    max_sends: int = 5
    send_window_minutes: int = 15

    @classmethod
    def from_config(cls, config: Config) -> OtpSettings:
        language = config.get_str("messages", "language", "sv") or "sv"
        if language not in LANGUAGES:
            raise ConfigError(f'[messages] language: must be "sv" or "en", got {language!r}', field=_where(config))
        origin = config.get_str("messages", "otp_origin")
        if origin is not None:
            origin = origin.strip().lower().rstrip(".")
            if not _HOST.match(origin):
                raise ConfigError(
                    "[messages] otp_origin: must be a host name such as per.example.se (no scheme, port or path)",
                    field=_where(config),
                )
        return cls(
            digits=config.get_int("otp", "digits", cls.digits, lo=6, hi=8),
            ttl_seconds=config.get_int("otp", "ttl_seconds", cls.ttl_seconds, lo=30, hi=600),
            max_attempts=config.get_int("otp", "max_attempts", cls.max_attempts, lo=1, hi=10),
            language=language,
            origin=origin or None,
            max_sends=config.get_int("otp", "max_sends", cls.max_sends, lo=1, hi=100),
            send_window_minutes=config.get_int("otp", "send_window_minutes", cls.send_window_minutes, lo=1, hi=24 * 60),
        )


def _where(config: Config) -> str:
    return str(config.path) if config.path else "config"


def generate_code(digits: int) -> str:
    """``digits`` decimal digits from the OS CSPRNG; leading zeros are kept."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def new_challenge_id() -> str:
    """128 random bits, hex: names a challenge for the two-step flow; useless without the code."""
    return secrets.token_hex(16)


def code_hash(key: bytes, challenge_id: str, code: str) -> str:
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, challenge_id: str, code: str, stored: str) -> bool:
    """Constant-time comparison of the typed code's keyed hash with the stored one."""
    return hmac.compare_digest(code_hash(key, challenge_id, code.strip()), stored)


class MalformedCode(AuthDenied):
    """A typed code that cannot be one (wrong length, letters): refused before any database work, so it is
    neither compared nor counted as a try (exit 4, the login refusals' message family)."""


def normalise_code(text: str, digits: int) -> str:
    """The code as typed, without spaces or hyphens; a code of the wrong shape is :class:`MalformedCode`."""
    code = re.sub(r"[\s-]", "", text)
    if not (code.isascii() and code.isdigit() and len(code) == digits):
        raise MalformedCode(f"login denied: a one-time code is {digits} digits; type it as it was sent")
    return code


# --- the key ---


def otp_key(config: Config) -> bytes:
    """The HMAC key: ``PER_OTP_KEY``, ``[otp] key``, else the key file (created on first use, 0600).

    Logins take it through ``per_cli.credentials.otp_key.shared_otp_key``, which also checks it against the
    fingerprint the database holds and never creates a key file once the database has one."""
    return existing_key(config) or _key_from_file(_key_path(config))


def existing_key(config: Config) -> bytes | None:
    """The configured key (``PER_OTP_KEY``, ``[otp] key``) or the key file's, None when there is none yet."""
    value = config.get_str("otp", "key", env=KEY_ENV)
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"the one-time-code key must have at least {MIN_KEY_LENGTH} characters "
                '(e.g. python -c "import secrets; print(secrets.token_hex(32))")',
                field=KEY_ENV if config.environ.get(KEY_ENV) else "[otp] key",
            )
        return value.encode()
    try:
        return _read_key(_key_path(config))
    except FileNotFoundError:
        return None


def _key_path(config: Config) -> Path:
    named = config.get_str("otp", "key_file")
    if named:
        return Path(named).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("per")) / KEY_FILE


def _key_from_file(path: Path) -> bytes:
    """Read the key file, or create it atomically: written under a temporary name, then hard-linked into place
    (``link`` fails if another process won the race, and then its key is read)."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return _read_key(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the one-time-code key file: {exc.strerror or exc}; set {KEY_ENV} or [otp] key",
            field=str(path),
        ) from None


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except UnicodeDecodeError:
        text = ""
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(
            f"cannot read the one-time-code key file: {exc.strerror or exc}; make it readable for you, or set "
            f"{KEY_ENV} or [otp] key",
            field=str(path),
        ) from None
    if len(text) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"the one-time-code key file must hold at least {MIN_KEY_LENGTH} characters; put the key the other "
            f"machines use in it, or set {KEY_ENV} or [otp] key",
            field=str(path),
        )
    return text.encode()


# --- messages ---

_TEXTS = {
    "sv": {
        "subject": "Din engångskod till PER",
        "body": "Din engångskod till PER är {code}. Koden gäller i {minutes} minuter. Lämna aldrig ut koden "
        "till någon annan.",
    },
    "en": {
        "subject": "Your one-time code for PER",
        "body": "Your one-time code for PER is {code}. It is valid for {minutes} minutes. Never give the code "
        "to anyone.",
    },
}


def message_text(code: str, settings: OtpSettings, channel: str) -> tuple[str | None, str]:
    """(subject, body) for one channel; the SMS gets the origin-bound last line when an origin is set."""
    texts = _TEXTS[settings.language]
    minutes = max(1, round(settings.ttl_seconds / 60))
    body = texts["body"].format(code=code, minutes=minutes)
    if channel == "sms":
        if settings.origin:
            body += f"\n\n@{settings.origin} #{code}"
        return None, body
    return texts["subject"], body + "\n"


def code_from_text(body: str, digits: int) -> str | None:
    """The code in a message we sent: the origin-bound ``#code`` if present, else the only run of ``digits``
    digits (``None`` when there is none or more than one)."""
    lines = body.strip().splitlines()
    if lines:
        match = _ORIGIN_LINE.match(lines[-1].strip())
        if match and len(match.group(2)) == digits:
            return match.group(2)
    found = set(re.findall(rf"(?<!\d)\d{{{digits}}}(?!\d)", body))
    return found.pop() if len(found) == 1 else None


def newest_message_to(records: Iterable[dict[str, Any]], channel: str, to: str) -> dict[str, Any] | None:
    """The newest outbox record for this recipient (``read_outbox`` yields oldest first)."""
    newest = None
    for record in records:
        if record.get("channel") == channel and record.get("to") == to:
            newest = record
    return newest
