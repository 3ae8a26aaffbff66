"""Fixtures: a real simulator on 127.0.0.1 (mutual TLS, port 0) and a fake clock for the flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from per_cli.bankid.client import BankIdClient, client_from_config
from per_cli.bankid.simulator import Simulator

PNR = "191212121212"
OTHER_PNR = "200001012384"


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state dir for the session: the PKI is reused, as a CI job restarting the simulator would."""
    return tmp_path_factory.mktemp("bankid-sim")


@pytest.fixture
def make_sim(pki_dir: Path) -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def make(**kwargs: Any) -> Simulator:
        kwargs.setdefault("state_dir", pki_dir)
        kwargs.setdefault("polls", 2)
        sim = Simulator(**kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim()


@pytest.fixture
def make_client() -> Iterator[Callable[..., BankIdClient]]:
    clients: list[BankIdClient] = []

    def make(sim: Simulator, **kwargs: Any) -> BankIdClient:
        client = client_from_config(sim.config_section(), {})
        if kwargs:
            client.close()
            from per_cli.bankid.tls import client_ssl_context

            section = sim.config_section()
            ctx = client_ssl_context(
                ca_file=section["ca_file"], cert_file=section["cert_file"], key_file=section["key_file"]
            )
            client = BankIdClient(section["base_url"], ctx, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(sim: Simulator, make_client: Callable[..., BankIdClient]) -> BankIdClient:
    return make_client(sim)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
