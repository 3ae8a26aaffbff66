"""smtp:// against a real aiosmtpd on 127.0.0.1: STARTTLS + AUTH, implicit TLS, plain, and the faults."""

from __future__ import annotations

import email
import email.policy
import logging
import time

import pytest

from per_cli.transports import Message, open_transport
from per_cli.transports.smtp import SmtpTransport
from tests.helpers.servers import SMTP_PASSWORD, Cert, SmtpServer

BODY = "Ditt nya lösenord: Åsa-7Q2x9. Byt det under Min profil."


def _smtp(url: str) -> SmtpTransport:
    transport = open_transport(url, channel="email", setting="PER_EMAIL_TRANSPORT")
    assert isinstance(transport, SmtpTransport)
    return transport


def _mail(to: str = "tolvan.tolvansson@tolv.se", body: str = BODY) -> Message:
    return Message("email", to, body, subject="Nytt lösenord till PER")


def test_starttls_auth_and_one_connection_for_a_bulk_run(smtp_starttls: SmtpServer, tls_cert: Cert) -> None:
    with _smtp(smtp_starttls.url(cafile=str(tls_cert.cert))) as transport:
        results = [transport.send(_mail(f"patient{i}@tolv.se")) for i in range(3)]
    assert [r.status for r in results] == ["sent"] * 3
    assert [r.provider_id for r in results] == ["Q1", "Q2", "Q3"]
    assert results[0].detail["response"] == "250 2.0.0 Ok: queued as Q1"
    assert results[0].detail["message_id"].startswith("<") and results[0].detail["message_id"].endswith("@example.se>")
    received = smtp_starttls.handler.messages
    assert len(smtp_starttls.handler.sessions) == 1  # one connection reused
    assert all(m.tls and m.authenticated for m in received)
    assert received[0].mail_from == "per@example.se" and received[0].rcpt_tos == ["patient0@tolv.se"]
    parsed = email.message_from_bytes(received[0].content, policy=email.policy.default)
    assert parsed["Subject"] == "Nytt lösenord till PER"
    assert parsed["To"] == "patient0@tolv.se"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().strip() == BODY


def test_wrong_password_is_a_failed_result(smtp_starttls: SmtpServer, tls_cert: Cert) -> None:
    url = smtp_starttls.url(password="wrong", cafile=str(tls_cert.cert))
    with _smtp(url) as transport:
        result = transport.send(_mail())
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("login refused: 535")
    assert smtp_starttls.handler.messages == []


