"""A typed client for the BankID RP API v6.0 over mutual TLS.

Errors follow BankID's table of error codes (https://developers.bankid.com): only ``maintenance`` is retried, with a
bounded backoff, because BankID forbids automatic retries of ``internalError`` and ``requestTimeout`` and the rest
are our own mistakes.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

from per_cli import __version__
from per_cli.bankid.messages import Language, check_language, error_rfa, rfa_text
from per_cli.bankid.tls import KEY_PASSWORD_ENV, PKCS12_PASSWORD_ENV, client_ssl_context
from per_cli.errors import AuthDenied, ConfigError, InvalidInput, PerError

Status = Literal["pending", "failed", "complete"]

_PERSONAL_NUMBER = re.compile(r"\d{12}")
#: errorCode to assume when a response has none (e.g. an HTML page from a proxy), keyed by HTTP status.
_STATUS_CODES = {
    401: "unauthorized",
    403: "unauthorized",
    404: "notFound",
    405: "methodNotAllowed",
    408: "requestTimeout",
    415: "unsupportedMediaType",
    429: "tooManyRequests",
    500: "internalError",
    503: "maintenance",
}
_KNOWN_CODES = {code.lower(): code for code in ("alreadyInProgress", "invalidParameters", *_STATUS_CODES.values())}


@dataclass(frozen=True)
class OrderStarted:
    """An /auth or /sign order. ``qr_start_secret`` feeds the QR code and must never be shown or logged."""

    order_ref: str
    auto_start_token: str
    qr_start_token: str
    qr_start_secret: str = field(repr=False)

    @property
    def autostart_url(self) -> str:
        """The link that starts the BankID app on this computer (the --no-qr alternative to the QR code)."""
        return f"bankid:///?autostarttoken={self.auto_start_token}&redirect=null"


@dataclass(frozen=True)
class CompletionData:
    """Who completed the order. ``signature`` and ``ocsp_response`` are kept out of repr/str (and audit)."""

    personal_number: str
    name: str
    given_name: str
    surname: str
    device_ip: str
    bankid_issue_date: str
    uhi: str | None = None
    step_up_mrtd: bool | None = None
    risk: str | None = None
    signature: str = field(default="", repr=False)
    ocsp_response: str = field(default="", repr=False)

    def audit_details(self) -> dict[str, str]:
        """What the audit event keeps of a completed order: no signature or OCSP blobs, and no personnummer or name.

        The event already names the patient (whose number BankID's must equal for the login to succeed), so
        repeating identity data in the details would only spread patient data further.
        """
        return {
            "device_ip": self.device_ip,
            "bankid_issue_date": self.bankid_issue_date,
        }


@dataclass(frozen=True)
class CollectResult:
    """One /collect answer: ``hint_code`` for pending/failed, ``completion`` for complete."""

    order_ref: str
    status: Status
    hint_code: str | None = None
    completion: CompletionData | None = None


class BankIdError(PerError):
    """BankID refused a request or answered nonsense: a fault of the system, not the user's denial (exit 1)."""

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        details: str = "",
        http_status: int | None = None,
        rfa: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.details = details
        self.http_status = http_status
        self.rfa = rfa


class BankIdUnavailable(BankIdError):
    """BankID could not be reached (network, TLS) or stayed in maintenance after the retries."""


class BankIdAlreadyInProgress(BankIdError, AuthDenied):
    """An order for this personal number was already running; BankID aborted both (RFA4, exit 4)."""


class BankIdFailed(AuthDenied):
    """The order ended ``failed`` (cancelled, expired, blocked …); the message is the recommended text."""

    def __init__(self, message: str, *, hint_code: str | None) -> None:
        super().__init__(message)
        self.hint_code = hint_code


class BankIdClient:
    """Calls the RP API; one instance keeps one connection pool, so close it (or use ``with``)."""

    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float = 5.0,
        language: str = "sv",
        maintenance_retries: int = 3,
        retry_backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith("https://"):
            raise ConfigError(f"must be an https:// URL, got {base_url!r}", field="bankid.base_url")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.language: Language = check_language(language)
        self._retries = max(0, maintenance_retries)
        self._backoff = retry_backoff
        self._sleep = sleep
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            verify=ssl_context,
            timeout=timeout,
            headers={"User-Agent": f"per/{__version__}", "Accept": "application/json"},
        )

    def __enter__(self) -> BankIdClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def auth(
        self,
        personal_number: str | None,
        end_user_ip: str,
        *,
        user_visible_data: str | None = None,
        user_visible_data_format: Literal["simpleMarkdownV1"] | None = None,
        pin_code: bool = False,
        mrtd: bool = False,
        certificate_policies: Sequence[str] | None = None,
        return_risk: bool = False,
    ) -> OrderStarted:
        """Start an identification order; ``personal_number`` (12 digits) restricts who may complete it."""
        requirement: dict[str, Any] = {}
        if personal_number is not None:
            requirement["personalNumber"] = _check_personal_number(personal_number)
        if pin_code:
            requirement["pinCode"] = True
        if mrtd:
            requirement["mrtd"] = True
        if certificate_policies:
            requirement["certificatePolicies"] = list(certificate_policies)
        payload: dict[str, Any] = {"endUserIp": _check_ip(end_user_ip)}
        if requirement:
            payload["requirement"] = requirement
        if user_visible_data is not None:
            payload["userVisibleData"] = base64.b64encode(user_visible_data.encode()).decode("ascii")
            if user_visible_data_format:
                payload["userVisibleDataFormat"] = user_visible_data_format
        if return_risk:
            payload["returnRisk"] = True
        data = self._post("auth", payload)
        return OrderStarted(
            order_ref=_text(data, "orderRef"),
            auto_start_token=_text(data, "autoStartToken"),
            qr_start_token=_text(data, "qrStartToken"),
            qr_start_secret=_text(data, "qrStartSecret"),
        )

    def collect(self, order_ref: str) -> CollectResult:
        """The order's current state; call every two seconds while pending, never again once finished."""
        data = self._post("collect", {"orderRef": order_ref})
        status = data.get("status")
        if status not in ("pending", "failed", "complete"):
            raise _protocol_error(f"unknown collect status {status!r}")
        hint = data.get("hintCode")
        return CollectResult(
            order_ref=str(data.get("orderRef", order_ref)),
            status=status,
            hint_code=hint if isinstance(hint, str) else None,
            completion=_completion(data.get("completionData")) if status == "complete" else None,
        )

    def cancel(self, order_ref: str) -> None:
        """Cancel a running order (the user pressed Ctrl-C); BankID answers ``{}``."""
        self._post("cancel", {"orderRef": order_ref})

    def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        # Exactly "application/json": BankID answers 415 when a charset is appended.
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in range(self._retries + 1):
            try:
                response = self._http.post(path, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                raise BankIdUnavailable(
                    f"BankID did not answer within {self._timeout:g} s ({self.base_url}{path})"
                ) from exc
            except httpx.TransportError as exc:
                hint = " (check bankid.cert_file/pkcs12_file and bankid.ca_file)" if "SSL" in str(exc) else ""
                raise BankIdUnavailable(f"cannot reach BankID at {self.base_url}: {exc}{hint}") from exc
            if response.status_code == 200:
                try:
                    data = response.json()
                except ValueError as exc:
                    raise _protocol_error(f"/{path} answered with no JSON") from exc
                if not isinstance(data, dict):
                    raise _protocol_error(f"/{path} answered with {type(data).__name__}, not an object")
                return data
            error = self._error(response)
            if error.error_code != "maintenance" or attempt == self._retries:
                raise error
            self._sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, response: httpx.Response) -> BankIdError:
        code: str | None = None
        details = ""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            raw_code, raw_details = data.get("errorCode"), data.get("details")
            code = raw_code if isinstance(raw_code, str) else None
            details = raw_details if isinstance(raw_details, str) else ""
        if code is None:
            code = _STATUS_CODES.get(response.status_code)
        code = _KNOWN_CODES.get(code.lower(), code) if code else None
        rfa = "RFA5" if code == "tooManyRequests" else error_rfa(code)
        technical = f"BankID {code or 'error'} (HTTP {response.status_code})" + (f": {details}" if details else "")
        message = f"{rfa_text(rfa, self.language)} [{technical}]" if rfa else technical
        cls: type[BankIdError] = BankIdError
        if code == "alreadyInProgress":
            cls = BankIdAlreadyInProgress
        elif code == "maintenance":
            cls = BankIdUnavailable
        return cls(message, error_code=code, details=details, http_status=response.status_code, rfa=rfa)


