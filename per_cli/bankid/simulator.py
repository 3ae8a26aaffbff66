"""A local stand-in for the BankID RP API v6.0, for tests and CI (https://developers.bankid.com).

It is strict where real integrations go wrong — mutual TLS, POST only, the exact content type, error codes and
bodies, alreadyInProgress, the 30 s start window, finished orders not collectable again — and scripted where
a human would act: each order follows a scenario after ``polls`` pending collects, or a test "scans" the QR code
through ``POST /sim/scan`` (checked against the HMAC of the current second, as the app would).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import ipaddress
import re
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from per_cli.bankid import certs
from per_cli.bankid.qr import qr_auth_code
from per_cli.bankid.sim_http import API_PREFIX, DETAILS, ERRORS, SimError, SimServer

DEFAULT_PERSON = "191212121212"  # Tolvan Tolvansson, the customary Swedish test identity
SCENARIOS = ("complete", "userCancel", "expiredTransaction", "certificateErr", "startFailed")
#: Failed hint codes a per-person scenario may name besides SCENARIOS.
EXTRA_FAILED = ("cancelled", "userDeclinedCall", "notSupportedByUserApp", "transactionRiskBlocked")
_PNR = re.compile(r"\d{12}")


def check_scenario(value: str) -> str:
    """Validate a scenario name for the CLI (the Python API also accepts unknown failed hint codes)."""
    if value in SCENARIOS or value in EXTRA_FAILED or value in ERRORS:
        return value
    raise ValueError(f"unknown scenario {value!r}; use one of {', '.join((*SCENARIOS, *EXTRA_FAILED, *ERRORS))}")


def parse_person(value: str) -> tuple[str, str]:
    """``PNR=SCENARIO`` from the command line; the PNR as 12 digits (a hyphen is allowed)."""
    pnr, sep, scenario = value.partition("=")
    pnr = pnr.strip().replace("-", "")
    if not sep or not _PNR.fullmatch(pnr):
        raise ValueError(f"expected PNR=SCENARIO with a 12-digit PNR, got {value!r}")
    return pnr, check_scenario(scenario.strip())


@dataclass
class _Order:
    order_ref: str
    kind: str
    rp: str
    scenario: str
    personal_number: str | None
    device_ip: str
    created: float
    mrtd: bool = False
    return_risk: bool = False
    auto_start_token: str = ""
    qr_start_token: str = ""
    qr_start_secret: str = ""
    pending_polls: int = 0
    scanned_at: float | None = None
    post_hints: list[str] = field(default_factory=list)
    superseded: bool = False


class Simulator:
    """The RP API on ``https://host:port/rp/v6.0/`` with mutual TLS; ``start()`` serves from a background thread.

    ``scenario`` is the outcome of every order unless ``persons`` maps the order's personal number to another:
    ``complete``, a failed hint code (``userCancel`` …; any other string too, as an unknown hint) or an
    errorCode answered to that person's /auth. ``polls`` is how many pending collects precede the outcome.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | str | None = None,
        scenario: str = "complete",
        polls: int = 3,
        persons: Mapping[str, str] | None = None,
        *,
        start_window: float = 30.0,
        order_ttl: float = 180.0,
        request_timeout: float = 5.0,
        default_person: str = DEFAULT_PERSON,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.files = certs.StateFiles(Path(state_dir or tempfile.mkdtemp(prefix="per-bankid-sim-")))
        self.scenario = scenario
        self.polls = max(0, polls)
        self.persons = dict(persons or {})
        self.start_window = start_window
        self.order_ttl = order_ttl
        self.request_timeout = request_timeout
        self.default_person = default_person
        self.log = log
        self.base_url = ""
        self._orders: dict[str, _Order] = {}
        self._injected: collections.deque[str] = collections.deque()
        self._authorized: set[str] = set()
        self._lock = threading.Lock()
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        """Create the PKI, bind, write the config file and serve in a daemon thread; return the base URL."""
        self.files = certs.ensure_pki(self.files.state_dir, [self.host])
        self._authorized.add(certs.pem_fingerprint(self.files.client_cert))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no connection
        context.load_cert_chain(self.files.server_cert, self.files.server_key)
        context.load_verify_locations(self.files.ca_cert)
        self._server = SimServer((self.host, self.port), context, self)
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"https://{shown}:{self._server.server_port}{API_PREFIX}"
        certs.write_config(self.files, self.base_url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="bankid-simulator", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and drop open connections (so clients notice at once)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_all()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def config_section(self) -> dict[str, str]:
        """The ``[bankid]`` section written to ``files.config``, as a mapping for ``client_from_config``."""
        return {
            "base_url": self.base_url,
            "ca_file": str(self.files.ca_cert),
            "cert_file": str(self.files.client_cert),
            "key_file": str(self.files.client_key),
        }

    def issue_client_cert(self, name: str, *, authorized: bool = True) -> tuple[Path, Path]:
        """Another RP certificate from the simulator's CA; an unauthorized one gets 401 ``unauthorized``."""
        cert, key = certs.issue_client_cert(self.files, name, self.files.state_dir / "extra")
        if authorized:
            with self._lock:
                self._authorized.add(certs.pem_fingerprint(cert))
        return cert, key

    def inject_error(self, error_code: str, times: int = 1) -> None:
        """Answer the next ``times`` API requests (any endpoint) with ``error_code``."""
        if error_code not in ERRORS:
            raise ValueError(f"unknown errorCode {error_code!r}")
        with self._lock:
            self._injected.extend([error_code] * times)

    # -- request handling (called from the handler threads) ---------------------------------------------------

    def is_authorized(self, rp: str) -> bool:
        """Whether the RP certificate with this fingerprint may call the API (else 401 ``unauthorized``)."""
        with self._lock:
            return rp in self._authorized

    def handle(self, path: str, rp: str, body: dict[str, Any], peer_ip: str) -> dict[str, Any]:
        with self._lock:
            if self._injected:
                code = self._injected.popleft()
                raise SimError(code, DETAILS.get(code, code))
            now = time.monotonic()
            self._expire(now)
            if path == "collect":
                return self._collect(_order_ref(body), rp, now)
            if path == "cancel":
                self._order(_order_ref(body), rp)
                del self._orders[_order_ref(body)]
                return {}
            if path in ("/sim/scan", "/sim/autostart"):
                return self._start_app(path, body, rp, now)
            return self._new_order(path, body, rp, peer_ip, now)

    def _new_order(self, path: str, body: dict[str, Any], rp: str, peer_ip: str, now: float) -> dict[str, Any]:
        phone = path.startswith("phone/")
        requirement = body.get("requirement", {})
        if not isinstance(requirement, dict):
            raise SimError("invalidParameters", "Invalid requirement")
        if phone:
            pnr = body.get("personalNumber")
            if not isinstance(pnr, str) or not _PNR.fullmatch(pnr):
                raise SimError("invalidParameters", "Invalid personalNumber")
            if body.get("callInitiator") not in ("user", "RP"):
                raise SimError("invalidParameters", "Invalid callInitiator")
            device_ip = peer_ip
        else:
            device_ip = _check_ip(body.get("endUserIp"))
            pnr = requirement.get("personalNumber")
            if pnr is not None and (not isinstance(pnr, str) or not _PNR.fullmatch(pnr)):
                raise SimError("invalidParameters", "Invalid requirement.personalNumber")
        for flag in ("pinCode", "mrtd"):
            if not isinstance(requirement.get(flag, False), bool):
                raise SimError("invalidParameters", f"Invalid requirement.{flag}")
        if not isinstance(body.get("returnRisk", False), bool):
            raise SimError("invalidParameters", "Invalid returnRisk")
        _check_visible_data(body, required=path.endswith("sign"))
        scenario = self.persons.get(pnr, self.scenario) if pnr else self.scenario
        if scenario in ERRORS:
            raise SimError(scenario, DETAILS.get(scenario, scenario))
        if pnr is not None:
            for other in self._orders.values():
                if other.personal_number == pnr and not other.superseded:
                    other.superseded = True  # BankID aborts the running order too
                    raise SimError("alreadyInProgress", "Order already in progress for pno")
        order = _Order(
            order_ref=str(uuid.uuid4()),
            kind=path,
            rp=rp,
            scenario=scenario,
            personal_number=pnr,
            device_ip=device_ip,
            created=now,
            mrtd=requirement.get("mrtd") is True,
            return_risk=body.get("returnRisk") is True,
        )
        self._orders[order.order_ref] = order
        if phone:
            return {"orderRef": order.order_ref}
        order.auto_start_token, order.qr_start_token, order.qr_start_secret = (str(uuid.uuid4()) for _ in range(3))
        return {
            "orderRef": order.order_ref,
            "autoStartToken": order.auto_start_token,
            "qrStartToken": order.qr_start_token,
            "qrStartSecret": order.qr_start_secret,
        }

    def _collect(self, order_ref: str, rp: str, now: float) -> dict[str, Any]:
        order = self._order(order_ref, rp)
        phone = order.kind.startswith("phone/")
        if order.superseded:
            return self._finish(order, "cancelled")
        if now - order.created > self.order_ttl:
            return self._finish(order, "expiredTransaction")
        if order.scanned_at is None and not phone and now - order.created > self.start_window:
            return self._finish(order, "startFailed")
        if order.scanned_at is None:
            post = self._post_hints(order, autostarted=False)
            pre = self.polls if order.scenario == "startFailed" else max(0, self.polls - len(post))
            if order.pending_polls < pre:
                order.pending_polls += 1
                first = order.pending_polls == 1
                hint = "noClient" if order.personal_number and not phone and not first else "outstandingTransaction"
                return {"orderRef": order.order_ref, "status": "pending", "hintCode": hint}
            if order.scenario == "startFailed":
                return self._finish(order, "startFailed")
            order.scanned_at = now  # the virtual user scans the code now
            order.post_hints = post[len(post) - min(len(post), self.polls - pre) :]
        if order.post_hints:
            return {"orderRef": order.order_ref, "status": "pending", "hintCode": order.post_hints.pop(0)}
        return self._finish(order, None if order.scenario == "complete" else order.scenario)

    def _post_hints(self, order: _Order, *, autostarted: bool) -> list[str]:
        hints = ["started"] if autostarted else []
        if order.kind.startswith("phone/"):
            hints.append("userCallConfirm")
        if order.mrtd:
            hints.append("userMrtd")
        return [*hints, "userSign"]

    def _finish(self, order: _Order, failed_hint: str | None) -> dict[str, Any]:
        """The final answer, given once: the order is forgotten, so collecting it again is invalidParameters."""
        del self._orders[order.order_ref]
        if failed_hint is not None:
            return {"orderRef": order.order_ref, "status": "failed", "hintCode": failed_hint}
        return {"orderRef": order.order_ref, "status": "complete", "completionData": self._completion(order)}

    def _completion(self, order: _Order) -> dict[str, Any]:
        pnr = order.personal_number or self.default_person
        digest = hashlib.sha256(pnr.encode()).digest()
        signature = (
            f'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignatureValue>{digest.hex()}'
            f"</SignatureValue><!-- per BankID simulator: not a real signature --></Signature>"
        )
        data: dict[str, Any] = {
            "user": {
                "personalNumber": pnr,
                "name": "Tolvan Tolvansson",
                "givenName": "Tolvan",
                "surname": "Tolvansson",
            },
            "device": {"ipAddress": order.device_ip, "uhi": base64.b64encode(digest[:15]).decode()},
            "bankIdIssueDate": "2024-06-10",
            "signature": base64.b64encode(signature.encode()).decode(),
            "ocspResponse": base64.b64encode(b"per-bankid-simulator-ocsp:" + digest).decode(),
        }
        if order.mrtd:
            data["stepUp"] = {"mrtd": True}
        if order.return_risk:
            data["risk"] = "low"
        return data

    def _start_app(self, path: str, body: dict[str, Any], rp: str, now: float) -> dict[str, Any]:
        """The simulator's stand-in for the user's app: scan the QR code or follow the autostart link."""
        if path == "/sim/scan":
            match = re.fullmatch(r"bankid\.([0-9a-f-]{36})\.(\d+)\.([0-9a-f]{64})", str(body.get("qrData", "")))
            order = next((o for o in self._orders.values() if match and o.qr_start_token == match[1]), None)
            if order is None or match is None or order.rp != rp:
                raise SimError("invalidParameters", "No such order")
            seconds = int(match[2])
            if match[3] != qr_auth_code(order.qr_start_secret, seconds):
                raise SimError("invalidParameters", "Invalid QR code")
            if abs(seconds - (now - order.created)) > 2:
                raise SimError("invalidParameters", "QR code too old or from the future")
        else:
            token = body.get("autoStartToken")
            order = next((o for o in self._orders.values() if o.auto_start_token == token and token), None)
            if order is None or order.rp != rp:
                raise SimError("invalidParameters", "No such order")
        if order.scanned_at is not None:
            raise SimError("invalidParameters", "Order already started")
        order.scanned_at = now
        order.post_hints = self._post_hints(order, autostarted=path == "/sim/autostart")
        return {}

    def _order(self, order_ref: str, rp: str) -> _Order:
        order = self._orders.get(order_ref)
        if order is None or order.rp != rp:  # another RP's order does not exist for this one
            raise SimError("invalidParameters", "No such order")
        return order

    def _expire(self, now: float) -> None:
        """Forget orders long past any collect window (failed orders are collectable for 5 minutes)."""
        for ref in [r for r, o in self._orders.items() if now - o.created > self.order_ttl + 300]:
            del self._orders[ref]


def _order_ref(body: Mapping[str, Any]) -> str:
    ref = body.get("orderRef")
    if not isinstance(ref, str) or not ref:
        raise SimError("invalidParameters", "Invalid orderRef")
    return ref


def _check_ip(value: object) -> str:
    if not isinstance(value, str):
        raise SimError("invalidParameters", "Missing endUserIp")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise SimError("invalidParameters", "Invalid endUserIp") from None


def _check_visible_data(body: Mapping[str, Any], *, required: bool) -> None:
    for key, limit in (("userVisibleData", 40_000), ("userNonVisibleData", 200_000)):
        value = body.get(key)
        if value is None:
            if required and key == "userVisibleData":
                raise SimError("invalidParameters", "Missing userVisibleData")
            continue
        try:
            if not isinstance(value, str) or not value or len(value) > limit:
                raise ValueError
            base64.b64decode(value, validate=True)
        except ValueError:
            raise SimError("invalidParameters", f"Invalid {key}") from None
    fmt = body.get("userVisibleDataFormat")
    if fmt is not None and fmt != "simpleMarkdownV1":
        raise SimError("invalidParameters", "Invalid userVisibleDataFormat")
