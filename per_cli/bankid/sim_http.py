"""The simulator's HTTP layer: mutual-TLS server, request checks, the RP API's error codes and bodies.

The order logic lives in ``simulator.Simulator``, which this layer reaches through ``SimBackend``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from per_cli.bankid import certs

API_PREFIX = "/rp/v6.0/"
#: errorCode -> HTTP status; a per-person scenario or inject_error() may name any of these.
ERRORS = {
    "alreadyInProgress": 400,
    "invalidParameters": 400,
    "unauthorized": 401,
    "notFound": 404,
    "methodNotAllowed": 405,
    "requestTimeout": 408,
    "unsupportedMediaType": 415,
    "tooManyRequests": 429,
    "internalError": 500,
    "maintenance": 503,
}
_ENDPOINTS = ("auth", "sign", "phone/auth", "phone/sign", "collect", "cancel")
_SIM_ENDPOINTS = ("/sim/scan", "/sim/autostart")
_MAX_BODY = 256 * 1024  # well above the largest legal order (40 000 + 200 000 base64 chars)


class SimError(Exception):
    """An RP API error answer: ``{"errorCode", "details"}`` with the code's HTTP status."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


DETAILS = {
    "invalidParameters": "Invalid parameters",
    "unauthorized": "Unauthorized to call this service",
    "notFound": "Not found",
    "methodNotAllowed": "Method not allowed",
    "requestTimeout": "Request timeout",
    "unsupportedMediaType": "Unsupported media type",
    "tooManyRequests": "Too many requests",
    "internalError": "Internal error",
    "maintenance": "Temporarily unavailable, please try again later",
    "alreadyInProgress": "Order already in progress for pno",
}


class SimBackend(Protocol):
    """What the HTTP layer needs from the simulator."""

    request_timeout: float
    log: Callable[[str], None] | None

    def is_authorized(self, rp: str) -> bool: ...

    def handle(self, path: str, rp: str, body: dict[str, Any], peer_ip: str) -> dict[str, Any]: ...


class SimServer(ThreadingHTTPServer):
    """Handshakes in the handler thread (not in accept) so one slow or certificate-less client blocks nobody."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, sim: SimBackend) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context = context
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, SimHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK stall per answer
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._open_lock:
            self._open.add(tls)
        return tls, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Rejected handshakes and dropped connections are expected here (that is what mutual TLS is for).
        if self.sim.log is not None:
            self.sim.log(f"connection from {client_address[0]} dropped: {sys.exc_info()[1]}")


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "per-bankid-simulator"
    timeout = 60  # idle keep-alive connections; the body itself must arrive within request_timeout
    server: SimServer
    request: ssl.SSLSocket

    def setup(self) -> None:
        self.request.settimeout(self.server.sim.request_timeout)
        self.request.do_handshake()
        super().setup()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.log is not None:
            self.server.sim.log(f"{self.address_string()} {format % args}")

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    def _serve(self) -> None:
        try:
            raw = self._read_body()
            path = self.path.split("?", 1)[0]
            cert = self.request.getpeercert(binary_form=True)
            rp = certs.fingerprint(cert) if cert else ""
            if not self.server.sim.is_authorized(rp):
                raise SimError("unauthorized", DETAILS["unauthorized"])
            if path.startswith(API_PREFIX) and path[len(API_PREFIX) :] in _ENDPOINTS:
                endpoint = path[len(API_PREFIX) :]
            elif path in _SIM_ENDPOINTS:
                endpoint = path
            else:
                raise SimError("notFound", DETAILS["notFound"])
            if self.command != "POST":
                raise SimError("methodNotAllowed", DETAILS["methodNotAllowed"])
            if self.headers.get("Content-Type") != "application/json":
                raise SimError("unsupportedMediaType", DETAILS["unsupportedMediaType"])
            try:
                body = json.loads(raw)
            except ValueError:
                raise SimError("invalidParameters", "Invalid JSON") from None
            if not isinstance(body, dict):
                raise SimError("invalidParameters", "Invalid JSON")
            self._send(200, self.server.sim.handle(endpoint, rp, body, self.client_address[0]))
        except SimError as exc:
            self._send(ERRORS[exc.code], {"errorCode": exc.code, "details": exc.details})
        except Exception as exc:  # a bug here must reach the test as an answer, not as a dropped connection
            traceback.print_exc()
            self.close_connection = True
            self._send(500, {"errorCode": "internalError", "details": f"simulator bug: {exc!r}"})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if "Transfer-Encoding" in self.headers:  # a body we will not read: the connection cannot be reused
                self.close_connection = True
                raise SimError("invalidParameters", "Missing Content-Length")
            return b""
        self.request.settimeout(self.server.sim.request_timeout)
        if not length.isdigit() or int(length) > _MAX_BODY:
            self.close_connection = True  # the body stays unread
            raise SimError("invalidParameters", "Content too large")
        try:
            return self.rfile.read(int(length))
        except TimeoutError:
            self.close_connection = True
            raise SimError("requestTimeout", DETAILS["requestTimeout"]) from None
        finally:
            self.request.settimeout(self.timeout)

    def _send(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 405:
            self.send_header("Allow", "POST")
        if status == 429:
            self.send_header("RateLimit-Limit", "100")
            self.send_header("RateLimit-Remaining", "0")
            self.send_header("RateLimit-Reset", "1")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
