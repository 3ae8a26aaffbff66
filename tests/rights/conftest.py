"""Fixtures for the patients' rights tests: a patient with a row in every table that can hold their data, and
a bystander who must come out of every erasure untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.per import SAMORDNING, TOLVAN
from tests.helpers.world import CG_PASSWORD, World

EQ = "1,2,3,1,1,85"
EQ_SCORES = {"profile": "12311", "vas": 85}


@pytest.fixture(autouse=True)
def _isolated(isolated_scales: None) -> None:
    """``tests.helpers.scales.isolated_scales`` for every test here (registrations read the catalogue)."""


@dataclass
class Full:
    world: World
    tolvan_id: int
    bystander_id: int
    registration_id: int


def _register(world: World, pnr: str, *extra: str) -> int:
    started = world.per("registration", "new", pnr, "--scales", "EQ-5D-5L,MSWS-12", "--format", "json", *extra)
    assert started.exit_code == 0, started.stderr
    registration_id = int(json.loads(started.stdout)["registration_id"])
    answered = world.per("registration", "answer", str(registration_id), "--scale", "EQ-5D-5L", "--answers", EQ)
    assert answered.exit_code == 0, answered.stderr
    return registration_id


@pytest.fixture
def full(world: World) -> Iterator[Full]:
    """Tolvan with a password sent by SMS and e-mail, a one-time-code login, a care giver's proxy login, a
    registration with answers and scores; the bystander (a samordningsnummer) with a registration of their own."""
    sent = world.send(TOLVAN, "--sms", "--email")
    assert sent.exit_code == 0, sent.stderr
    password = world.password_in(world.messages()[-1])
    token = world.token(TOLVAN, password)
    world.add_caregiver()
    assert world.proxy(password=CG_PASSWORD).exit_code == 0
    registration_id = _register(world, TOLVAN, "--session", token)
    world.enrol(SAMORDNING, mobile=None, email="other@example.se")
    _register(world, SAMORDNING)
    ids = dict(world.sql("SELECT personnummer, id FROM patient"))
    yield Full(world, ids[TOLVAN], ids[SAMORDNING], registration_id)


def rows_of(world: World, patient_id: int) -> dict[str, int]:
    """How many rows of each table hold this patient's data (the access log counted apart)."""
    pid = {"p": patient_id}
    counts = {
        "patient": "SELECT count(*) FROM patient WHERE id = :p",
        "patient_credential": "SELECT count(*) FROM patient_credential WHERE patient_id = :p",
        "password_delivery": "SELECT count(*) FROM password_delivery WHERE patient_id = :p",
        "otp_challenge": "SELECT count(*) FROM otp_challenge WHERE patient_id = :p",
        "otp_send": "SELECT count(*) FROM otp_send WHERE patient_id = :p",
        "campaign_target": "SELECT count(*) FROM campaign_target WHERE patient_id = :p",
        "login_session": "SELECT count(*) FROM login_session WHERE patient_id = :p",
        "registration": "SELECT count(*) FROM registration WHERE patient_id = :p",
        "registration_part": "SELECT count(*) FROM registration_part WHERE registration_id IN "
        "(SELECT id FROM registration WHERE patient_id = :p)",
        "audit_event": "SELECT count(*) FROM audit_event WHERE patient_id = :p",
    }
    return {table: int(world.sql(sql, **pid)[0][0]) for table, sql in counts.items()}
