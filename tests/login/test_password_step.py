"""Unknown, wrong, locked, excluded and no-password look the same: message, exit code, delay schedule (counted for
a number without a password too, by a keyed hash) and the Argon2id work with the configured parameters."""

from __future__ import annotations

from tests.helpers.per import TOLVAN, enrol_args
from tests.helpers.world import DENIED, PASSWORD, World

UNKNOWN = "198112289874"
NO_PASSWORD = "200001012384"
EXCLUDED = "197010632391"


def _try(world: World, pnr: str, password: str = "not-the-password") -> tuple[int, str]:
    result = world.per("login", "otp", pnr, "--password-stdin", "--send-only", input=password + "\n")
    return result.exit_code, result.stderr.strip().splitlines()[-1]


def test_every_case_follows_the_same_slow_down_schedule(world: World) -> None:
    assert world.per(*enrol_args(NO_PASSWORD)).exit_code == 0
    assert world.per(*enrol_args(EXCLUDED)).exit_code == 0
    world.set_password(EXCLUDED)
    assert world.per("patient", "exclude", EXCLUDED, "--reason", "test").exit_code == 0
    world.configure({"login": {"slow_after": 2, "delay_ms": 20_000, "lock_after": 100}})
    cases = {TOLVAN: "not-the-password", UNKNOWN: PASSWORD, NO_PASSWORD: PASSWORD, EXCLUDED: PASSWORD}
    for pnr, password in cases.items():
        assert _try(world, pnr, password) == (4, DENIED), pnr
        assert _try(world, pnr, password) == (4, DENIED), pnr
        code, line = _try(world, pnr, password)
        assert code == 4 and line in (
            "Error: login denied: too many failed attempts; try again in 20 s",
            "Error: login denied: too many failed attempts; try again in 19 s",
        ), pnr
    throttled = world.sql("SELECT key_hash, failed_logins, not_before FROM login_throttle ORDER BY key_hash")
    assert len(throttled) == 2 and all(row[1] == 2 and row[2] is not None for row in throttled)
    for key_hash, *_ in throttled:  # a keyed hash: neither the number nor its plain digest
        assert len(key_hash) == 64 and UNKNOWN not in key_hash and NO_PASSWORD not in key_hash
    assert world.sql("SELECT failed_logins FROM patient_credential ORDER BY patient_id") == [(2,), (2,)]
    reasons = world.reasons()
    assert reasons.count("too_soon") == 4
    assert [r for r in reasons if r != "too_soon"] == ["wrong_password"] * 2 + ["unknown_patient"] * 2 + [
        "no_password"
    ] * 2 + ["excluded"] * 2
    assert world.messages() == []


def test_an_unknown_number_locks_like_an_account(world: World) -> None:
    world.configure({"login": {"lock_after": 2, "delay_ms": 0}})
    for _ in range(3):
        assert _try(world, UNKNOWN) == (4, DENIED)
    last = world.audit("login.otp")[-1]["details"]
    assert last["reason"] == "unknown_patient" and last["locked"] is True
    assert world.sql("SELECT failed_logins FROM login_throttle") == [(2,)]  # the locked try was not counted


def test_care_givers_and_unknown_user_names_are_counted_before_compared_too(world: World) -> None:
    world.add_caregiver()
    world.configure({"login": {"slow_after": 1, "delay_ms": 20_000}})
    for user in ("anna.lind", "ingen.alls"):
        first = world.proxy(user=user, password="fel-lösen")
        assert first.exit_code == 4 and first.stderr.startswith("Error: proxy login denied: wrong user name"), user
        second = world.proxy(user=user)  # the right password for anna.lind, but too soon: not compared
        assert second.exit_code == 4 and "try again in" in second.stderr, user
    assert world.sql("SELECT failed_logins FROM caregiver") == [(1,)]
    assert world.sql("SELECT failed_logins FROM login_throttle") == [(1,)]
    assert world.reasons("login.proxy") == ["wrong_password", "too_soon", "unknown_caregiver", "too_soon"]
