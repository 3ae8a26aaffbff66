"""The texts a patient receives with a new password: Swedish by default, English with ``[messages] language``.

Templates have one placeholder, ``{password}``, and nothing else can be put in: a message body never carries the
personnummer, which IMY says "bör exponeras så lite som möjligt" (should be exposed as little as possible,
https://www.imy.se/lagar--regler/dataskyddsforordningen/kansliga-personuppgifter/personnummer-och-samordningsnummer/),
and the patient knows who they are. A registry may replace a text in ``[messages]`` (``password_sms``,
``password_email``, ``password_subject``); a replaced template is checked when the command starts, so a typo stops
the run before any password is made.

The SMS is checked against GSM-7 single-segment length with a password of the configured length: å, ä and ö
are GSM-7, but one typographic quote turns the text into UCS-2 and two billed segments per patient.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from per_cli.errors import ConfigError

if TYPE_CHECKING:
    from per_cli.config import Config

LANGUAGES = ("sv", "en")

#: language -> (sms body, e-mail subject, e-mail body)
DEFAULTS: dict[str, tuple[str, str, str]] = {
    "sv": (
        "Ditt nya lösenord till PER: {password}\n"
        "Du loggar in med personnummer, lösenordet och en engångskod. Byt lösenordet under Min profil.",
        "Ditt nya lösenord till PER",
        "Hej!\n\n"
        "Här är ditt nya lösenord till PER, Patientens egen registrering:\n\n"
        "    {password}\n\n"
        "Spara lösenordet. Du loggar in med ditt personnummer och lösenordet, och vid varje inloggning får du "
        "dessutom en ny engångskod med sms eller e-post.\n\n"
        "Byt lösenordet under Min profil när du har loggat in första gången.\n\n"
        "Har du inte bett om ett nytt lösenord? Kontakta din vårdenhet.\n\n"
        "Det här meddelandet går inte att svara på.\n",
    ),
    "en": (
        "Your new password for PER: {password}\n"
        "You log in with your personnummer, this password and a one-time code. Change it under My profile.",
        "Your new password for PER",
        "Hello,\n\n"
        "Here is your new password for PER, the patients' own registration:\n\n"
        "    {password}\n\n"
        "Keep the password. You log in with your personnummer and this password, and at every login you also "
        "get a new one-time code by SMS or e-mail.\n\n"
        "Change the password under My profile after your first login.\n\n"
        "Did you not ask for a new password? Contact your care unit.\n\n"
        "Please do not reply to this message.\n",
    ),
}

_PNR_LIKE = re.compile(r"\d{6}[-+ ]?\d{4}")


@dataclass(frozen=True)
class PasswordTexts:
    """The three templates in use, validated; kept in ``str.format`` form (a literal brace is doubled)."""

    language: str
    sms: str
    subject: str
    email: str

    @classmethod
    def from_config(cls, config: Config) -> PasswordTexts:
        where = str(config.path) if config.path else "config"
        language = config.get_str("messages", "language", "sv") or "sv"
        if language not in LANGUAGES:
            raise ConfigError(f'[messages] language: must be "sv" or "en", got {language!r}', field=where)
        sms, subject, email = DEFAULTS[language]
        texts = cls(
            language=language,
            sms=_template(config, "password_sms", sms, where),
            subject=_template(config, "password_subject", subject, where, placeholder=False),
            email=_template(config, "password_email", email, where),
        )
        if "\n" in texts.subject or "\r" in texts.subject:
            raise ConfigError("[messages] password_subject: must be one line", field=where)
        return texts

    def sms_body(self, password: str) -> str:
        return self.sms.format(password=password)

    def email_message(self, password: str) -> tuple[str, str]:
        """(subject, body)."""
        return self.subject.format(), self.email.format(password=password)

    def sms_warning(self, password_length: int) -> str | None:
        """A warning when the SMS with a password of this length needs more than one segment."""
        from per_cli.transports import segment_warning

        warning = segment_warning(self.sms_body("a" * password_length))  # every password character is GSM-7
        return f"[messages] password SMS ({self.language}): {warning}" if warning else None


def _template(config: Config, key: str, default: str, where: str, *, placeholder: bool = True) -> str:
    """``[messages] key`` if set, else ``default``; a template has ``{password}`` once (the subject: never)."""
    value = config.get_str("messages", key)
    if value is None:
        return default
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"[messages] {key}: {exc} (write a literal brace as {{{{ or }}}})", field=where) from None
    unknown = sorted({name for name in fields if name != "password"})
    if unknown:
        raise ConfigError(
            f"[messages] {key}: unknown placeholder {{{unknown[0]}}}; the only one is {{password}}", field=where
        )
    if placeholder and fields.count("password") != 1:
        raise ConfigError(f"[messages] {key}: must contain {{password}} exactly once", field=where)
    if not placeholder and fields:
        raise ConfigError(f"[messages] {key}: must not contain the password", field=where)
    if _PNR_LIKE.search(value):
        raise ConfigError(f"[messages] {key}: must not contain a personnummer", field=where)
    return value
