"""The client against the simulator over real mutual TLS: every scenario and every error code."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from per_cli.bankid.certs import ensure_pki
from per_cli.bankid.client import (
    BankIdAlreadyInProgress,
    BankIdClient,
    BankIdError,
    BankIdUnavailable,
    CollectResult,
    client_from_config,
)
from per_cli.bankid.qr import qr_data
from per_cli.bankid.sim_http import ERRORS
from per_cli.bankid.simulator import Simulator
from per_cli.bankid.tls import client_ssl_context
from per_cli.errors import EXIT_DENIED, EXIT_ERROR, InvalidInput
from tests.helpers.bankid import OTHER_PNR, PNR

MakeSim = Callable[..., Simulator]
MakeClient = Callable[..., BankIdClient]


def _collect_all(client: BankIdClient, order_ref: str, limit: int = 20) -> list[CollectResult]:
    results = []
    for _ in range(limit):
        results.append(client.collect(order_ref))
        if results[-1].status != "pending":
            return results
    raise AssertionError("order never finished")


def _raw(sim: Simulator, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request as a careless RP would send it, with the simulator's valid client certificate."""
    s = sim.config_section()
    ctx = client_ssl_context(ca_file=s["ca_file"], cert_file=s["cert_file"], key_file=s["key_file"])
    url = sim.base_url.removesuffix("/rp/v6.0/") + path
    with httpx.Client(verify=ctx) as http:
        return http.request(method, url, **kwargs)


def test_auth_returns_four_tokens_and_complete_has_the_identity(client: BankIdClient) -> None:
    order = client.auth(PNR, "192.0.2.7")
    assert len({order.order_ref, order.auto_start_token, order.qr_start_token, order.qr_start_secret}) == 4
    assert order.qr_start_secret not in repr(order)
    assert order.autostart_url == f"bankid:///?autostarttoken={order.auto_start_token}&redirect=null"
    results = _collect_all(client, order.order_ref)
    assert [(r.status, r.hint_code) for r in results] == [
        ("pending", "outstandingTransaction"),
        ("pending", "userSign"),
        ("complete", None),
    ]
    done = results[-1].completion
    assert done is not None
    assert (done.personal_number, done.given_name, done.surname) == (PNR, "Tolvan", "Tolvansson")
    assert done.device_ip == "192.0.2.7" and done.bankid_issue_date == "2024-06-10"
    assert done.signature and done.ocsp_response
    assert done.signature not in repr(done) and done.ocsp_response not in str(done)
    assert done.audit_details() == {
        "device_ip": "192.0.2.7",
        "bankid_issue_date": "2024-06-10",
    }


@pytest.mark.parametrize("scenario", ["userCancel", "expiredTransaction", "certificateErr"])
def test_failed_scenarios(make_sim: MakeSim, make_client: MakeClient, scenario: str) -> None:
    client = make_client(make_sim(scenario=scenario, polls=3))
    results = _collect_all(client, client.auth(PNR, "127.0.0.1").order_ref)
    assert [r.hint_code for r in results] == ["outstandingTransaction", "noClient", "userSign", scenario]
    assert results[-1].status == "failed"


def test_start_failed_never_leaves_outstanding(make_sim: MakeSim, make_client: MakeClient) -> None:
    client = make_client(make_sim(scenario="startFailed", polls=3))
    results = _collect_all(client, client.auth(None, "127.0.0.1").order_ref)
    assert [r.hint_code for r in results] == ["outstandingTransaction"] * 3 + ["startFailed"]


def test_start_window(make_sim: MakeSim, make_client: MakeClient) -> None:
    client = make_client(make_sim(polls=50, start_window=1.5))  # room for a loaded machine's TLS handshake
    order = client.auth(PNR, "127.0.0.1")
    assert client.collect(order.order_ref).status == "pending"
    time.sleep(1.6)
    result = client.collect(order.order_ref)
    assert (result.status, result.hint_code) == ("failed", "startFailed")


def test_per_person_scenarios_and_zero_polls(make_sim: MakeSim, make_client: MakeClient) -> None:
    client = make_client(make_sim(polls=0, persons={OTHER_PNR: "certificateErr"}))
    assert client.collect(client.auth(PNR, "127.0.0.1").order_ref).status == "complete"
    other = client.collect(client.auth(OTHER_PNR, "127.0.0.1").order_ref)
    assert (other.status, other.hint_code) == ("failed", "certificateErr")


