"""What the 46elks and Twilio transports share: one pooled HTTPS client, form POSTs, faults as results.

No retries: an SMS POST is not idempotent, and a timeout may still have sent the text; a second try
could give the patient two different passwords.

Shared URL parameters: ``timeout=SECONDS`` (default 15), ``tls=off`` (plain HTTP, loopback hosts only:
for local stand-ins), ``cafile=PEM`` (trust that file's CAs instead of the system store).
"""

from __future__ import annotations

import re
import ssl
from abc import abstractmethod
from typing import Any, ClassVar

import httpx

from per_cli import __version__
from per_cli.transports.base import (
    DeliveryResult,
    Message,
    StatusAnswer,
    Transport,
    connect_failure,
    log,
    mask_recipient,
)
from per_cli.transports.gsm7 import sms_segments
from per_cli.transports.url import BadURL, TransportURL, is_loopback

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class HttpSmsTransport(Transport):
    """An SMS gateway reached by ``POST`` of a form with HTTP Basic auth."""

    channel = "sms"
    params = frozenset({"from", "tls", "timeout", "cafile"})
    default_host: ClassVar[str]
    #: What the user part of the URL holds, for error messages.
    user_label: ClassVar[str] = "API user name"
    password_label: ClassVar[str] = "API password"

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        super().__init__(url, default_from=default_from)
        url.require_no_path()
        if not url.user:
            raise BadURL("user", f"missing; put the {self.user_label} before the host: {self.scheme}://USER:PASS@")
        if not url.password:
            raise BadURL(
                "password", f"missing; put the {self.password_label} after the user: {self.scheme}://USER:PASS@"
            )
        host = url.host or self.default_host
        plain = url.choice("tls", ("on", "off"), "on") == "off"
        if plain and not is_loopback(host):
            raise BadURL("tls", f"off is allowed only for loopback hosts (localhost, 127.0.0.1, ::1), not {host}")
        port = url.port or (80 if plain else 443)
        shown_host = f"[{host}]" if ":" in host else host
        self.address = f"{shown_host}:{port}"
        self.base_url = f"{'http' if plain else 'https'}://{self.address}"
        self.timeout = url.seconds("timeout", 15.0)
        self._verify: ssl.SSLContext | bool = url.ssl_context() if "cafile" in url.params else True
        self._auth = (url.user, url.password)
        self._client: httpx.Client | None = None

    @abstractmethod
    def request(self, message: Message) -> tuple[str, dict[str, str]]:
        """The path and form fields for ``message``."""

    @abstractmethod
    def result(self, http_status: int, answer: dict[str, Any]) -> DeliveryResult:
        """Interpret a 2xx JSON answer."""

    def error_text(self, response: httpx.Response) -> str:
        """The useful part of an error body: first line, trimmed (bodies are plain text or JSON)."""
        lines = response.text.strip().splitlines()
        return lines[0][:200] if lines else ""

    def deliver(self, message: Message) -> DeliveryResult:
        if not _E164.fullmatch(message.to):
            return DeliveryResult.failed("recipient is not a phone number in E.164 form (+46701234567)")
        length = sms_segments(message.body)
        if length.segments > 1:
            log.info(
                "sms to %s needs %d segments (%d %s units)",
                mask_recipient(message.to), length.segments, length.units, length.encoding,
            )  # fmt: skip
        path, form = self.request(message)
        try:
            response = self.client.post(path, data=form)
        except (httpx.ConnectTimeout, httpx.PoolTimeout):
            return DeliveryResult.failed(f"no answer from {self.address} within {self.timeout:g} s")
        except httpx.TimeoutException:  # the request went out: the gateway may have sent the SMS
            return DeliveryResult.unknown(f"no answer from {self.address} within {self.timeout:g} s after sending")
        except httpx.ConnectError as exc:
            return DeliveryResult.failed(connect_failure(exc, self.address))
        except httpx.RemoteProtocolError as exc:  # the gateway hung up after the request
            return DeliveryResult.unknown(f"{self.address} closed the connection after the request: {exc}")
        except httpx.HTTPError as exc:
            return DeliveryResult.failed(f"HTTP error talking to {self.address}: {exc}")
        if not response.is_success:
            text = self.error_text(response)
            if message.body:  # a gateway that echoes the text must not put a password into the error line
                text = text.replace(message.body, "[message text]")
            return DeliveryResult.failed(
                f"gateway answered {response.status_code} {response.reason_phrase}" + (f": {text}" if text else ""),
                http_status=response.status_code,
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            return DeliveryResult.failed(
                f"gateway answered {response.status_code} with a body that is not a JSON object",
                http_status=response.status_code,
            )
        return self.result(response.status_code, answer)

    def status_path(self, provider_id: str) -> str | None:
        """The path to ``GET`` a message's status (None: the gateway cannot be asked)."""
        return None

    def status_answer(self, answer: dict[str, Any]) -> StatusAnswer:
        """Interpret the gateway's JSON about one message."""
        raise NotImplementedError

    def delivery_status(self, provider_id: str) -> StatusAnswer | None:
        path = self.status_path(provider_id)
        if path is None:
            return None
        try:
            response = self.client.get(path)
        except httpx.HTTPError as exc:
            return StatusAnswer("pending", f"cannot ask {self.address}: {connect_failure(exc, self.address)}")
        if not response.is_success:
            return StatusAnswer("pending", f"gateway answered {response.status_code} {response.reason_phrase}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            return StatusAnswer("pending", "gateway answered with a body that is not a JSON object")
        return self.status_answer(answer)

    @property
    def client(self) -> httpx.Client:
        """Created on first send and kept: a bulk run reuses the TLS connection."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url,
                auth=self._auth,
                timeout=self.timeout,
                verify=self._verify,
                headers={"User-Agent": f"per-cli/{__version__}"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
