"""``smtp://[USER[:PASS]@]HOST[:PORT][?security=starttls|tls|none][&from=ADDR][&timeout=S][&cafile=PEM][&helo=NAME]``.

Defaults: STARTTLS on 587; ``security=tls`` is implicit TLS on 465 (also chosen when the port is 465 and
``security`` is not given); ``none`` is port 25 and is refused with a password unless the host is
loopback. ``cafile=PEM`` trusts the CAs in that file instead of the system's (a private relay's CA,
a test server's self-signed certificate). ``helo`` names this host in
EHLO; the default avoids ``getfqdn()``, which can stall for seconds on a host without reverse DNS.

One connection serves a whole bulk run; if the server dropped it while idle, it is reopened once.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from per_cli.transports.base import DeliveryResult, Message, Transport, connect_failure, log
from per_cli.transports.url import BadURL, TransportURL, is_loopback

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_SUBJECT = "PER"
_QUEUED_AS = re.compile(rb"queued as ([^\s]+)", re.IGNORECASE)


class _Watch(smtplib.SMTP):
    """Notes whether DATA began (a retry after that could send twice), whether the whole message went out (a
    broken connection after that leaves the delivery ``unknown``) and keeps the DATA reply ("250 Ok: queued as
    …"), which ``sendmail`` throws away."""

    data_started = False
    content_sent = False
    data_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        self.data_started, self.content_sent = True, False
        self.data_reply = super().data(msg)
        return self.data_reply

    def send(self, s: bytes | str) -> None:  # type: ignore[override]
        super().send(s)
        if self.data_started and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.content_sent = True


_SMTP = _Watch


class _SMTPS(_Watch, smtplib.SMTP_SSL):
    pass


class _Failed(Exception):
    """Internal: a delivery fault already phrased for the user."""


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"[:200]


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it: smtplib reports a read timeout as "Connection unexpectedly closed"."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class SmtpTransport(Transport):
    scheme = "smtp"
    channel = "email"
    params = frozenset({"security", "from", "timeout", "cafile", "helo"})

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        super().__init__(url, default_from=default_from)
        url.require_no_path()
        if not url.host:
            raise BadURL("host", "missing; smtp://[USER[:PASS]@]HOST[:PORT]")
        if url.password and not url.user:
            raise BadURL("user", "missing; a password needs a user name")
        implicit = "security" not in url.params and url.port == 465
        self.security = "tls" if implicit else url.choice("security", ("starttls", "tls", "none"), "starttls")
        if self.security == "none" and url.password and not is_loopback(url.host):
            raise BadURL(
                "security",
                f"none would send the password unencrypted to {url.host}; use starttls or tls "
                "(none with a password is allowed only for loopback hosts)",
            )
        self.port = url.port or DEFAULT_PORTS[self.security]
        self.address = f"[{url.host}]:{self.port}" if ":" in url.host else f"{url.host}:{self.port}"
        self.timeout = url.seconds("timeout", 30.0)
        self.helo = url.params.get("helo") or socket.gethostname() or "localhost"
        self._tls = url.ssl_context() if self.security != "none" else None
        self.sender = self._sender(url, default_from)
        self._conn: _SMTP | _SMTPS | None = None

    @staticmethod
    def _sender(url: TransportURL, default_from: str | None) -> str:
        given = url.params.get("from") or default_from or (url.user if url.user and "@" in url.user else None)
        if not given:
            raise BadURL(
                "from", "missing; add ?from=ADDRESS (percent-encode a display name: from=PER%20%3Cno-reply%40x.se%3E)"
            )
        _, addr = parseaddr(given)
        if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
            raise BadURL("from", f"{given!r} is not an e-mail address")
        return given

    def deliver(self, message: Message) -> DeliveryResult:
        if "@" not in message.to or any(c in message.to for c in "\r\n<>,"):
            return DeliveryResult.failed("recipient is not a single e-mail address")
        email = self._build(message)
        envelope_from = parseaddr(self.sender)[1]
        for attempt in (1, 2):
            reused = self._conn is not None
            conn: _SMTP | _SMTPS | None = None
            try:
                conn = self._connection()
                conn.data_started = conn.content_sent = False
                conn.send_message(email, envelope_from, [message.to])
            except _Failed as exc:
                return DeliveryResult.failed(str(exc))
            except smtplib.SMTPRecipientsRefused as exc:  # smtplib sent RSET: the connection stays usable
                code, reply = next(iter(exc.recipients.values()))
                return DeliveryResult.failed(f"recipient refused: {_reply_text(code, reply)}", smtp_code=code)
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code != 421:
                    what = "sender refused" if isinstance(exc, smtplib.SMTPSenderRefused) else "message refused"
                    error = f"{what}: {_reply_text(exc.smtp_code, exc.smtp_error)}"
                    return DeliveryResult.failed(error, smtp_code=exc.smtp_code)
                self._drop()  # 421: the server is closing the connection
                if not (reused and attempt == 1 and conn is not None and not conn.data_started):
                    return DeliveryResult.failed(f"{self.address} is closing: {_reply_text(421, exc.smtp_error)}")
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                if conn is not None and conn.content_sent:
                    return DeliveryResult.unknown(
                        f"{self._describe(exc)} after the whole message was sent; it may have been delivered"
                    )
                timed_out = any(isinstance(e, TimeoutError) for e in _chain(exc))
                if timed_out or not (reused and attempt == 1 and conn is not None and not conn.data_started):
                    return DeliveryResult.failed(self._describe(exc))
            else:
                code, reply = conn.data_reply
                queued = _QUEUED_AS.search(reply)
                message_id = str(email["Message-ID"])
                provider_id = queued.group(1).decode("ascii", "replace") if queued else message_id
                return DeliveryResult.sent(provider_id, response=_reply_text(code, reply), message_id=message_id)
            log.debug("smtp: %s dropped the idle connection; reconnecting once", self.address)
        raise AssertionError("unreachable")  # pragma: no cover

    def _describe(self, exc: BaseException) -> str:
        chain = _chain(exc)
        if any(isinstance(e, TimeoutError) for e in chain):
            return f"no answer from {self.address} within {self.timeout:g} s"
        for e in chain:
            if isinstance(e, ssl.SSLError):
                return f"TLS with {self.address} failed: {e.reason or e}"
            if isinstance(e, ConnectionRefusedError):
                return connect_failure(e, self.address)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"{self.address} closed the connection"
        if isinstance(exc, smtplib.SMTPException):
            return f"SMTP error with {self.address}: {exc}"
        return f"cannot talk to {self.address}: {getattr(exc, 'strerror', None) or exc}"

    def _build(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject or DEFAULT_SUBJECT
        email["Date"] = formatdate(localtime=True)
        email["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2] or None)
        email.set_content(message.body, charset="utf-8")
        return email

    def _connection(self) -> _SMTP | _SMTPS:
        """The open connection, or a new one: EHLO, STARTTLS, EHLO, AUTH. Raises _Failed with the reason."""
        if self._conn is not None:
            return self._conn
        host = self.url.host or ""
        log.debug("smtp: connecting to %s (%s)", self.address, self.security)
        try:
            conn: _SMTP | _SMTPS
            if self.security == "tls":
                conn = _SMTPS(host, self.port, local_hostname=self.helo, timeout=self.timeout, context=self._tls)
            else:
                conn = _SMTP(host, self.port, local_hostname=self.helo, timeout=self.timeout)
            try:
                self._greet(conn)
            except BaseException:
                conn.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise _Failed(f"login refused: {_reply_text(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError:
            raise _Failed(f"{self.address} does not offer AUTH on this connection") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _Failed(self._describe(exc)) from None
        self._conn = conn
        return conn

    def _greet(self, conn: smtplib.SMTP) -> None:
        conn.ehlo()
        if self.security == "starttls":
            if not conn.has_extn("starttls"):
                raise _Failed(f"{self.address} does not offer STARTTLS (use security=tls or security=none)")
            conn.starttls(context=self._tls)
            conn.ehlo()
        if self.url.user:
            conn.login(self.url.user, self.url.password or "")

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """Say QUIT politely; a server that already left is no error."""
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._drop()
