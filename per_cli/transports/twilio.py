"""``twilio://ACCOUNT_SID:AUTH_TOKEN@[HOST[:PORT]]?from=SENDER[&tls=off][&timeout=S][&cafile=PEM]``.

Twilio Messages API: ``POST /2010-04-01/Accounts/{SID}/Messages.json`` with Basic auth (SID, token) and a
form ``To``, ``From`` (or ``MessagingServiceSid`` when ``from`` is an ``MG…`` SID), ``Body``; success is
201 with ``{"sid", "status", "num_segments", …}``, errors are ``{"code", "message", "more_info", "status"}``;
``GET …/Messages/{sid}.json`` tells the status later (``per campaign refresh``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx

from per_cli.transports._http import HttpSmsTransport
from per_cli.transports.base import DeliveryResult, Message, StatusAnswer
from per_cli.transports.gsm7 import validate_sender_id
from per_cli.transports.url import BadURL, TransportURL

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


class TwilioTransport(HttpSmsTransport):
    scheme = "twilio"
    default_host = "api.twilio.com"
    user_label = "Account SID"
    password_label = "Auth Token"

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        super().__init__(url, default_from=default_from)
        if not _ACCOUNT_SID.fullmatch(url.user or ""):
            raise BadURL("user", "a Twilio Account SID is AC followed by 32 hex digits")
        sender = url.params.get("from") or default_from
        if not sender:
            raise BadURL("from", "missing; Twilio needs ?from=SENDER (an E.164 number, a sender ID or an MG… SID)")
        self.sender_field = "MessagingServiceSid" if _SERVICE_SID.fullmatch(sender) else "From"
        if self.sender_field == "From":
            try:
                validate_sender_id(sender)
            except ValueError as exc:
                raise BadURL("from", str(exc)) from None
        self.sender = sender

    def request(self, message: Message) -> tuple[str, dict[str, str]]:
        form = {"To": message.to, self.sender_field: self.sender, "Body": message.body}
        return f"/2010-04-01/Accounts/{self.url.user}/Messages.json", form

    def result(self, http_status: int, answer: dict[str, Any]) -> DeliveryResult:
        detail = {k: answer[k] for k in ("status", "num_segments", "error_code") if answer.get(k) is not None}
        sid = str(answer["sid"]) if answer.get("sid") else None
        if answer.get("status") in ("failed", "undelivered", "canceled"):
            reason = answer.get("error_message") or f"status {answer['status']}"
            return DeliveryResult.failed(f"gateway reports: {reason}", sid, http_status=http_status, **detail)
        if sid is None:
            return DeliveryResult.failed("gateway answer has no message sid", http_status=http_status, **detail)
        return DeliveryResult.sent(sid, http_status=http_status, **detail)

    def error_text(self, response: httpx.Response) -> str:
        try:
            answer = response.json()
        except (ValueError, json.JSONDecodeError):
            return super().error_text(response)
        if isinstance(answer, dict) and answer.get("message"):
            code = answer.get("code")
            return f"{code} {answer['message']}" if code else str(answer["message"])
        return super().error_text(response)

    def status_path(self, provider_id: str) -> str | None:
        return f"/2010-04-01/Accounts/{self.url.user}/Messages/{quote(provider_id, safe='')}.json"

    def status_answer(self, answer: dict[str, Any]) -> StatusAnswer:
        """Twilio: ``queued``/``sending``/``sent`` → ``delivered``, or ``undelivered``/``failed``/``canceled``."""
        status = str(answer.get("status") or "")
        if status in ("delivered", "read"):
            return StatusAnswer("delivered", None, status)
        if status in ("undelivered", "failed", "canceled"):
            code, text = answer.get("error_code"), answer.get("error_message")
            reason = f"{code} {text}" if code and text else str(text or code or f"status {status}")
            return StatusAnswer("undelivered", f"gateway reports: {reason}", status)
        return StatusAnswer("pending", None, status or None)
