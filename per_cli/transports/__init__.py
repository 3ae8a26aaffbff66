"""Outgoing SMS and e-mail, chosen by URL (README, "Transports"): smtp, elks, twilio, file, console and plugins.

Typical use::

    from per_cli.transports import Message, open_configured

    with open_configured("sms", config.data, config.environ) as sms:
        result = sms.send(Message("sms", "+46701740605", text))
"""

from __future__ import annotations

from per_cli.transports.base import Channel, DeliveryResult, Message, Transport, mask_recipient
from per_cli.transports.gsm7 import segment_warning, sms_segments, validate_sender_id
from per_cli.transports.registry import (
    known_schemes,
    open_configured,
    open_transport,
    transport_url_for,
)
from per_cli.transports.url import BadURL, TransportURL, masked, parse_url

__all__ = [
    "BadURL",
    "Channel",
    "DeliveryResult",
    "Message",
    "Transport",
    "TransportURL",
    "known_schemes",
    "mask_recipient",
    "masked",
    "open_configured",
    "open_transport",
    "parse_url",
    "segment_warning",
    "sms_segments",
    "transport_url_for",
    "validate_sender_id",
]
