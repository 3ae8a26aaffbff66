"""Recommended user messages (RFA texts) and the hint-code mapping of the auth flow.

BankID requires relying parties to show these texts rather than raw hint codes, and new hint codes may appear
without notice, so every lookup has a generic fallback instead of failing (BankID's RP guidelines,
https://developers.bankid.com).
"""

from __future__ import annotations

from typing import Literal

from per_cli.errors import ConfigError

Language = Literal["sv", "en"]

#: RFA code -> (Swedish, English), the current short wordings.
RFA_TEXTS: dict[str, tuple[str, str]] = {
    "RFA1": ("Starta BankID-appen.", "Start your BankID app."),
    "RFA2": (
        "Du har inte BankID-appen installerad. Kontakta din bank.",
        "The BankID app is not installed. Please contact your bank.",
    ),
    "RFA3": ("Åtgärden avbruten. Försök igen.", "The action was cancelled. Please try again."),
    "RFA4": (
        "En identifiering eller underskrift för det här personnumret är redan påbörjad. Försök igen.",
        "An identification or signing for this personal number is already started. Please try again.",
    ),
    "RFA5": ("Något gick fel. Försök igen.", "Something went wrong. Please try again."),
    "RFA6": ("Åtgärden avbröts.", "The action was cancelled."),
    "RFA8": (
        "BankID-appen svarar inte. Kontrollera att den är startad och att du har internetanslutning. "
        "Om du inte har ett giltigt BankID kan du skaffa ett hos din bank. Försök sedan igen.",
        "The BankID app is not responding. Please check that it's started and that you have internet "
        "access. If you don't have a valid BankID you can get one from your bank. Try again.",
    ),
    "RFA9": (
        "Skriv in din säkerhetskod i BankID-appen och välj Identifiera eller Skriv under.",
        "Enter your security code in the BankID app and select Identify or Sign.",
    ),
    "RFA13": ("Försöker starta BankID-appen.", "Trying to start your BankID app."),
    "RFA15A": (
        "Söker efter BankID. Säkerställ att du har ett giltigt BankID på den här datorn. "
        "Om du har ett BankID på kort, sätt in kortet i kortläsaren.",
        "Searching for BankID. Make sure you have a valid BankID on this computer. "
        "If you have a BankID on card, please insert the card into your card reader.",
    ),
    "RFA15B": (
        "Söker efter BankID. Säkerställ att du har ett giltigt BankID på den här enheten.",
        "Searching for BankID. Make sure you have a valid BankID on this device.",
    ),
    "RFA16": (
        "Ditt BankID är för gammalt eller spärrat. Använd ett annat BankID eller skaffa ett nytt hos din bank.",
        "Your BankID is blocked or too old. Please use another BankID or get a new one from your bank.",
    ),
    "RFA17A": (
        "Du verkar inte ha BankID-appen/programmet. Installera den och skaffa ett BankID hos din bank.",
        "You don't seem to have the BankID app/program. Please install it and get a BankID from your bank.",
    ),
    "RFA17B": (
        "Misslyckades att läsa av QR-koden. Starta BankID-appen och läs av QR-koden.",
        "Failed to scan the QR code. Start the BankID app and scan the QR code.",
    ),
    "RFA19": (
        "Vill du använda BankID på den här datorn eller ett Mobilt BankID?",
        "Would you like to use BankID on this computer, or a Mobile BankID?",
    ),
    "RFA20": (
        "Vill du använda BankID på den här enheten eller på en annan enhet?",
        "Do you want to use BankID on this device or another device?",
    ),
    "RFA21": ("En identifiering eller underskrift pågår.", "An identification or signing is in progress."),
    "RFA22": ("Något gick fel. Försök igen.", "Something went wrong. Please try again."),
    "RFA23": (
        "Fotografera och läs av din ID-handling med BankID-appen.",
        "Take a photo of, and scan, your ID document with the BankID app.",
    ),
}

_FAILED_RFA = {
    "cancelled": "RFA3",
    "userCancel": "RFA6",
    "expiredTransaction": "RFA8",
    "certificateErr": "RFA16",
}

_ERROR_RFA = {
    "alreadyInProgress": "RFA4",
    "requestTimeout": "RFA5",
    "internalError": "RFA5",
    "maintenance": "RFA5",
}

#: Errors that point at our own integration (bad request, no access): not shown as a BankID message.
_INTERNAL_ERRORS = frozenset(
    {"invalidParameters", "unauthorized", "notFound", "methodNotAllowed", "unsupportedMediaType"}
)


def check_language(value: str) -> Language:
    """Accept ``sv``/``en`` (also ``sv-SE``, ``en_GB`` …); anything else is a configuration mistake."""
    short = value.strip().lower()[:2]
    if short == "sv":
        return "sv"
    if short == "en":
        return "en"
    raise ConfigError(f"unsupported language {value!r}; use sv or en", field="bankid.language")


def rfa_text(code: str, language: str = "sv") -> str:
    """The text of one RFA message; an unknown code gives the generic RFA22 rather than an error."""
    sv, en = RFA_TEXTS.get(code, RFA_TEXTS["RFA22"])
    return en if check_language(language) == "en" else sv


def pending_rfa(hint_code: str | None, *, autostarted: bool = False, mobile: bool = False) -> str:
    """RFA code for a pending order; an unknown (new) hint code is 'in progress' (RFA21), never a failure."""
    if hint_code in ("outstandingTransaction", None):
        return "RFA13" if autostarted else "RFA1"
    if hint_code == "noClient":
        return "RFA1"
    if hint_code == "started":
        return "RFA15B" if mobile else "RFA15A"
    if hint_code == "userSign":
        return "RFA9"
    if hint_code == "userMrtd":
        return "RFA23"
    return "RFA21"


def failed_rfa(hint_code: str | None, *, qr: bool = True) -> str:
    """RFA code for a failed order; unknown hint codes get the generic RFA22."""
    if hint_code == "startFailed":
        return "RFA17B" if qr else "RFA17A"
    return _FAILED_RFA.get(hint_code or "", "RFA22")


def error_rfa(error_code: str | None) -> str | None:
    """RFA code to show for an API error, or None for the internal ones that are not the user's business."""
    if error_code in _ERROR_RFA:
        return _ERROR_RFA[error_code]
    if error_code in _INTERNAL_ERRORS:
        return None
    return "RFA22"


def pending_message(
    hint_code: str | None, language: str = "sv", *, autostarted: bool = False, mobile: bool = False
) -> str:
    """The text to show while an order is pending with ``hint_code``."""
    return rfa_text(pending_rfa(hint_code, autostarted=autostarted, mobile=mobile), language)


def failed_message(hint_code: str | None, language: str = "sv", *, qr: bool = True) -> str:
    """The text to show when an order failed with ``hint_code``."""
    return rfa_text(failed_rfa(hint_code, qr=qr), language)
