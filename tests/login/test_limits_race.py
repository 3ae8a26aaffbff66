"""The limits hold in parallel: 40 `per` processes at once, on SQLite and on PostgreSQL, compare at most
``max_attempts`` codes per challenge and at most ``lock_after`` passwords before the account locks; every
compared try keeps its audit event, every other one is refused without comparing."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers.per import PER, TOLVAN
from tests.helpers.world import DENIED, World

pytestmark = pytest.mark.slow

RACERS = 40


def _race(env: dict[str, str], args: list[str], stdin: str | None) -> list[tuple[int, str]]:
    procs = [
        subprocess.Popen(
            [PER, *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            text=True,
        )
        for _ in range(RACERS)
    ]
    results = []
    for proc in procs:
        _, err = proc.communicate(input=stdin, timeout=600)
        results.append((proc.returncode, err))
    return results


def _slow_writers(world: World, login: dict[str, int]) -> None:
    # 40 SQLite writers queue on one lock: on a loaded machine the last may wait longer than the default 15 s
    world.configure({"database": {"busy_timeout_ms": 300_000}, "login": {"delay_ms": 0, **login}})


def test_forty_parallel_wrong_codes_compare_at_most_max_attempts(world: World, env: dict[str, str]) -> None:
    _slow_writers(world, {"lock_after": 100})
    challenge = world.send_only()
    code = world.last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = _race(env, ["login", "otp", "--challenge", challenge, "--code", wrong], None)
    for exit_code, err in results:
        assert exit_code == 4 and "Traceback" not in err, err
        assert err.startswith("Error: login denied: "), err
    reasons = world.reasons()
    assert reasons.count("wrong_code") == 5  # [otp] max_attempts: each compared code has its event
    assert reasons.count("too_many_attempts") == RACERS - 5
    assert world.sql("SELECT attempts FROM otp_challenge WHERE id = :c", c=challenge)[0][0] == 5
    assert world.credential().failed_logins == 5


def test_forty_parallel_wrong_passwords_compare_at_most_lock_after(world: World, env: dict[str, str]) -> None:
    _slow_writers(world, {"lock_after": 10})
    args = ["login", "otp", TOLVAN, "--password-stdin", "--send-only"]
    results = _race(env, args, "not-the-password\n")
    for exit_code, err in results:
        assert (exit_code, err.strip().splitlines()[-1]) == (4, DENIED), err
    reasons = world.reasons()
    assert reasons.count("wrong_password") == 10  # [login] lock_after: each compared password has its event
    assert reasons.count("locked") == RACERS - 10
    credential = world.credential()
    assert credential.failed_logins == 10 and credential.locked_until is not None
    assert world.messages() == []
