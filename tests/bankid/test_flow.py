"""The login flow on a fake clock against the real simulator: QR redraws, messages, outcomes, Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from per_cli.bankid.client import BankIdClient, BankIdError, BankIdFailed, CompletionData, OrderStarted
from per_cli.bankid.flow import _check_person, run_auth_order
from per_cli.bankid.qr import qr_data
from per_cli.bankid.simulator import Simulator
from per_cli.bankid.tls import client_ssl_context
from per_cli.errors import EXIT_DENIED, AuthDenied
from tests.helpers.bankid import PNR, FakeTime

MakeSim = Callable[..., Simulator]
MakeClient = Callable[..., BankIdClient]


class Recorder:
    def __init__(self) -> None:
        self.qr: list[str] = []
        self.messages: list[str] = []
        self.events: list[str] = []

    def on_qr(self, data: str) -> None:
        self.qr.append(data)
        self.events.append("qr")

    def on_message(self, text: str) -> None:
        self.messages.append(text)
        self.events.append("message")

    def on_qr_done(self) -> None:
        self.events.append("qr_done")


def test_complete_with_qr_redrawn_every_second(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(make_sim(polls=3))
    seen = Recorder()
    started: list[OrderStarted] = []
    done = run_auth_order(
        client,
        PNR,
        "192.0.2.1",
        on_qr=seen.on_qr,
        on_message=seen.on_message,
        on_started=started.append,
        on_qr_done=seen.on_qr_done,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    assert done.personal_number == PNR and done.device_ip == "192.0.2.1"
    order = started[0]
    # collects at t=0 (outstanding), 2 (noClient), 4 (userSign: QR stops), 6 (complete)
    assert seen.qr == [qr_data(order.qr_start_token, order.qr_start_secret, t) for t in range(5)]
    assert seen.messages == [
        "Starta BankID-appen.",
        "Skriv in din säkerhetskod i BankID-appen och välj Identifiera eller Skriv under.",
    ]
    assert seen.events.count("qr_done") == 1
    assert fake_time.now - 1000.0 == pytest.approx(6.0)
    assert fake_time.sleeps == [1.0, 1.0, 1.0, 1.0, 2.0]  # QR pace until scanned, then collect pace


def test_no_qr_mode_collects_every_two_seconds(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(make_sim(polls=4), language="en")
    seen = Recorder()
    links: list[str] = []
    run_auth_order(
        client,
        PNR,
        "127.0.0.1",
        on_qr=None,
        on_message=seen.on_message,
        on_started=lambda order: links.append(order.autostart_url),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    assert links[0].startswith("bankid:///?autostarttoken=")
    assert fake_time.sleeps == [2.0] * 4
    assert seen.messages == [
        "Start your BankID app.",
        "Enter your security code in the BankID app and select Identify or Sign.",
    ]


@pytest.mark.parametrize(
    ("scenario", "on_qr", "text"),
    [
        ("userCancel", True, "Åtgärden avbröts."),
        ("expiredTransaction", True, "BankID-appen svarar inte."),
        ("certificateErr", True, "Ditt BankID är för gammalt eller spärrat."),
        ("startFailed", True, "Misslyckades att läsa av QR-koden."),
        ("startFailed", False, "Du verkar inte ha BankID-appen/programmet."),
        ("somethingBankIdInventsLater", True, "Något gick fel. Försök igen."),
    ],
)
def test_failed_is_denied_with_the_recommended_text(
    make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime, scenario: str, on_qr: bool, text: str
) -> None:
    client = make_client(make_sim(scenario=scenario, polls=1))
    seen = Recorder()
    with pytest.raises(BankIdFailed) as info:
        run_auth_order(
            client,
            PNR,
            "127.0.0.1",
            on_qr=seen.on_qr if on_qr else None,
            on_message=seen.on_message,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )
    assert isinstance(info.value, AuthDenied) and info.value.exit_code == EXIT_DENIED
    assert str(info.value).startswith(text)
    assert info.value.hint_code == scenario


def test_english_by_config(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(make_sim(scenario="userCancel", polls=0))
    with pytest.raises(BankIdFailed, match=r"^The action was cancelled\.$"):
        run_auth_order(
            client,
            PNR,
            "127.0.0.1",
            on_qr=None,
            on_message=print,
            language="en",
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )


def _order_is_gone(sim: Simulator, order_ref: str) -> bool:
    s = sim.config_section()
    ctx = client_ssl_context(ca_file=s["ca_file"], cert_file=s["cert_file"], key_file=s["key_file"])
    with BankIdClient(sim.base_url, ctx) as probe:
        try:
            probe.collect(order_ref)
        except BankIdError as exc:
            return exc.error_code == "invalidParameters"
    return False


@pytest.mark.parametrize("where", ["on_message", "sleep", "on_qr"])
def test_ctrl_c_cancels_the_order(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime, where: str) -> None:
    sim = make_sim(polls=10)
    client = make_client(sim)
    started: list[OrderStarted] = []

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    hooks: dict[str, Callable[..., None]] = {"on_message": print, "sleep": fake_time.sleep, "on_qr": print}
    hooks[where] = interrupt
    with pytest.raises(KeyboardInterrupt):
        run_auth_order(
            client,
            PNR,
            "127.0.0.1",
            on_qr=hooks["on_qr"],
            on_message=hooks["on_message"],
            on_started=started.append,
            sleep=hooks["sleep"],
            clock=fake_time.clock,
        )
    assert _order_is_gone(sim, started[0].order_ref)  # /cancel was sent


def test_ctrl_c_after_a_failed_cancel_still_propagates(
    make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime
) -> None:
    sim = make_sim(polls=10)
    client = make_client(sim)

    def stop_then_interrupt(_: float) -> None:
        sim.inject_error("internalError", times=5)  # /cancel will fail
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_auth_order(
            client, PNR, "127.0.0.1", on_qr=None, on_message=print, sleep=stop_then_interrupt, clock=fake_time.clock
        )


def test_gives_up_after_the_timeout(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime) -> None:
    sim = make_sim(polls=1000, start_window=1e9)
    client = make_client(sim)
    started: list[OrderStarted] = []
    with pytest.raises(BankIdFailed) as info:
        run_auth_order(
            client,
            PNR,
            "127.0.0.1",
            on_qr=None,
            on_message=print,
            on_started=started.append,
            timeout=20.0,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )
    assert info.value.hint_code == "expiredTransaction"
    assert _order_is_gone(sim, started[0].order_ref)


def test_api_errors_surface_and_cancel(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime) -> None:
    sim = make_sim(polls=10)
    client = make_client(sim)
    started: list[OrderStarted] = []

    def sleep(seconds: float) -> None:
        fake_time.sleep(seconds)
        if len(fake_time.sleeps) == 2:
            sim.inject_error("internalError")

    with pytest.raises(BankIdError) as info:
        run_auth_order(
            client,
            PNR,
            "127.0.0.1",
            on_qr=None,
            on_message=print,
            on_started=started.append,
            sleep=sleep,
            clock=fake_time.clock,
        )
    assert info.value.error_code == "internalError"
    assert _order_is_gone(sim, started[0].order_ref)


def test_the_qr_code_shown_is_the_one_the_app_accepts(make_sim: MakeSim, make_client: MakeClient) -> None:
    """Real clock: the simulator checks the HMAC of the current second, as the BankID app does."""
    sim = make_sim(polls=1000)
    client = make_client(sim)
    s = sim.config_section()
    phone = httpx.Client(
        verify=client_ssl_context(ca_file=s["ca_file"], cert_file=s["cert_file"], key_file=s["key_file"])
    )
    scan_url = sim.base_url.removesuffix("/rp/v6.0/") + "/sim/scan"
    answers: list[int] = []

    def scan(data: str) -> None:
        if not answers:
            answers.append(phone.post(scan_url, json={"qrData": data}).status_code)

    with phone:
        done = run_auth_order(
            client, PNR, "127.0.0.1", on_qr=scan, on_message=print, poll_interval=0.05, qr_interval=0.02
        )
    assert answers == [200] and done.personal_number == PNR


def test_another_person_is_refused() -> None:
    someone = CompletionData("200001012384", "A B", "A", "B", "127.0.0.1", "2024-01-01")
    with pytest.raises(BankIdFailed):
        _check_person(someone, PNR, "sv")


def test_ctrl_c_while_showing_the_link_cancels(make_sim: MakeSim, make_client: MakeClient, fake_time: FakeTime) -> None:
    sim = make_sim(polls=10)
    client = make_client(sim)
    started: list[OrderStarted] = []

    def show_link(order: OrderStarted) -> None:
        started.append(order)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_auth_order(
            client, PNR, "127.0.0.1", on_qr=None, on_message=print, on_started=show_link, clock=fake_time.clock
        )
    assert _order_is_gone(sim, started[0].order_ref)
