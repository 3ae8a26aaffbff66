"""``console://``: prints each message, body included, on stderr; for development only."""

from __future__ import annotations

import sys
from itertools import count

from per_cli.transports.base import DeliveryResult, Message, Transport
from per_cli.transports.url import BadURL, TransportURL


class ConsoleTransport(Transport):
    scheme = "console"
    channel = "both"
    params = frozenset()

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        super().__init__(url, default_from=default_from)
        if url.host or url.user or url.port or url.path not in ("", "/"):
            raise BadURL("url", "console:// takes nothing after the scheme")
        self._numbers = count(1)

    def deliver(self, message: Message) -> DeliveryResult:
        number = next(self._numbers)
        lines = [f"----- {message.channel} #{number} to {message.to} -----"]
        if message.subject is not None:
            lines.append(f"Subject: {message.subject}")
        lines += [message.body, "-----"]
        print("\n".join(lines), file=sys.stderr, flush=True)
        return DeliveryResult.sent(f"console-{number}")
