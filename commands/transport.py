"""``per transport test``: send one test message through the configured transport and show the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from per_cli.cli.options import format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("transport")
def cli() -> None:
    """Test the SMS and e-mail transports.

    Transports are chosen by URL: PER_EMAIL_TRANSPORT / PER_SMS_TRANSPORT, else `email` / `sms` under
    [transports] in the config file.
    """


@cli.command("test")
@click.option("--sms", "number", metavar="NUMBER", help="Send a test SMS to this mobile number.")
@click.option("--email", "address", metavar="ADDRESS", help="Send a test e-mail to this address.")
@format_option()
@click.pass_obj
def test(app: App, number: str | None, address: str | None, fmt: str) -> None:
    """Send a test message and print what the provider answered; exit 1 if it failed.

    The table format is one line per field; the others give transport, channel, to, status, provider_id,
    error and detail (what the provider said, by key).

    \b
    Example:
      PER_SMS_TRANSPORT='elks://USER:PASS@?from=Neuroreg' per transport test --sms '070-174 06 05'
      per transport test --email tolvan.tolvansson@tolv.se
    """
    if (number is None) == (address is None):
        raise click.UsageError("give exactly one of --sms NUMBER or --email ADDRESS")
    from datetime import datetime

    from per_cli.errors import DeliveryFailed
    from per_cli.transports import Message, open_configured

    config, environ = app.config.data, app.config.environ
    if number is not None:
        channel, to = "sms", _e164(number)
        message = Message("sms", to, f"Test från per {datetime.now():%Y-%m-%d %H:%M}. Inget att göra.")
    else:
        channel, to = "email", _address(address or "")
        message = Message(
            "email",
            to,
            f"Detta är ett testmeddelande från per, skickat {datetime.now():%Y-%m-%d %H:%M}.\n"
            "This is a test message from per. Nothing needs to be done.\n",
            subject="per: testmeddelande / test message",
        )
    with open_configured(channel, config, environ) as transport:
        result = transport.send(message)
        description = transport.description
    if fmt == "table":
        rows = [
            ("transport", description),
            ("channel", channel),
            ("to", to),
            ("status", result.status),
            ("provider_id", result.provider_id or "-"),
        ]
        if result.error:
            rows.append(("error", result.error))
        rows += [(key, str(value)) for key, value in result.detail.items()]
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            click.echo(f"{key.ljust(width)}  {value}")
    else:
        from per_cli.cli.output import emit

        record = {
            "transport": description,
            "channel": channel,
            "to": to,
            "status": result.status,
            "provider_id": result.provider_id,
            "error": result.error,
            "detail": dict(result.detail),
        }
        emit([record], fmt, single=True)
    if not result.ok:
        raise DeliveryFailed(f"test {channel} to {to} failed: {result.error}")


def _e164(number: str) -> str:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, "SE")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise click.BadParameter(f"{number!r} is not a valid phone number", param_hint="--sms")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _address(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="--email") from None
