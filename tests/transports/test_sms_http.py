"""elks:// and twilio:// against local HTTP servers speaking their formats, with injected failures."""

from __future__ import annotations

import logging
import time

import pytest

from per_cli.transports import DeliveryResult, Message, Transport, open_transport
from tests.helpers.servers import ELKS_PASSWORD, TWILIO_SID, TWILIO_TOKEN, Gateway

TEXT = "Ditt engångslösenord till PER: 482913"
TO = "+46701740605"


def _send(url: str, text: str = TEXT, to: str = TO) -> DeliveryResult:
    with open_transport(url, channel="sms", setting="PER_SMS_TRANSPORT") as transport:
        return transport.send(Message("sms", to, text))


def test_elks_sends_form_with_basic_auth(elks_gateway: Gateway) -> None:
    result = _send(elks_gateway.url(**{"from": "Neuroreg"}))
    assert result.status == "sent", result.error
    assert result.provider_id == "s" + "0" * 31 + "1"
    assert result.detail == {"status": "created", "parts": 1, "cost": 3500, "http_status": 200}
    [request] = elks_gateway.requests
    assert request["path"] == "/a1/sms"
    assert request["authorization"] == elks_gateway.expected_auth()
    assert request["form"] == {"from": "Neuroreg", "to": TO, "message": TEXT}


def test_elks_default_sender_and_dryrun(elks_gateway: Gateway) -> None:
    result = _send(elks_gateway.url(dryrun="yes"))
    assert result.status == "sent" and result.detail["estimated_cost"] == 3500
    assert elks_gateway.requests[0]["form"] == {"from": "PER", "to": TO, "message": TEXT, "dryrun": "yes"}


def test_one_client_for_a_bulk_run(elks_gateway: Gateway) -> None:
    with open_transport(elks_gateway.url(), channel="sms", setting="X") as transport:
        results = [transport.send(Message("sms", f"+4670174060{i}", TEXT)) for i in range(3)]
        client = transport.client  # type: ignore[attr-defined]
    assert [r.status for r in results] == ["sent"] * 3
    assert client.is_closed


def test_twilio_sends_form_to_the_account_path(twilio_gateway: Gateway) -> None:
    result = _send(twilio_gateway.url(**{"from": "Neuroreg"}))
    assert result.status == "sent", result.error
    assert result.provider_id == "SM" + "0" * 31 + "1"
    assert result.detail == {"status": "queued", "num_segments": "1", "http_status": 201}
    [request] = twilio_gateway.requests
    assert request["path"] == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request["authorization"] == twilio_gateway.expected_auth()
    assert request["form"] == {"To": TO, "From": "Neuroreg", "Body": TEXT}


def test_twilio_messaging_service_sid(twilio_gateway: Gateway) -> None:
    service = "MG" + "ab" * 16
    assert _send(twilio_gateway.url(**{"from": service})).status == "sent"
    assert twilio_gateway.requests[0]["form"]["MessagingServiceSid"] == service


def test_twilio_error_body_is_shown(twilio_gateway: Gateway) -> None:
    result = _send(twilio_gateway.url(), to="+15005550001")
    assert result.status == "failed"
    assert result.error == (
        "gateway answered 400 Bad Request: 21211 The 'To' number +15005550001 is not a valid phone number."
    )


@pytest.mark.parametrize(
    ("flavor", "mode", "error"),
    [
        ("elks", "401", "gateway answered 401 Unauthorized: Requires authentication"),
        ("twilio", "401", "gateway answered 401 Unauthorized: 20003 Authenticate"),
        ("elks", "500", "gateway answered 500 Internal Server Error: Internal Server Error"),
        ("twilio", "500", "gateway answered 500 Internal Server Error: Internal Server Error"),
        ("elks", "status-failed", "gateway reports status failed"),
        ("twilio", "status-failed", "gateway reports: Message filtered"),
        ("elks", "garbage", "gateway answered 200 with a body that is not a JSON object"),
    ],
)
def test_gateway_failures(request: pytest.FixtureRequest, flavor: str, mode: str, error: str) -> None:
    gateway: Gateway = request.getfixturevalue(f"{flavor}_gateway")
    gateway.mode = mode
    result = _send(gateway.url())
    assert result.status == "failed"
    assert result.error == error


@pytest.mark.parametrize("flavor", ["elks", "twilio"])
def test_wrong_credentials(request: pytest.FixtureRequest, flavor: str) -> None:
    gateway: Gateway = request.getfixturevalue(f"{flavor}_gateway")
    result = _send(gateway.url(password="not-the-password"))
    assert result.status == "failed" and result.detail["http_status"] == 401


@pytest.mark.parametrize("flavor", ["elks", "twilio"])
def test_timeout(request: pytest.FixtureRequest, flavor: str) -> None:
    gateway: Gateway = request.getfixturevalue(f"{flavor}_gateway")
    gateway.mode = "slow"
    started = time.monotonic()
    result = _send(gateway.url(timeout="0.3"))
    assert result.status == "unknown"  # the request went out: the gateway may have sent the SMS
    assert result.error == f"no answer from 127.0.0.1:{gateway.port} within 0.3 s after sending"
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("scheme", ["elks", "twilio"])
def test_connection_refused(scheme: str, closed_port: int) -> None:
    user = TWILIO_SID if scheme == "twilio" else "u"
    url = f"{scheme}://{user}:{TWILIO_TOKEN}@127.0.0.1:{closed_port}?tls=off&from=PER"
    result = _send(url)
    assert result.status == "failed"
    assert result.error == f"connection refused by 127.0.0.1:{closed_port}"


def test_recipient_must_be_e164(elks_gateway: Gateway) -> None:
    result = _send(elks_gateway.url(), to="070-174 06 05")
    assert result.error == "recipient is not a phone number in E.164 form (+46701234567)"
    assert elks_gateway.requests == []


def test_logs_hold_no_secret_body_or_number(elks_gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="per.transports")
    long_text = "Kod 482913 " + "x" * 160
    _send(elks_gateway.url(), text=long_text)
    elks_gateway.mode = "401"
    _send(elks_gateway.url())
    text = caplog.text
    assert ELKS_PASSWORD not in text and "482913" not in text and TO not in text
    assert "sms to +4670*****05 via elks://u0123456789abcdef:***@127.0.0.1" in text
    assert "needs 2 segments" in text and "failed: gateway answered 401" in text


def test_twilio_errors_quoting_the_number_are_masked_in_logs(
    twilio_gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="per.transports")
    result = _send(twilio_gateway.url(), to="+15005550001")
    assert "+15005550001" in (result.error or "")  # the user sees it
    assert "+15005550001" not in caplog.text and "+1500*****01" in caplog.text


def test_transport_classes_are_transports(elks_gateway: Gateway) -> None:
    assert isinstance(open_transport(elks_gateway.url(), channel="sms", setting="X"), Transport)