def client_from_config(
    section: Mapping[str, Any], environ: Mapping[str, str], *, base_dir: Path | None = None
) -> BankIdClient:
    """Build a client from the ``[bankid]`` config section.

    Keys: ``base_url``, ``ca_file`` and either ``pkcs12_file`` (password from ``PER_BANKID_PKCS12_PASSWORD``,
    never from the file) or ``cert_file`` + ``key_file`` (an encrypted key's password from
    ``PER_BANKID_KEY_PASSWORD``); optional ``timeout`` (seconds) and ``language`` (sv/en). Relative paths are
    taken from ``base_dir`` (the config file's directory).
    """
    for secret_key in ("pkcs12_password", "key_password", "password"):
        if secret_key in section:
            env = PKCS12_PASSWORD_ENV if secret_key != "key_password" else KEY_PASSWORD_ENV
            raise ConfigError(f"passwords are not read from the config file; set {env}", field=f"bankid.{secret_key}")
    base_url = section.get("base_url")
    if not isinstance(base_url, str) or not base_url:
        raise ConfigError(
            "missing: the RP API URL, e.g. https://appapi2.test.bankid.com/rp/v6.0/", field="bankid.base_url"
        )

    def path(key: str) -> Path | None:
        value = section.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError("must be a file path", field=f"bankid.{key}")
        p = Path(value).expanduser()
        return base_dir / p if base_dir is not None and not p.is_absolute() else p

    ca_file = path("ca_file")
    if ca_file is None:
        raise ConfigError("missing: the BankID server's root CA certificate (PEM)", field="bankid.ca_file")
    timeout = section.get("timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("must be a positive number of seconds", field="bankid.timeout")
    language = section.get("language", "sv")
    if not isinstance(language, str):
        raise ConfigError("must be sv or en", field="bankid.language")
    context = client_ssl_context(
        ca_file=ca_file,
        pkcs12_file=path("pkcs12_file"),
        pkcs12_password=environ.get(PKCS12_PASSWORD_ENV),
        cert_file=path("cert_file"),
        key_file=path("key_file"),
        key_password=environ.get(KEY_PASSWORD_ENV),
    )
    return BankIdClient(base_url, context, timeout=float(timeout), language=language)


def _check_personal_number(value: str) -> str:
    if not _PERSONAL_NUMBER.fullmatch(value):
        raise InvalidInput("BankID needs the 12-digit form YYYYMMDDNNNN", field="personal_number")
    return value


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise InvalidInput(f"not an IP address: {value!r}", field="end_user_ip") from exc


def _protocol_error(what: str) -> BankIdError:
    return BankIdError(f"unexpected answer from BankID: {what}", error_code=None)


def _text(data: Mapping[str, Any], key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _protocol_error(f"missing {where}{key}")
    return value


def _completion(raw: object) -> CompletionData:
    if not isinstance(raw, dict):
        raise _protocol_error("complete without completionData")
    user, device = raw.get("user"), raw.get("device")
    if not isinstance(user, dict) or not isinstance(device, dict):
        raise _protocol_error("completionData without user or device")
    step_up, risk, uhi = raw.get("stepUp"), raw.get("risk"), device.get("uhi")
    mrtd = step_up.get("mrtd") if isinstance(step_up, dict) else None
    return CompletionData(
        personal_number=_text(user, "personalNumber", "completionData.user."),
        name=_text(user, "name", "completionData.user."),
        given_name=_text(user, "givenName", "completionData.user."),
        surname=_text(user, "surname", "completionData.user."),
        device_ip=_text(device, "ipAddress", "completionData.device."),
        bankid_issue_date=_text(raw, "bankIdIssueDate", "completionData."),
        uhi=uhi if isinstance(uhi, str) else None,
        step_up_mrtd=mrtd if isinstance(mrtd, bool) else None,
        risk=risk if isinstance(risk, str) else None,
        signature=_text(raw, "signature", "completionData."),
        ocsp_response=_text(raw, "ocspResponse", "completionData."),
    )
