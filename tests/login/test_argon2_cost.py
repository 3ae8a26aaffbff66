"""Every refusal of a password login costs exactly one Argon2 run with the configured parameters (#14 pt 3):
an unknown, password-less, excluded or locked patient, an unknown or disabled care giver and a wrong password
cannot be told apart by how long the program works. Each login is a fresh ``per`` process (as a one-shot
``per login otp`` is), with argon2's own ``PasswordHasher`` counted from ``sitecustomize``."""

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


def test_each_refused_login_is_one_argon2_run_with_the_configured_parameters(
    counted: tuple[World, RunPer, Path],
) -> None:
    world, run, log = counted
    # a wrong password for a patient whose hash was made with the configured parameters
    from per_cli.credentials.passwords import Argon2Params, hash_password

    digest = hash_password("rätt-lösenord-2026", Argon2Params(time_cost=3, memory_kib=64))
    world.sql("UPDATE patient_credential SET password_hash = :h, failed_logins = 0", h=digest)

    def login(pnr: str, password: str = "fel-lösenord") -> list[list[str]]:
        result = run("login", "otp", pnr, "--password-stdin", "--code-from-outbox", input=password + "\n")
        assert result.exit_code == 4, result.stderr
        return _ops(log)

    assert login(TOLVAN) == [["verify", CONFIGURED]]  # wrong password: one verify
    assert login(SAMORDNING) == [["hash", CONFIGURED]]  # unknown patient
    locked_until = datetime.now(UTC) + timedelta(hours=1)
    world.sql("UPDATE patient_credential SET locked_until = :t", t=locked_until)
    assert login(TOLVAN, "rätt-lösenord-2026") == [["hash", CONFIGURED]]  # locked
    world.sql("UPDATE patient_credential SET locked_until = NULL, failed_logins = 0")
    assert world.per("patient", "exclude", TOLVAN, "--reason", "test").exit_code == 0
    assert login(TOLVAN, "rätt-lösenord-2026") == [["hash", CONFIGURED]]  # excluded
    world.sql("DELETE FROM patient_credential")
    assert login(TOLVAN) == [["hash", CONFIGURED]]  # no password


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