def test_unknown_failed_hint_codes_pass_through(make_sim: MakeSim, make_client: MakeClient) -> None:
    client = make_client(make_sim(polls=0, scenario="brandNewHint"))
    assert client.collect(client.auth(PNR, "127.0.0.1").order_ref).hint_code == "brandNewHint"


def test_mrtd_and_risk(client: BankIdClient) -> None:
    order = client.auth(PNR, "127.0.0.1", mrtd=True, return_risk=True, user_visible_data="Logga in i PER")
    results = _collect_all(client, order.order_ref)
    assert [r.hint_code for r in results[:-1]] == ["userMrtd", "userSign"]
    done = results[-1].completion
    assert done is not None and done.step_up_mrtd is True and done.risk == "low"


def test_without_mrtd_or_risk_those_fields_are_absent(client: BankIdClient) -> None:
    done = _collect_all(client, client.auth(None, "127.0.0.1").order_ref)[-1].completion
    assert done is not None and done.step_up_mrtd is None and done.risk is None
    assert done.personal_number == PNR  # the simulator's default person scans unrestricted orders


def _phone_auth(sim: Simulator, initiator: str) -> str:
    """The simulator keeps /phone/auth for fidelity; per itself never calls it (BankID forbids ID-växling)."""
    response = _raw(sim, "POST", "/rp/v6.0/phone/auth", json={"personalNumber": PNR, "callInitiator": initiator})
    return str(response.json()["orderRef"])


