"""Every check of a patient's password costs exactly two Argon2 runs with the configured parameters, whatever
the state: a wrong password with or without a new password on its way, an unknown, password-less, excluded or
locked patient. Care givers' logins (no pending password) cost one run on every path. So no refusal can be told
from another by how long the program works, nor a recently sent password from none. Each login is a fresh
``per`` process (as a one-shot ``per login otp`` is), with argon2's own ``PasswordHasher`` counted from
``sitecustomize``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, Run, RunPer
from tests.helpers.world import CG_PASSWORD, World

COUNTER = """
import json, os
from argon2 import PasswordHasher

_log = os.environ["ARGON2_LOG"]
_hash, _verify = PasswordHasher.hash, PasswordHasher.verify

def _note(op, params):
    with open(_log, "a", encoding="utf-8") as out:
        out.write(json.dumps([op, params]) + "\\n")

def hash(self, password, *args, **kwargs):
    _note("hash", f"m={self.memory_cost},t={self.time_cost},p={self.parallelism}")
    return _hash(self, password, *args, **kwargs)

def verify(self, stored, password):
    _note("verify", str(stored).split("$")[3])
    return _verify(self, stored, password)

PasswordHasher.hash, PasswordHasher.verify = hash, verify
"""
CONFIGURED = "m=64,t=3,p=1"


@pytest.fixture
def counted(world: World, per_proc: RunPer, tmp_path: Path) -> tuple[World, RunPer, Path]:
    world.configure({"passwords": {"argon2_time_cost": 3, "argon2_memory_kib": 64}})
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(COUNTER, encoding="utf-8")
    log = tmp_path / "argon2.log"

    def run(*args: str, input: str | None = None) -> Run:
        log.unlink(missing_ok=True)
        return per_proc(*args, input=input, extra_env={"PYTHONPATH": str(site), "ARGON2_LOG": str(log)})

    return world, run, log


def _ops(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_each_refused_login_is_two_argon2_runs_with_the_configured_parameters(
    counted: tuple[World, RunPer, Path],
) -> None:
    world, run, log = counted
    # a wrong password for a patient whose hash was made with the configured parameters
    from per_cli.credentials.passwords import Argon2Params, hash_password

    params = Argon2Params(time_cost=3, memory_kib=64)
    digest = hash_password("rätt-lösenord-2026", params)
    world.sql("UPDATE patient_credential SET password_hash = :h, failed_logins = 0, pending_hash = NULL", h=digest)

    def login(pnr: str, password: str = "fel-lösenord") -> list[list[str]]:
        result = run("login", "otp", pnr, "--password-stdin", "--code-from-outbox", input=password + "\n")
        assert result.exit_code == 4, result.stderr
        return _ops(log)

    two_hashes = [["hash", CONFIGURED], ["hash", CONFIGURED]]
    assert login(TOLVAN) == [["hash", CONFIGURED], ["verify", CONFIGURED]]  # wrong password, none on its way
    # a new password on its way (sent, not yet used): the wrong password costs the same two runs
    world.sql("UPDATE patient_credential SET pending_hash = :h, failed_logins = 0", h=hash_password("ny-2026", params))
    assert login(TOLVAN) == [["verify", CONFIGURED], ["verify", CONFIGURED]]
    assert login(SAMORDNING) == two_hashes  # unknown patient
    locked_until = datetime.now(UTC) + timedelta(hours=1)
    world.sql("UPDATE patient_credential SET locked_until = :t", t=locked_until)
    assert login(TOLVAN, "rätt-lösenord-2026") == two_hashes  # locked
    world.sql("UPDATE patient_credential SET locked_until = NULL, failed_logins = 0")
    assert world.per("patient", "exclude", TOLVAN, "--reason", "test").exit_code == 0
    assert login(TOLVAN, "rätt-lösenord-2026") == two_hashes  # excluded
    world.sql("DELETE FROM patient_credential")
    assert login(TOLVAN) == two_hashes  # no password


def test_a_right_password_costs_the_same_two_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both hashes are always checked (the pending one wins), so a right password takes no less either."""
    from argon2 import PasswordHasher

    from per_cli.credentials.passwords import Argon2Params, hash_password
    from per_cli.credentials.pending import RUNS_PER_CHECK, matches

    params = Argon2Params(time_cost=1, memory_kib=8)
    current, pending = hash_password("gammalt", params), hash_password("nytt", params)
    runs: list[str] = []
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def counted_hash(self: PasswordHasher, password: str, **kwargs: object) -> str:
        runs.append("hash")
        return real_hash(self, password)

    def counted_verify(self: PasswordHasher, stored: str, password: str) -> bool:
        runs.append("verify")
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "hash", counted_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counted_verify)
    cases = [
        (pending, "nytt", "pending"),
        (pending, "gammalt", "current"),
        (pending, "fel", None),
        (None, "gammalt", "current"),
        (None, "fel", None),
    ]
    for waiting, typed, expected in cases:
        runs.clear()
        assert matches(current, waiting, typed, params) == expected
        assert len(runs) == RUNS_PER_CHECK == 2, (waiting, typed, runs)


def test_each_refused_proxy_login_is_one_argon2_run(counted: tuple[World, RunPer, Path]) -> None:
    world, run, log = counted
    world.add_caregiver()  # hashed with the configured parameters

    def proxy(user: str, password: str) -> list[list[str]]:
        result = run("login", "proxy", TOLVAN, "--user", user, "--password-stdin", input=password + "\n")
        assert result.exit_code == 4, result.stderr
        return _ops(log)

    assert proxy("anna.lind", "fel-lösenord-här") == [["verify", CONFIGURED]]
    assert proxy("okand.person", CG_PASSWORD) == [["hash", CONFIGURED]]
    assert world.per("caregiver", "disable", "anna.lind").exit_code == 0
    assert proxy("anna.lind", CG_PASSWORD) == [["hash", CONFIGURED]]
