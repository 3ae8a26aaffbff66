"""``elks://USER:PASS@[HOST[:PORT]][?from=SENDER][&tls=off][&timeout=S][&cafile=PEM][&dryrun=yes]``.

46elks (Uppsala; servers in Sweden): ``POST /a1/sms`` with Basic auth and a form ``from``, ``to``,
``message``; the answer is the SMS object ``{"id", "status", "parts", "cost", …}``; ``GET /a1/sms/{id}`` tells
its status later (``per campaign refresh``). Without ``from`` the
caller's default is used, else ``PER``. ``dryrun=yes`` validates and prices without sending.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from per_cli.transports._http import HttpSmsTransport
from per_cli.transports.base import DeliveryResult, Message, StatusAnswer
from per_cli.transports.gsm7 import validate_sender_id
from per_cli.transports.url import BadURL, TransportURL

DEFAULT_SENDER = "PER"


class ElksTransport(HttpSmsTransport):
    scheme = "elks"
    default_host = "api.46elks.com"
    params = HttpSmsTransport.params | {"dryrun"}

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        super().__init__(url, default_from=default_from)
        sender = url.params.get("from") or default_from or DEFAULT_SENDER
        try:
            self.sender = validate_sender_id(sender)
        except ValueError as exc:
            raise BadURL("from", str(exc)) from None
        self.dryrun = url.choice("dryrun", ("yes", "no"), "no") == "yes"

    def request(self, message: Message) -> tuple[str, dict[str, str]]:
        form = {"from": self.sender, "to": message.to, "message": message.body}
        if self.dryrun:
            form["dryrun"] = "yes"
        return "/a1/sms", form

    def result(self, http_status: int, answer: dict[str, Any]) -> DeliveryResult:
        detail = {k: answer[k] for k in ("status", "parts", "cost", "estimated_cost") if k in answer}
        provider_id = str(answer["id"]) if answer.get("id") is not None else None
        if answer.get("status") == "failed":
            return DeliveryResult.failed(
                "gateway reports status failed", provider_id, http_status=http_status, **detail
            )
        if provider_id is None and not self.dryrun:
            return DeliveryResult.failed("gateway answer has no message id", http_status=http_status, **detail)
        return DeliveryResult.sent(provider_id, http_status=http_status, **detail)

    def status_path(self, provider_id: str) -> str | None:
        return f"/a1/sms/{quote(provider_id, safe='')}"

    def status_answer(self, answer: dict[str, Any]) -> StatusAnswer:
        """46elks: ``created`` → ``sent`` → ``delivered`` or ``failed``."""
        status = str(answer.get("status") or "")
        if status == "delivered":
            return StatusAnswer("delivered", None, status)
        if status == "failed":
            return StatusAnswer("undelivered", "gateway reports status failed", status)
        return StatusAnswer("pending", None, status or None)
