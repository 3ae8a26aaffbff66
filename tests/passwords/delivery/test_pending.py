"""Pending passwords and what a staff-sent password ends.

A sent password is stored as pending before it leaves: the old and the pending one both log in until one is
used; a login with the pending one retires the old; a send that surely failed puts back what was pending.
"""

from __future__ import annotations

import json

import pytest

from per_cli.credentials.passwords import verify_password
from tests.helpers.per import TOLVAN
from tests.helpers.world import PASSWORD, World


def test_old_and_pending_both_log_in_and_the_pending_one_retires_the_old(world: World) -> None:
    assert world.send(TOLVAN, "--email").exit_code == 0
    new = world.password_in([m for m in world.messages() if m["channel"] == "email"][-1])
    credential = world.credential()
    assert verify_password(credential.password_hash, PASSWORD) and verify_password(credential.pending_hash, new)
    assert world.login(TOLVAN, PASSWORD).exit_code == 0  # the old one still works: the message may be late
    assert world.credential().pending_hash is not None  # … and leaves the pending one alone
    assert world.login(TOLVAN, new).exit_code == 0
    promoted = world.credential()
    assert verify_password(promoted.password_hash, new) and promoted.pending_hash is None
    assert world.login(TOLVAN, PASSWORD).exit_code == 4  # the old one is retired


@pytest.mark.parametrize("sms_mode", ["refused"])
def test_a_send_that_surely_failed_puts_back_the_pending_password_before_it(
    world: World, closed_port: int, sms_mode: str
) -> None:
    assert world.send(TOLVAN, "--sms").exit_code == 0
    first = world.password_in(world.messages()[-1])
    world.configure(sms=f"elks://user:pw@127.0.0.1:{closed_port}?tls=off")
    result = world.send(TOLVAN, "--sms")
    assert result.exit_code == 1 and "the old one still works" in result.stderr
    credential = world.credential()
    assert verify_password(credential.pending_hash, first) and verify_password(credential.password_hash, PASSWORD)
    assert [d.status for d in world.deliveries()] == ["sent", "failed"]


def test_a_sent_password_ends_sessions_and_codes_and_clears_the_lock(world: World) -> None:
    token = world.token()
    challenge = world.send_only()
    world.sql("UPDATE patient_credential SET failed_logins = 7, locked_until = :t", t="2999-01-01 00:00:00.000000")
    assert world.send(TOLVAN, "--email").exit_code == 0
    assert world.per("session", "show", "--session", token).exit_code != 0  # the session ended
    completed = world.per("login", "otp", "--challenge", challenge, "--code", world.last_code(), "--format", "json")
    assert completed.exit_code == 4  # the code sent before the new password no longer opens a session
    credential = world.credential()
    assert credential.failed_logins == 0 and credential.locked_until is None
    [event] = world.audit("password.send")
    assert event["details"]["sessions_ended"] == 1 and event["details"]["challenges_ended"] == 1
    assert json.dumps(event["details"]).count(PASSWORD) == 0
