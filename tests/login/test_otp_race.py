"""The same code verified twice at the same moment gives exactly one session, on both backends."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from per_cli.cli.app import App
from per_cli.config import load_config
from per_cli.errors import AuthDenied
from per_cli.login.issue import LoginResult
from per_cli.login.otp import complete_otp, start_otp
from tests.helpers.per import TOLVAN
from tests.helpers.world import PASSWORD, World


def app(world: World, actor: str) -> App:
    config = load_config(world.env["PER_CONFIG"], environ=world.env)
    return App(config=config, actor=actor, database_url=world.db_url)


def test_two_verifications_of_one_code_at_the_same_moment_give_one_session(world: World) -> None:
    starter = app(world, "starter")
    racers = [app(world, f"racer-{n}") for n in range(2)]
    try:
        for _ in range(4):
            challenge = start_otp(starter, TOLVAN, password=PASSWORD, channel="sms").challenge_id
            code = world.last_code()
            barrier = threading.Barrier(len(racers))
            outcomes: list[LoginResult | AuthDenied | BaseException] = []

            def race(
                racer: App,
                challenge: str = challenge,
                code: str = code,
                barrier: threading.Barrier = barrier,
                outcomes: list[LoginResult | AuthDenied | BaseException] = outcomes,
            ) -> None:
                barrier.wait()
                try:
                    outcomes.append(complete_otp(racer, challenge, code=code))
                except BaseException as exc:
                    outcomes.append(exc)

            threads = [threading.Thread(target=race, args=(r,)) for r in racers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert len(outcomes) == 2
            wins = [o for o in outcomes if isinstance(o, LoginResult)]
            losses = [o for o in outcomes if isinstance(o, AuthDenied)]
            assert (len(wins), len(losses)) == (1, 1), outcomes
            rows = world.sql("SELECT count(*) FROM login_session WHERE challenge_id = :c", c=challenge)
            assert rows[0][0] == 1
    finally:
        for a in (starter, *racers):
            a.close()
    reasons = world.reasons()
    assert reasons.count("code_used") == 4
    assert len([e for e in world.audit("login.otp") if e["outcome"] == "ok"]) == 4


def test_the_unique_challenge_id_is_the_backstop(world: World) -> None:
    from per_cli.credentials.sessions import SessionSettings, create_session
    from per_cli.db.models import Patient

    with Session(world.engine) as session, session.begin():
        patient = session.query(Patient).one()
        create_session(session, patient, "otp", SessionSettings(), challenge_id="c" * 32)
        with pytest.raises(IntegrityError):
            create_session(session, patient, "otp", SessionSettings(), challenge_id="c" * 32)