def test_simulator_phone_auth(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(polls=3)
    client = make_client(sim)
    results = _collect_all(client, _phone_auth(sim, "user"))
    assert [r.hint_code for r in results] == ["outstandingTransaction", "userCallConfirm", "userSign", None]
    assert results[-1].completion is not None and results[-1].completion.personal_number == PNR


def test_simulator_phone_auth_declined(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(persons={PNR: "userDeclinedCall"}, polls=1)
    client = make_client(sim)
    results = _collect_all(client, _phone_auth(sim, "RP"))
    assert results[-1].hint_code == "userDeclinedCall"


def test_finished_orders_cannot_be_collected_again(client: BankIdClient) -> None:
    order = client.auth(PNR, "127.0.0.1")
    _collect_all(client, order.order_ref)
    with pytest.raises(BankIdError) as info:
        client.collect(order.order_ref)
    assert (info.value.error_code, info.value.http_status) == ("invalidParameters", 400)
    assert info.value.exit_code == EXIT_ERROR


def test_cancel(client: BankIdClient) -> None:
    order = client.auth(PNR, "127.0.0.1")
    client.collect(order.order_ref)
    client.cancel(order.order_ref)
    for call in (client.collect, client.cancel):  # gone: collecting or cancelling twice is invalidParameters
        with pytest.raises(BankIdError) as info:
            call(order.order_ref)
        assert info.value.error_code == "invalidParameters"
    with pytest.raises(BankIdError, match="No such order"):
        client.collect("00000000-0000-0000-0000-000000000000")


def test_already_in_progress_aborts_both(client: BankIdClient) -> None:
    first = client.auth(PNR, "127.0.0.1")
    with pytest.raises(BankIdAlreadyInProgress) as info:
        client.auth(PNR, "127.0.0.1")
    assert info.value.exit_code == EXIT_DENIED
    assert info.value.rfa == "RFA4"
    assert str(info.value).startswith("En identifiering eller underskrift för det här personnumret")
    result = client.collect(first.order_ref)
    assert (result.status, result.hint_code) == ("failed", "cancelled")
    client.auth(PNR, "127.0.0.1")  # both aborted: the next try starts cleanly


def test_another_rps_order_does_not_exist(sim: Simulator, make_client: MakeClient) -> None:
    client = make_client(sim)
    cert, key = sim.issue_client_cert("other RP")
    other = BankIdClient(sim.base_url, client_ssl_context(ca_file=sim.files.ca_cert, cert_file=cert, key_file=key))
    with other:
        order = client.auth(PNR, "127.0.0.1")
        with pytest.raises(BankIdError) as info:
            other.collect(order.order_ref)
        assert info.value.error_code == "invalidParameters"
        assert client.collect(order.order_ref).status == "pending"


def test_unauthorized_rp_certificate(sim: Simulator) -> None:
    cert, key = sim.issue_client_cert("unknown RP", authorized=False)
    with (
        BankIdClient(
            sim.base_url, client_ssl_context(ca_file=sim.files.ca_cert, cert_file=cert, key_file=key)
        ) as stranger,
        pytest.raises(BankIdError) as info,
    ):
        stranger.auth(PNR, "127.0.0.1")
    assert (info.value.error_code, info.value.http_status) == ("unauthorized", 401)
    assert not isinstance(info.value, BankIdUnavailable)


@pytest.mark.parametrize(
    ("kwargs", "details"),
    [
        ({"requirement": {"personalNumber": "1912121212"}}, "Invalid requirement.personalNumber"),
        ({"endUserIp": "localhost"}, "Invalid endUserIp"),
        ({"endUserIp": None}, "Missing endUserIp"),
        ({"userVisibleData": "not base64!"}, "Invalid userVisibleData"),
        ({"userVisibleData": "eA==", "userVisibleDataFormat": "html"}, "Invalid userVisibleDataFormat"),
        ({"requirement": {"pinCode": "yes"}}, "Invalid requirement.pinCode"),
    ],
)
def test_invalid_parameters(sim: Simulator, kwargs: dict[str, Any], details: str) -> None:
    body = {k: v for k, v in {"endUserIp": "127.0.0.1", **kwargs}.items() if v is not None}
    response = _raw(sim, "POST", "/rp/v6.0/auth", json=body)
    assert response.status_code == 400
    assert response.json() == {"errorCode": "invalidParameters", "details": details}


def test_sign_needs_user_visible_data_and_phone_needs_a_caller(sim: Simulator) -> None:
    sign = _raw(sim, "POST", "/rp/v6.0/sign", json={"endUserIp": "127.0.0.1"})
    assert sign.json() == {"errorCode": "invalidParameters", "details": "Missing userVisibleData"}
    ok = _raw(sim, "POST", "/rp/v6.0/sign", json={"endUserIp": "127.0.0.1", "userVisibleData": "eA=="})
    assert ok.status_code == 200 and set(ok.json()) == {"orderRef", "autoStartToken", "qrStartToken", "qrStartSecret"}
    phone = _raw(sim, "POST", "/rp/v6.0/phone/auth", json={"personalNumber": PNR, "callInitiator": "me"})
    assert phone.json()["details"] == "Invalid callInitiator"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_non_json_body(sim: Simulator, body: bytes) -> None:
    response = _raw(sim, "POST", "/rp/v6.0/auth", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["errorCode"] == "invalidParameters"


def test_oversized_body(sim: Simulator) -> None:
    big = json.dumps({"endUserIp": "127.0.0.1", "userNonVisibleData": "A" * 300_000}).encode()
    response = _raw(sim, "POST", "/rp/v6.0/auth", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["errorCode"] == "invalidParameters"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "text/plain", "application/json;charset=UTF-8", None]
)
def test_content_type_must_be_exactly_json(sim: Simulator, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = _raw(sim, "POST", "/rp/v6.0/auth", content=b'{"endUserIp":"127.0.0.1"}', headers=headers)
    assert response.status_code == 415
    assert response.json() == {"errorCode": "unsupportedMediaType", "details": "Unsupported media type"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_only_post(sim: Simulator, method: str) -> None:
    response = _raw(sim, method, "/rp/v6.0/auth")
    assert response.status_code == 405
    assert response.json()["errorCode"] == "methodNotAllowed"
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("path", ["/rp/v6.0/authenticate", "/rp/v5.1/auth", "/"])
def test_unknown_path(sim: Simulator, path: str) -> None:
    response = _raw(sim, "POST", path, json={"endUserIp": "127.0.0.1"})
    assert response.status_code == 404 and response.json()["errorCode"] == "notFound"


def test_client_maps_not_found_and_wrong_version(sim: Simulator, make_client: MakeClient) -> None:
    s = sim.config_section()
    ctx = client_ssl_context(ca_file=s["ca_file"], cert_file=s["cert_file"], key_file=s["key_file"])
    with BankIdClient(sim.base_url.replace("v6.0", "v5.1"), ctx) as old, pytest.raises(BankIdError) as info:
        old.auth(PNR, "127.0.0.1")
    assert (info.value.error_code, info.value.http_status, info.value.rfa) == ("notFound", 404, None)


def test_request_timeout_when_the_body_is_too_slow(make_sim: MakeSim) -> None:
    sim = make_sim(request_timeout=0.2)
    s = sim.config_section()
    ctx = client_ssl_context(ca_file=s["ca_file"], cert_file=s["cert_file"], key_file=s["key_file"])
    port = int(sim.base_url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(
            b"POST /rp/v6.0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        tls.settimeout(5)
        chunks = []
        while chunk := tls.recv(4096):  # the server closes the connection after a 408
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 408 ")
    assert '"errorCode": "requestTimeout"' in answer


@pytest.mark.parametrize(
    ("code", "status", "rfa", "cls"),
    [
        ("requestTimeout", 408, "RFA5", BankIdError),
        ("internalError", 500, "RFA5", BankIdError),
        ("tooManyRequests", 429, "RFA5", BankIdError),
        ("invalidParameters", 400, None, BankIdError),
        ("unauthorized", 401, None, BankIdError),
        ("notFound", 404, None, BankIdError),
        ("methodNotAllowed", 405, None, BankIdError),
        ("unsupportedMediaType", 415, None, BankIdError),
        ("alreadyInProgress", 400, "RFA4", BankIdAlreadyInProgress),
    ],
)
def test_every_error_code_is_mapped_and_not_retried(
    sim: Simulator, make_client: MakeClient, code: str, status: int, rfa: str | None, cls: type[BankIdError]
) -> None:
    sleeps: list[float] = []
    client = make_client(sim, sleep=sleeps.append, language="en")
    sim.inject_error(code, times=2)
    with pytest.raises(cls) as info:
        client.auth(PNR, "127.0.0.1")
    error = info.value
    assert (error.error_code, error.http_status, error.rfa, ERRORS[code]) == (code, status, rfa, status)
    assert code in str(error)
    if rfa == "RFA5":
        assert str(error).startswith("Something went wrong. Please try again. [BankID")
    with pytest.raises(cls):  # exactly one request was made: the second injected error is still there
        client.auth(PNR, "127.0.0.1")
    assert sleeps == []
    client.auth(PNR, "127.0.0.1")


def test_too_many_requests_has_rate_limit_headers(sim: Simulator) -> None:
    sim.inject_error("tooManyRequests")
    response = _raw(sim, "POST", "/rp/v6.0/collect", json={"orderRef": "x"})
    assert response.status_code == 429
    assert all(h in response.headers for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))


def test_error_scenario_for_one_person(make_sim: MakeSim, make_client: MakeClient) -> None:
    client = make_client(make_sim(persons={OTHER_PNR: "internalError"}))
    with pytest.raises(BankIdError) as info:
        client.auth(OTHER_PNR, "127.0.0.1")
    assert info.value.error_code == "internalError"
    client.auth(PNR, "127.0.0.1")


def test_maintenance_is_retried_with_backoff(sim: Simulator, make_client: MakeClient) -> None:
    sleeps: list[float] = []
    client = make_client(sim, sleep=sleeps.append, maintenance_retries=3, retry_backoff=0.5)
    sim.inject_error("maintenance", times=2)
    order = client.auth(PNR, "127.0.0.1")
    assert order.order_ref and sleeps == [0.5, 1.0]


def test_maintenance_retries_are_bounded(sim: Simulator, make_client: MakeClient) -> None:
    sleeps: list[float] = []
    client = make_client(sim, sleep=sleeps.append, maintenance_retries=2, retry_backoff=0.1)
    sim.inject_error("maintenance", times=5)
    with pytest.raises(BankIdUnavailable) as info:
        client.collect("whatever")
    assert info.value.error_code == "maintenance" and info.value.http_status == 503 and info.value.rfa == "RFA5"
    assert sleeps == [0.1, 0.2]
    with pytest.raises(BankIdError) as later:  # two maintenance answers were left, then the real answer
        client.collect("whatever")
    assert later.value.error_code == "invalidParameters"
    assert sleeps == [0.1, 0.2, 0.1, 0.2]


def test_scan_the_qr_code(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(polls=50)
    client = make_client(sim)
    order = client.auth(PNR, "127.0.0.1")
    assert client.collect(order.order_ref).hint_code == "outstandingTransaction"
    forged = f"bankid.{order.qr_start_token}.0.{'0' * 64}"
    assert _raw(sim, "POST", "/sim/scan", json={"qrData": forged}).json()["details"] == "Invalid QR code"
    late = qr_data(order.qr_start_token, order.qr_start_secret, 30)
    assert _raw(sim, "POST", "/sim/scan", json={"qrData": late}).status_code == 400
    good = qr_data(order.qr_start_token, order.qr_start_secret, 0)
    assert _raw(sim, "POST", "/sim/scan", json={"qrData": good}).json() == {}
    assert _raw(sim, "POST", "/sim/scan", json={"qrData": good}).json()["details"] == "Order already started"
    assert [r.hint_code for r in _collect_all(client, order.order_ref)] == ["userSign", None]


def test_autostart(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(polls=50)
    client = make_client(sim)
    order = client.auth(None, "127.0.0.1")
    assert _raw(sim, "POST", "/sim/autostart", json={"autoStartToken": order.auto_start_token}).json() == {}
    assert [r.hint_code for r in _collect_all(client, order.order_ref)] == ["started", "userSign", None]


def test_client_validates_before_sending(client: BankIdClient) -> None:
    for pnr, ip in (("19121212-1212", "127.0.0.1"), (PNR, "not-an-ip")):
        with pytest.raises(InvalidInput):
            client.auth(pnr, ip)


# -- mutual TLS ------------------------------------------------------------------------------------------------


def _port(sim: Simulator) -> int:
    return int(sim.base_url.split(":")[2].split("/")[0])


def _anonymous_request(sim: Simulator, ctx: ssl.SSLContext) -> str:
    """Try one request; say how it ended. Rejection shows as a TLS alert, EOF or reset, never as HTTP."""
    try:
        with (
            socket.create_connection(("127.0.0.1", _port(sim)), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"POST /rp/v6.0/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            answer = tls.recv(100)
    except (ssl.SSLError, OSError) as exc:
        return f"rejected: {exc}"
    return "rejected: closed" if answer == b"" else answer.decode(errors="replace")


def test_client_without_certificate_is_rejected_at_the_tls_layer(sim: Simulator) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(sim.files.ca_cert)
    # TLS 1.3 finishes the client's side of the handshake first, so the alert comes on a later read or write.
    assert _anonymous_request(sim, ctx).startswith("rejected")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # with TLS 1.2 the handshake itself fails
    assert _anonymous_request(sim, ctx).startswith("rejected")
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    with BankIdClient(sim.base_url, ctx) as anonymous, pytest.raises(BankIdUnavailable) as info:
        anonymous.auth(PNR, "127.0.0.1")
    assert info.value.exit_code == EXIT_ERROR
    # the same request with the RP certificate gets through, so it was the certificate that mattered
    s = sim.config_section()
    good = client_ssl_context(ca_file=s["ca_file"], cert_file=s["cert_file"], key_file=s["key_file"])
    assert _anonymous_request(sim, good).startswith("HTTP/1.1 415 ")


def test_certificate_from_another_ca_is_rejected(sim: Simulator, tmp_path: Path) -> None:
    other = ensure_pki(tmp_path / "other", ["127.0.0.1"])  # a PKI of its own
    ctx = client_ssl_context(ca_file=sim.files.ca_cert, cert_file=other.client_cert, key_file=other.client_key)
    with BankIdClient(sim.base_url, ctx) as client, pytest.raises(BankIdUnavailable):
        client.auth(PNR, "127.0.0.1")


def test_client_refuses_a_server_its_ca_does_not_vouch_for(sim: Simulator, tmp_path: Path) -> None:
    other = ensure_pki(tmp_path / "other", ["127.0.0.1"])
    ctx = client_ssl_context(ca_file=other.ca_cert, cert_file=sim.files.client_cert, key_file=sim.files.client_key)
    with BankIdClient(sim.base_url, ctx) as client, pytest.raises(BankIdUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        client.auth(PNR, "127.0.0.1")


def test_pkcs12_client_works_end_to_end(sim: Simulator) -> None:
    section = {k: v for k, v in sim.config_section().items() if k not in ("cert_file", "key_file")}
    section["pkcs12_file"] = str(sim.files.client_pkcs12)
    password = sim.files.client_pkcs12_password.read_text().strip()
    with client_from_config(section, {"PER_BANKID_PKCS12_PASSWORD": password}) as client:
        assert client.collect(client.auth(PNR, "127.0.0.1").order_ref).status == "pending"


def test_stopped_simulator_is_unavailable(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim()
    client = make_client(sim, timeout=2.0)
    client.auth(PNR, "127.0.0.1")
    sim.stop()
    with pytest.raises(BankIdUnavailable, match="cannot reach BankID"):
        client.auth(OTHER_PNR, "127.0.0.1")


def test_orders_expire(make_sim: MakeSim, make_client: MakeClient) -> None:
    client = make_client(make_sim(polls=50, order_ttl=0.2))
    order = client.auth(PNR, "127.0.0.1")
    assert client.collect(order.order_ref).status == "pending"
    time.sleep(0.3)
    result = client.collect(order.order_ref)
    assert (result.status, result.hint_code) == ("failed", "expiredTransaction")


def test_chunked_body_is_refused(sim: Simulator) -> None:
    response = _raw(
        sim,
        "POST",
        "/rp/v6.0/auth",
        content=iter([b'{"endUserIp":', b'"127.0.0.1"}']),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["details"] == "Missing Content-Length"
