"""Real servers on 127.0.0.1 for the transport tests: aiosmtpd (STARTTLS, implicit TLS, plain; AUTH) and
small HTTP servers that speak the 46elks and Twilio formats, with switchable failures."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMTP_USER, SMTP_PASSWORD = "per-relay", "s3cret-smtp-pw"
ELKS_USER, ELKS_PASSWORD = "u0123456789abcdef", "elks-secret-pw"
TWILIO_SID, TWILIO_TOKEN = "AC" + "0123456789abcdef" * 2, "twilio-secret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connecting is refused."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP (the kernel's backlog) but never says a word: reads time out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


# --- TLS ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
)  # fmt: skip


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for localhost and 127.0.0.1; the test client trusts it through ``cafile=``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "per test server")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Cert(cert_path, key_path)


# --- SMTP -----------------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    session: int
    tls: bool
    authenticated: bool


@dataclass
class SmtpRecorder:
    """aiosmtpd handler: keeps what arrived, refuses recipients whose address starts with ``reject``."""

    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content,
                id(session), server.transport.get_extra_info("ssl_object") is not None, bool(session.authenticated),
            )
        )  # fmt: skip
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"

    @property
    def sessions(self) -> set[int]:
        return {m.session for m in self.messages}


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@dataclass
class SmtpServer:
    port: int
    handler: SmtpRecorder

    def url(self, *, user: str | None = SMTP_USER, password: str | None = SMTP_PASSWORD, **params: str) -> str:
        cred = f"{user}:{password}@" if user and password else f"{user}@" if user else ""
        query = "&".join(f"{k}={v}" for k, v in {"from": "per@example.se", **params}.items())
        return f"smtp://{cred}127.0.0.1:{self.port}?{query}"


def _run_smtp(**kwargs: Any) -> Iterator[SmtpServer]:
    handler = SmtpRecorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    try:
        controller.start()
        yield SmtpServer(port, handler)
    finally:
        controller.stop(no_assert=True)


@pytest.fixture
def smtp_starttls(tls_cert: Cert) -> Iterator[SmtpServer]:
    """STARTTLS required, then AUTH (LOGIN/PLAIN) required: the production shape."""
    yield from _run_smtp(
        tls_context=tls_cert.server_context(), require_starttls=True,
        authenticator=_authenticator, auth_required=True,
    )  # fmt: skip


@pytest.fixture
def smtp_implicit_tls(tls_cert: Cert) -> Iterator[SmtpServer]:
    # auth_require_tls=False: aiosmtpd does not see implicit TLS as TLS for AUTH (aio-libs/aiosmtpd#281)
    yield from _run_smtp(
        ssl_context=tls_cert.server_context(), authenticator=_authenticator,
        auth_required=True, auth_require_tls=False,
    )  # fmt: skip


@pytest.fixture
def smtp_plain() -> Iterator[SmtpServer]:
    yield from _run_smtp()


class DropAfterData(SmtpRecorder):
    """Takes the whole message, then hangs up instead of answering: the message may well be delivered."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        server.transport.abort()
        return "250 never seen"


@pytest.fixture
def smtp_drop_after_data() -> Iterator[SmtpServer]:
    handler = DropAfterData()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    try:
        controller.start()
        yield SmtpServer(port, handler)
    finally:
        controller.stop(no_assert=True)


@pytest.fixture
def smtp_idle_drop() -> Iterator[SmtpServer]:
    """Closes a connection after 0.3 s of silence, as real servers do between bulk-run batches."""
    yield from _run_smtp(timeout=0.3)


# --- HTTP SMS gateways ----------------------------------------------------------------------------------


