"""The cooling-off rule for new passwords: none goes to a contact that has just replaced an earlier one.

The support desk's protection against a caller who is not the patient: someone who talked staff into changing
the mobile number or e-mail address on a profile must not get a new password sent there at once. A password
is therefore not sent to a mobile number or e-mail address that replaced an earlier one within ``[passwords]
contact_change_hold_hours`` (24; 0 switches the rule off), unless staff confirmed the change with the patient
(``--contact-verified-by in-person|id-document|callback``), which the ``password.send`` event records. A contact
set for the first time is not held.

When a contact was replaced is recorded by the database itself (a trigger on ``patient``, migration i14a), so
every way of changing a profile (``patient edit-profile``, a bulk enrolment's updates) is covered.

A list (``password send --file``, a campaign) holds such a patient as a rejected row with the reason, unless the
list's ``contact_verified_by`` column says how staff confirmed the change (:func:`check_list_hold`). When the
campaign is sent, later than it was read, a contact replaced since the patient was queued is held again.

BankID's phone authentication is deliberately not used here: BankID's relying-party terms forbid using BankID
to issue or reset another credential ("ID-växling").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from per_cli.errors import AuthDenied, InvalidInput

if TYPE_CHECKING:
    from per_cli.config import Config
    from per_cli.db.models import Patient

#: how staff confirmed a recently changed contact with the patient
VERIFIED_BY = ("in-person", "id-document", "callback")
DEFAULT_HOLD_HOURS = 24
_CHANNEL_NAMES = {"sms": "mobile number", "email": "e-mail address"}


class ContactHeld(AuthDenied):
    """A new password was refused for a contact changed within the hold (exit 4); ``channels`` names which."""

    def __init__(self, message: str, channels: tuple[str, ...]) -> None:
        super().__init__(message)
        self.channels = channels


@dataclass(frozen=True)
class HoldSettings:
    hours: int = DEFAULT_HOLD_HOURS

    @classmethod
    def from_config(cls, config: Config) -> HoldSettings:
        return cls(config.get_int("passwords", "contact_change_hold_hours", DEFAULT_HOLD_HOURS, lo=0, hi=24 * 30))


def check_verified_by(value: str | None) -> str | None:
    """``--contact-verified-by``: one of :data:`VERIFIED_BY`, or None."""
    if value is None:
        return None
    if value not in VERIFIED_BY:
        raise InvalidInput(f"must be one of {', '.join(VERIFIED_BY)}", field="contact_verified_by")
    return value


def held_channels(
    patient: Patient,
    channels: Iterable[str],
    settings: HoldSettings,
    now: datetime,
    *,
    after: datetime | None = None,
    checked: Collection[str] = (),
) -> list[str]:
    """The chosen channels whose contact replaced an earlier one within the hold; a ``checked`` channel (one a
    list's reading already let through at ``after``) only when it was replaced after that."""
    if settings.hours == 0:
        return []
    since = now - timedelta(hours=settings.hours)
    replaced = {"sms": patient.mobile_replaced_at, "email": patient.email_replaced_at}
    held = []
    for ch in channels:
        at = replaced.get(ch)
        if at is None or at <= since or (after is not None and ch in checked and at <= after):
            continue
        held.append(ch)
    return held


def check_hold(
    patient: Patient, channels: Iterable[str], settings: HoldSettings, now: datetime, *, verified_by: str | None
) -> dict[str, object]:
    """Raise :class:`ContactHeld` for a held contact unless ``verified_by`` says how staff confirmed it.

    Returns what the ``password.send`` event records: ``{"contact_verified_by": …, "held_channels": […]}`` when
    the hold was lifted, ``{}`` when nothing was held.
    """
    held = held_channels(patient, channels, settings, now)
    if not held:
        return {"contact_verified_by": verified_by} if verified_by else {}
    if verified_by is not None:
        return {"contact_verified_by": verified_by, "held_channels": held}
    what = " and ".join(_CHANNEL_NAMES.get(ch, ch) for ch in held)
    raise ContactHeld(
        f"the patient's {what} was changed less than {settings.hours} h ago; confirm the change with the patient "
        "and send again with --contact-verified-by in-person, id-document or callback",
        tuple(held),
    )


class HeldInList(InvalidInput):
    """A patient of a list whose contact is held: the row is rejected (or, when sent, failed) with this reason."""


def check_list_hold(
    patient: Patient,
    channels: Iterable[str],
    settings: HoldSettings,
    now: datetime,
    *,
    verified_by: str | None = None,
    after: datetime | None = None,
    checked: Collection[str] = (),
) -> dict[str, object]:
    """:func:`check_hold` for a row of a list: :class:`HeldInList` names the column that lifts the hold.

    Returns what the audit records when the row's ``verified_by`` lifted a hold, ``{}`` when nothing was held.
    """
    held = held_channels(patient, channels, settings, now, after=after, checked=checked)
    if not held:
        return {}
    if verified_by is not None:
        return {"contact_verified_by": verified_by, "held_channels": held}
    what = " and ".join(_CHANNEL_NAMES.get(ch, ch) for ch in held)
    raise HeldInList(
        f"held: the patient's {what} was changed less than {settings.hours} h ago; confirm the change with the "
        f"patient, then give {', '.join(VERIFIED_BY)} in the list's contact_verified_by column (or send to the "
        "patient alone with --contact-verified-by)"
    )
