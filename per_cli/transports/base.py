"""The transport contract: a message in, a delivery result out, never an exception for a delivery fault.

``password send`` must tell "sent on SMS, failed on e-mail" apart (exit 3) and keep going through a bulk
run, so a refused connection, a 401 or a rejected recipient is a ``DeliveryResult``, not a raise. One
instance serves a whole bulk run, so transports keep their connection and release it in ``close``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

from per_cli.transports.url import TransportURL

Channel = Literal["sms", "email"]
CHANNELS: tuple[Channel, ...] = ("sms", "email")

log = logging.getLogger("per.transports")


@dataclass(frozen=True)
class Message:
    """One message to one recipient: an E.164 number for SMS, an address for e-mail."""

    channel: Channel
    to: str
    body: str = field(repr=False)  # holds passwords and codes: kept out of reprs and logs
    subject: str | None = None
    #: names the message for ``Transport.find_sent`` (a delivery row's id); transports may ignore it
    key: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What the provider answered. ``error`` is one line for the user; ``detail`` is JSON-safe extra data."""

    status: Literal["sent", "failed", "unknown"]
    provider_id: str | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    @classmethod
    def sent(cls, provider_id: str | None = None, **detail: Any) -> DeliveryResult:
        return cls("sent", provider_id, None, detail)

    @classmethod
    def failed(cls, error: str, provider_id: str | None = None, **detail: Any) -> DeliveryResult:
        return cls("failed", provider_id, error, detail)

    @classmethod
    def unknown(cls, error: str, provider_id: str | None = None, **detail: Any) -> DeliveryResult:
        """The message may have been delivered: the connection broke after the provider had all of it (the SMTP
        data phase, an HTTP request sent and no answer). Resending would give a second, different password."""
        return cls("unknown", provider_id, error, detail)


@dataclass(frozen=True)
class StatusAnswer:
    """What a provider says about a message it accepted: ``delivered``, ``undelivered`` or still ``pending``."""

    state: Literal["delivered", "undelivered", "pending"]
    error: str | None = None
    provider_status: str | None = None


def mask_recipient(to: str) -> str:
    """``+4670*****05`` or ``t***@tolv.se``: enough to tell recipients apart in a log, not to contact them."""
    if "@" in to:
        local, _, domain = to.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(to) <= 6:
        return "*" * len(to)
    return to[:5] + "*" * (len(to) - 7) + to[-2:]


def connect_failure(exc: BaseException, address: str) -> str:
    """One line for a failed connect; "connection refused" is told apart because it means "nothing listens"."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return f"connection refused by {address}"
        cause = cause.__cause__ or cause.__context__
    return f"cannot connect to {address}: {exc}"


def _scrub(text: str, recipient: str, shown: str) -> str:
    """Provider errors often quote the number (Twilio 21211); the log gets the masked form."""
    for form in {recipient, recipient.lstrip("+")} - {""}:
        text = text.replace(form, shown)
    return text


class Transport(ABC):
    """Base class for built-in and plugin transports.

    Subclasses set ``scheme`` and ``channel``, may list the query ``params`` they accept, validate the URL
    in ``__init__`` (raise ``BadURL`` naming the part) and implement ``deliver``. Callers use ``send``,
    which checks the channel and logs the outcome without the body.
    """

    scheme: ClassVar[str] = ""
    channel: ClassVar[Literal["sms", "email", "both"]] = "both"
    #: Query parameters the URL may carry; None accepts any (a plugin that checks its own).
    params: ClassVar[frozenset[str] | None] = None

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        if self.params is not None:
            url.check_params(self.params)
        self.url = url
        self.default_from = default_from

    def supports(self, channel: str) -> bool:
        return self.channel == "both" or self.channel == channel

    @property
    def description(self) -> str:
        """The masked URL: how this transport may be named in output and logs."""
        return self.url.masked()

    def send(self, message: Message) -> DeliveryResult:
        """Deliver ``message``; every delivery fault comes back as ``status="failed"``."""
        if not self.supports(message.channel):
            raise ValueError(f"{self.scheme}:// cannot send {message.channel} messages")
        try:
            result = self.deliver(message)
        except OSError as exc:  # a network or disk fault the subclass did not map itself
            result = DeliveryResult.failed(exc.strerror or str(exc) or type(exc).__name__)
        shown = mask_recipient(message.to)
        outcome = result.status if result.ok else f"{result.status}: {_scrub(result.error or '', message.to, shown)}"
        log.info("%s to %s via %s: %s", message.channel, shown, self.description, outcome)
        return result

    @abstractmethod
    def deliver(self, message: Message) -> DeliveryResult:
        """Hand ``message`` to the provider; return, do not raise, on delivery faults."""

    def delivery_status(self, provider_id: str) -> StatusAnswer | None:
        """Ask the provider what became of a message it accepted; None: this transport cannot tell."""
        return None

    def find_sent(self, key: str) -> bool | None:
        """Did a message with this ``Message.key`` leave? True, False (surely not), or None (cannot tell)."""
        return None

    def close(self) -> None:
        """Release connections; the instance may not be used afterwards."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
