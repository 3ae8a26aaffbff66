"""Where a one-time code goes (the profile's contacts, or the chosen channel) and the transports that take it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from per_cli.errors import InvalidInput

if TYPE_CHECKING:
    from per_cli.config import Config
    from per_cli.transports import Transport

CHANNEL_CHOICES = ("sms", "email", "all")


@dataclass(frozen=True)
class Recipient:
    channel: str
    to: str


def plan_channels(
    mobile: str | None, mobile_type: str | None, email: str | None, choice: str | None
) -> tuple[list[Recipient], list[str]]:
    """Where the code goes, and warnings. ``None`` means every usable channel on the profile; a chosen channel
    without a usable contact is refused (``InvalidInput``, exit 1) before anything is sent or stored."""
    from per_cli.identity.phone import PhoneNumber

    sms_ok = bool(mobile) and PhoneNumber(mobile or "", mobile_type or "unknown").is_mobile
    warnings: list[str] = []
    if choice is None:
        found: list[Recipient] = []
        if sms_ok and mobile:
            found.append(Recipient("sms", mobile))
        elif mobile:
            warnings.append("no SMS: the number on the profile is not a mobile number")
        if email:
            found.append(Recipient("email", email))
        if not found:
            raise InvalidInput(
                "the patient's profile has no mobile number or e-mail address to send a code to; "
                "add one with `per patient edit-profile`",
                field="channel",
            )
        return found, warnings
    if choice not in CHANNEL_CHOICES:
        raise InvalidInput(f"must be one of {', '.join(CHANNEL_CHOICES)}", field="channel")
    wanted = ("sms", "email") if choice == "all" else (choice,)
    recipients = []
    for channel in wanted:
        if channel == "sms":
            if not mobile:
                raise InvalidInput(
                    "the patient's profile has no mobile number; add one with `per patient edit-profile PNR --mobile "
                    "NUMBER`, or choose --channel email",
                    field="channel sms",
                )
            if not sms_ok:
                raise InvalidInput(
                    "the number on the patient's profile is not a mobile number; SMS is refused: set a mobile with "
                    "`per patient edit-profile PNR --mobile NUMBER`, or choose --channel email",
                    field="channel sms",
                )
            recipients.append(Recipient("sms", mobile))
        else:
            if not email:
                raise InvalidInput(
                    "the patient's profile has no e-mail address; add one with `per patient edit-profile PNR --email "
                    "ADDRESS`, or choose --channel sms",
                    field="channel email",
                )
            recipients.append(Recipient("email", email))
    return recipients, warnings


def open_transports(config: Config, channels: list[str], *, require_file: bool) -> dict[str, Transport]:
    from per_cli.transports import open_transport, transport_url_for

    opened: dict[str, Transport] = {}
    for channel in channels:
        url, setting = transport_url_for(channel, config.data, config.environ)
        transport = open_transport(url, channel=channel, setting=setting)
        if require_file and transport.scheme != "file":
            raise InvalidInput(f"needs the file:// transport, but {setting} is {transport.description}", field="outbox")
        opened[channel] = transport
    return opened