def test_untrusted_certificate_is_refused(smtp_starttls: SmtpServer) -> None:
    with _smtp(smtp_starttls.url()) as transport:  # no cafile: the self-signed cert is not trusted
        result = transport.send(_mail())
    assert result.status == "failed"
    assert (
        result.error is not None
        and "TLS with 127.0.0.1:" in result.error
        and "CERTIFICATE_VERIFY_FAILED" in result.error
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth(smtp_implicit_tls: SmtpServer, tls_cert: Cert) -> None:
    with _smtp(smtp_implicit_tls.url(security="tls", cafile=str(tls_cert.cert))) as transport:
        result = transport.send(_mail())
    assert result.status == "sent", result.error
    [received] = smtp_implicit_tls.handler.messages
    assert received.tls and received.authenticated


def test_plain_smtp_without_auth(smtp_plain: SmtpServer) -> None:
    with _smtp(smtp_plain.url(user=None, security="none")) as transport:
        result = transport.send(_mail())
    assert result.status == "sent", result.error
    [received] = smtp_plain.handler.messages
    assert not received.tls and not received.authenticated


def test_starttls_not_offered(smtp_plain: SmtpServer) -> None:
    with _smtp(smtp_plain.url(user=None)) as transport:  # security defaults to starttls
        result = transport.send(_mail())
    assert result.error == f"127.0.0.1:{smtp_plain.port} does not offer STARTTLS (use security=tls or security=none)"


def test_recipient_rejected_and_the_connection_goes_on(smtp_starttls: SmtpServer, tls_cert: Cert) -> None:
    with _smtp(smtp_starttls.url(cafile=str(tls_cert.cert))) as transport:
        rejected = transport.send(_mail("rejected@tolv.se"))
        accepted = transport.send(_mail("tolvan@tolv.se"))
    assert rejected.status == "failed"
    assert rejected.error is not None and rejected.error.startswith("recipient refused: 550 5.1.1")
    assert rejected.detail["smtp_code"] == 550
    assert accepted.status == "sent"
    assert [m.rcpt_tos for m in smtp_starttls.handler.messages] == [["tolvan@tolv.se"]]


def test_connection_refused(closed_port: int) -> None:
    with _smtp(f"smtp://127.0.0.1:{closed_port}?security=none&from=per@example.se") as transport:
        result = transport.send(_mail())
    assert result.status == "failed"
    assert result.error == f"connection refused by 127.0.0.1:{closed_port}"


def test_timeout(silent_port: int) -> None:
    url = f"smtp://127.0.0.1:{silent_port}?security=none&from=per@example.se&timeout=0.3"
    started = time.monotonic()
    with _smtp(url) as transport:
        result = transport.send(_mail())
    assert result.error == f"no answer from 127.0.0.1:{silent_port} within 0.3 s"
    assert time.monotonic() - started < 5


def test_a_connection_dropped_after_the_whole_message_is_unknown_not_failed(smtp_drop_after_data: SmtpServer) -> None:
    with _smtp(smtp_drop_after_data.url(user=None, security="none")) as transport:
        result = transport.send(_mail())
    assert len(smtp_drop_after_data.handler.messages) == 1  # the server has it
    assert result.status == "unknown", result
    assert result.error is not None and result.error.endswith(
        "after the whole message was sent; it may have been delivered"
    )


def test_reconnects_once_when_the_server_dropped_an_idle_connection(smtp_idle_drop: SmtpServer) -> None:
    with _smtp(smtp_idle_drop.url(user=None, security="none")) as transport:
        first = transport.send(_mail("a@tolv.se"))
        time.sleep(0.8)  # the server closes the idle connection after 0.3 s
        second = transport.send(_mail("b@tolv.se"))
    assert (first.status, second.status) == ("sent", "sent"), second.error
    assert len(smtp_idle_drop.handler.sessions) == 2


def test_logs_are_masked_and_bodiless(
    smtp_starttls: SmtpServer, tls_cert: Cert, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="per.transports")
    url = smtp_starttls.url(cafile=str(tls_cert.cert))
    with open_transport(url, channel="email", setting="PER_EMAIL_TRANSPORT") as transport:
        transport.send(_mail("tolvan.tolvansson@tolv.se"))
        transport.send(_mail("rejected@tolv.se"))
    text = caplog.text
    assert SMTP_PASSWORD not in text and "Åsa-7Q2x9" not in text and "tolvan.tolvansson" not in text
    assert "email to t***@tolv.se via smtp://per-relay:***@127.0.0.1" in text
    assert "email to r***@tolv.se" in text and "recipient refused" in text


def test_default_ports_and_security() -> None:
    def port_security(url: str) -> tuple[int, str]:
        transport = _smtp(url)
        return transport.port, transport.security

    assert port_security("smtp://mail.tolv.se?from=a@b.se") == (587, "starttls")
    assert port_security("smtp://mail.tolv.se?security=tls&from=a@b.se") == (465, "tls")
    assert port_security("smtp://mail.tolv.se:465?from=a@b.se") == (465, "tls")
    assert port_security("smtp://mail.tolv.se?security=none&from=a@b.se") == (25, "none")
    assert _smtp("smtp://relay@tolv.se:pw@mail.tolv.se").sender == "relay@tolv.se"  # user as sender
    assert _smtp("smtp://mail.tolv.se?from=x@y.se").sender == "x@y.se"
    default = open_transport("smtp://mail.tolv.se", channel="email", setting="X", default_from="PER <no-reply@tolv.se>")
    assert isinstance(default, SmtpTransport) and default.sender == "PER <no-reply@tolv.se>"