@dataclass
class Gateway:
    """A local 46elks or Twilio. ``mode``: ok | 401 | 500 | slow | status-failed | garbage."""

    flavor: str
    port: int = 0
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    #: what a status request (GET) reports for a message, by id; ``delivery`` for the others
    delivery: str = "delivered"
    outcomes: dict[str, str] = field(default_factory=dict)
    status_requests: list[str] = field(default_factory=list)

    def url(self, *, user: str | None = None, password: str | None = None, **params: str) -> str:
        if self.flavor == "elks":
            user, password = user or ELKS_USER, password or ELKS_PASSWORD
        else:
            user, password = user or TWILIO_SID, password or TWILIO_TOKEN
            params.setdefault("from", "+46700000000")
        query = "&".join(f"{k}={v}" for k, v in {"tls": "off", **params}.items())
        return f"{self.flavor}://{user}:{password}@127.0.0.1:{self.port}?{query}"

    def expected_auth(self) -> str:
        user, password = (ELKS_USER, ELKS_PASSWORD) if self.flavor == "elks" else (TWILIO_SID, TWILIO_TOKEN)
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def answer(self, path: str, headers: Any, form: dict[str, str]) -> tuple[int, str, str]:
        """(status, content type, body) for one POST."""
        self.requests.append({"path": path, "form": form, "authorization": headers.get("Authorization")})
        if self.mode == "slow":
            self.release.wait(10)
        if self.mode == "500":
            return 500, "text/plain", "Internal Server Error"
        if self.flavor == "elks":
            return self._elks(path, headers, form)
        return self._twilio(path, headers, form)

    def status(self, path: str, headers: Any) -> tuple[int, str, str]:
        """(status, content type, body) for one GET of a message's status (46elks ``/a1/sms/{id}``, Twilio
        ``…/Messages/{sid}.json``); only ids this gateway gave out are known."""
        self.status_requests.append(path)
        if headers.get("Authorization") != self.expected_auth():
            return 401, "text/plain", "Requires authentication"
        prefix = "/a1/sms/" if self.flavor == "elks" else f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/"
        message_id = path.removeprefix(prefix).removesuffix(".json")
        known = {f"s{n:032x}" if self.flavor == "elks" else f"SM{n:032x}" for n in range(1, len(self.requests) + 1)}
        if not path.startswith(prefix) or message_id not in known:
            return 404, "text/plain", "Not found"
        status = self.outcomes.get(message_id, self.delivery)
        if self.flavor == "elks":
            return 200, "application/json", json.dumps({"id": message_id, "status": status, "direction": "outgoing"})
        answer = {"sid": message_id, "status": status, "error_code": 30003 if status == "undelivered" else None,
                  "error_message": "Unreachable destination handset" if status == "undelivered" else None}  # fmt: skip
        return 200, "application/json", json.dumps(answer)

    def _elks(self, path: str, headers: Any, form: dict[str, str]) -> tuple[int, str, str]:
        if path != "/a1/sms":
            return 404, "text/plain", "Not found"
        if self.mode == "401" or headers.get("Authorization") != self.expected_auth():
            return 401, "text/plain", "Requires authentication"
        missing = {"from", "to", "message"} - form.keys()
        if missing:
            return 403, "text/plain", f"Missing key {sorted(missing)[0]}"
        if self.mode == "garbage":
            return 200, "text/html", "<html>maintenance</html>"
        status = "failed" if self.mode == "status-failed" else "created"
        answer = {
            "status": status, "direction": "outgoing", "from": form["from"], "to": form["to"],
            "created": "2024-05-04T13:37:42.314100", "parts": 1, "message": form["message"],
            "id": f"s{len(self.requests):032x}",
        }  # fmt: skip
        answer["estimated_cost" if form.get("dryrun") == "yes" else "cost"] = 3500
        return 200, "application/json", json.dumps(answer)

    def _twilio(self, path: str, headers: Any, form: dict[str, str]) -> tuple[int, str, str]:
        if path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            return 404, "application/json", json.dumps({"code": 20404, "message": "not found", "status": 404})
        if self.mode == "401" or headers.get("Authorization") != self.expected_auth():
            body = {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003"}
            return 401, "application/json", json.dumps({**body, "status": 401})
        if form.get("To") == "+15005550001":
            message = f"The 'To' number {form['To']} is not a valid phone number."
            body = {"code": 21211, "message": message, "more_info": "https://www.twilio.com/docs/errors/21211"}
            return 400, "application/json", json.dumps({**body, "status": 400})
        if not {"To", "Body"} <= form.keys() or not ({"From", "MessagingServiceSid"} & form.keys()):
            return 400, "application/json", json.dumps({"code": 21604, "message": "missing field", "status": 400})
        status = "failed" if self.mode == "status-failed" else "queued"
        answer = {
            "sid": f"SM{len(self.requests):032x}", "status": status, "to": form["To"],
            "from": form.get("From"), "body": form["Body"], "num_segments": "1", "direction": "outbound-api",
            "error_code": 30007 if status == "failed" else None,
            "error_message": "Message filtered" if status == "failed" else None,
        }  # fmt: skip
        return 201, "application/json", json.dumps(answer)


def _run_gateway(flavor: str) -> Iterator[Gateway]:
    gateway = Gateway(flavor)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            status, ctype, body = gateway.answer(self.path, self.headers, form)
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def do_GET(self) -> None:
            status, ctype, body = gateway.status(self.path, self.headers)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    gateway.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def elks_gateway() -> Iterator[Gateway]:
    yield from _run_gateway("elks")


@pytest.fixture
def twilio_gateway() -> Iterator[Gateway]:
    yield from _run_gateway("twilio")
