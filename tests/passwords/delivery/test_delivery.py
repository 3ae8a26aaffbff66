"""Real servers on 127.0.0.1 (aiosmtpd with STARTTLS and AUTH; 46elks and Twilio stand-ins) and failure
injection: connection refused, 401, 500, timeout. One channel failing is exit 3 with the new password stored;
every channel failing is exit 1 with the old password still valid."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Callable
from urllib.parse import quote

import pytest

from per_cli.credentials.passwords import verify_password
from tests.helpers.per import TOLVAN
from tests.helpers.servers import SMTP_PASSWORD, SMTP_USER, Cert, Gateway, SmtpServer
from tests.helpers.world import EMAIL, MOBILE, World

Url = Callable[[], str]


def received_password(desk: World, content: bytes) -> str:
    """The password in a message that reached the SMTP server (a MIME message, maybe base64)."""
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    body = parsed.get_content().replace("\r\n", "\n")
    return desk.password_in({"channel": "email", "body": body})


def smtp_url(
    server: SmtpServer, cert: Cert, *, password: str = SMTP_PASSWORD, sender: str | None = "per@example.se"
) -> str:
    params = {"cafile": str(cert.cert), **({"from": sender} if sender else {})}
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return f"smtp://{SMTP_USER}:{password}@127.0.0.1:{server.port}?{query}"


def test_real_smtp_with_starttls_and_auth_and_a_46elks_gateway(
    desk: World, smtp_starttls: SmtpServer, tls_cert: Cert, elks_gateway: Gateway
) -> None:
    desk.configure({"messages": {"sms_sender": "Neuroreg", "email_from": "PER <no-reply@neuroreg.se>"}},
                   email=smtp_url(smtp_starttls, tls_cert, sender=None), sms=elks_gateway.url())  # fmt: skip
    desk.enrol()
    result = desk.send(TOLVAN, "--sms", "--email", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    [mail] = smtp_starttls.handler.messages
    assert mail.tls and mail.authenticated and mail.rcpt_tos == [EMAIL] and mail.mail_from == "no-reply@neuroreg.se"
    headers = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert headers["Subject"] == "Ditt nya lösenord till PER" and "neuroreg.se" in headers["From"]
    [request] = elks_gateway.requests
    assert request["form"]["from"] == "Neuroreg" and request["form"]["to"] == MOBILE
    password = received_password(desk, mail.content)
    assert password in request["form"]["message"]
    assert verify_password(desk.credential().password_hash, password)
    ids = {c["channel"]: c["provider_id"] for c in record["channels"]}
    assert ids == {"email": "Q1", "sms": f"s{1:032x}"}
    assert {d.channel: d.provider_id for d in desk.deliveries()} == ids


@pytest.fixture
def sms_failure(request: pytest.FixtureRequest, closed_port: int) -> tuple[str, str]:
    """(SMS transport URL, the error the report must show) for the failure named by the parameter."""
    kind: str = request.param
    if kind == "refused":
        return f"elks://user:pw@127.0.0.1:{closed_port}?tls=off", f"connection refused by 127.0.0.1:{closed_port}"
    flavor, mode = kind.split("-")
    gateway: Gateway = request.getfixturevalue(f"{flavor}_gateway")
    gateway.mode = "slow" if mode == "timeout" else mode
    if mode == "timeout":
        return gateway.url(timeout="0.3"), f"no answer from 127.0.0.1:{gateway.port} within 0.3 s"
    return gateway.url(), f"gateway answered {mode} "


SMS_FAILURES = ["refused", "elks-401", "elks-500", "twilio-401", "twilio-500", "elks-timeout"]


@pytest.mark.parametrize("sms_failure", SMS_FAILURES, indirect=True)
def test_one_channel_failing_is_exit_3_and_the_report_names_it(
    desk: World, smtp_starttls: SmtpServer, tls_cert: Cert, sms_failure: tuple[str, str]
) -> None:
    sms_url, error = sms_failure
    desk.configure(email=smtp_url(smtp_starttls, tls_cert), sms=sms_url)
    desk.enrol()
    result = desk.send(TOLVAN, "--sms", "--email")
    assert result.exit_code == 3, result.stderr
    assert re.fullmatch(rf"Password sent to {re.escape(EMAIL)} at [\d-]+ [\d:]+\n", result.stdout)
    assert result.stderr.startswith(f"Error: sent to {EMAIL} only; sms to {MOBILE}: {error}"), result.stderr
    [mail] = smtp_starttls.handler.messages
    credential = desk.credential()
    assert verify_password(credential.password_hash, received_password(desk, mail.content))
    assert credential.last_sent_to == EMAIL
    sms_status = "unknown" if "timeout" in sms_url else "failed"  # a request sent and no answer: may have left
    assert [(d.channel, d.status) for d in desk.deliveries()] == [("email", "sent"), ("sms", sms_status)]
    assert error in desk.deliveries()[1].error
    [event] = desk.audit("password.send")
    assert event["outcome"] == "partial" and event["details"]["statuses"] == {"email": "sent", "sms": sms_status}


@pytest.fixture
def email_failure(
    request: pytest.FixtureRequest, closed_port: int, silent_port: int, tls_cert: Cert
) -> tuple[str, str]:
    kind: str = request.param
    if kind == "refused":
        return (f"smtp://127.0.0.1:{closed_port}?security=none&from=per@example.se",
                f"connection refused by 127.0.0.1:{closed_port}")  # fmt: skip
    if kind == "timeout":
        return (f"smtp://127.0.0.1:{silent_port}?security=none&from=per@example.se&timeout=0.3",
                f"no answer from 127.0.0.1:{silent_port} within 0.3 s")  # fmt: skip
    server: SmtpServer = request.getfixturevalue("smtp_starttls")
    return smtp_url(server, tls_cert, password="wrong"), "login refused: 535"


@pytest.mark.parametrize(
    ("email_failure", "sms_failure"),
    [("refused", "elks-401"), ("auth", "twilio-500"), ("timeout", "twilio-401"), ("refused", "refused")],
    indirect=True,
)
def test_every_channel_failing_is_exit_1_and_the_old_password_still_works(
    desk: World, email_failure: tuple[str, str], sms_failure: tuple[str, str]
) -> None:
    desk.enrol()
    assert desk.send(TOLVAN, "--sms", "--email").exit_code == 0  # the old password, through the file outbox
    old_password = desk.password_in(desk.messages()[0])
    old = desk.credential()

    (email_url, email_error), (sms_url, sms_error) = email_failure, sms_failure
    desk.configure(email=email_url, sms=sms_url)
    result = desk.send(TOLVAN, "--sms", "--email")
    assert result.exit_code == 1
    assert result.stdout == ""
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith("Error: no password was sent, the old one still works: "), result.stderr
    assert f"email to {EMAIL}: {email_error}" in first_line and f"sms to {MOBILE}: {sms_error}" in first_line
    assert desk.credential() == old
    assert verify_password(desk.credential().password_hash, old_password)
    assert [(d.channel, d.status) for d in desk.deliveries()[2:]] == [("email", "failed"), ("sms", "failed")]
    assert [e["outcome"] for e in desk.audit("password.send")] == ["ok", "failed"]


@pytest.mark.parametrize("sms_failure", ["elks-500"], indirect=True)
def test_json_reports_a_failed_channel_with_its_error(desk: World, sms_failure: tuple[str, str]) -> None:
    desk.configure(sms=sms_failure[0])
    desk.enrol()
    result = desk.send(TOLVAN, "--sms", "--format", "json")
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["status"] == "failed" and record["sent_at"] is None
    [channel] = record["channels"]
    assert channel["status"] == "failed" and channel["error"].startswith(sms_failure[1])
    assert desk.credential() is None


def test_a_refused_recipient_is_a_failed_channel(desk: World, smtp_plain: SmtpServer) -> None:
    desk.configure(email=smtp_plain.url(user=None, security="none"))
    desk.enrol(email="reject.me@tolv.se")
    result = desk.send(TOLVAN, "--sms", "--email")
    assert result.exit_code == 3
    assert "email to reject.me@tolv.se: recipient refused: 550" in result.stderr
    assert desk.credential().last_sent_to == MOBILE
