"""Why a patient can't log in: `patient show` has the login status; `patient unlock` and `patient include`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers.per import TOLVAN, RunPer
from tests.helpers.world import DENIED, EMAIL, MOBILE, World


def _show(world: World) -> dict[str, Any]:
    result = world.per("patient", "show", TOLVAN, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


LOGIN_KEYS = (
    "password_set",
    "must_change_password",
    "failed_logins",
    "locked_until",
    "last_login_at",
    "last_login_method",
    "open_sessions",
)


def test_a_patient_without_a_password(per: RunPer, tolvan: str) -> None:
    shown = json.loads(per("patient", "show", tolvan, "--format", "json").stdout)
    assert {k: shown[k] for k in LOGIN_KEYS} == {
        "password_set": False,
        "must_change_password": None,
        "failed_logins": 0,
        "locked_until": None,
        "last_login_at": None,
        "last_login_method": None,
        "open_sessions": 0,
    }
    assert (shown["password_set_at"], shown["password_sent_at"], shown["password_sent_to"]) == (None, None, None)


def test_sent_password_failed_tries_lock_and_unlock(world: World) -> None:
    world.configure({"login": {"lock_after": 3, "lock_minutes": 15}})
    assert world.send(TOLVAN, "--sms", "--email").exit_code == 0
    password = world.password_in(world.messages()[-1])
    shown = _show(world)
    assert (shown["password_set"], shown["must_change_password"]) == (True, True)
    assert shown["password_sent_to"] == f"{EMAIL}, {MOBILE}" and shown["password_sent_at"]
    for _ in range(3):
        assert world.login(TOLVAN, "fel-lösenord-123").stderr.splitlines()[-1] == DENIED
    assert world.login(TOLVAN, password).exit_code == 4  # the right password, but locked
    shown = _show(world)
    failed = shown["failed_logins"]
    assert failed >= 3
    locked_until = datetime.fromisoformat(shown["locked_until"])
    assert timedelta(minutes=14) < locked_until - datetime.now(UTC) <= timedelta(minutes=15)

    unlocked = world.per("patient", "unlock", "1212121212", "--format", "json")
    assert unlocked.exit_code == 0
    assert json.loads(unlocked.stdout) == {
        "personnummer": "19121212-1212",
        "failed_logins_cleared": failed,
        "was_locked_until": shown["locked_until"],
    }
    assert unlocked.stderr == (
        f"Unlocked 19121212-1212 (was locked until {locked_until.astimezone():%Y-%m-%d %H:%M}, "
        f"{failed} failed tries).\n"
    )
    assert (_show(world)["failed_logins"], _show(world)["locked_until"]) == (0, None)
    [event] = world.audit("patient.unlock")
    assert (event["unit"], event["details"]) == ("NEURO-SU", {"failed_logins": failed, "was_locked": True})

    assert world.login(TOLVAN, password).exit_code == 0
    shown = _show(world)
    assert shown["last_login_method"] == "otp" and shown["open_sessions"] == 1
    assert datetime.now(UTC) - datetime.fromisoformat(shown["last_login_at"]) < timedelta(minutes=5)


def test_unlock_says_what_there_was(world: World) -> None:
    assert world.per("patient", "unlock", TOLVAN).stderr == (
        "19121212-1212 was not locked and had no failed tries: nothing to do.\n"
    )
    world.login(TOLVAN, "fel-lösenord-123")
    assert (
        world.per("patient", "unlock", TOLVAN).stderr == "Cleared 1 failed tries of 19121212-1212; it was not locked.\n"
    )
    assert [e["details"] for e in world.audit("patient.unlock")] == [
        {"failed_logins": 0, "was_locked": False},
        {"failed_logins": 1, "was_locked": False},
    ]
    missing = world.per("patient", "unlock", "19800101-0019")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "Error: personnummer: no patient with this personnummer is enrolled\n",
    )


def test_open_sessions_count_only_usable_ones(world: World) -> None:
    world.add_caregiver()
    world.proxy_token()
    token = world.token()
    shown = _show(world)
    assert (shown["open_sessions"], shown["last_login_method"]) == (2, "otp")
    assert world.per("session", "revoke", token).exit_code == 0
    assert _show(world)["open_sessions"] == 1
    world.sql("UPDATE login_session SET last_seen_at = :t", t=datetime.now(UTC) - timedelta(hours=1))
    assert _show(world)["open_sessions"] == 0  # idle longer than [sessions] idle_minutes


def test_include_undoes_an_exclusion(today: str, per: RunPer, tolvan: str) -> None:
    assert per("patient", "exclude", tolvan, "--reason", "Avböjer").exit_code == 0
    result = per("patient", "include", "1212121212", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"Included 19121212-1212 again (was excluded on {today}).\n"
    record = json.loads(result.stdout)
    assert (record["excluded_on"], record["exclusion_reason"]) == (None, None)
    events = json.loads(per("audit", "list", "--action", "patient.include", "--format", "json").stdout)
    assert [(e["personnummer"], e["details"]) for e in events] == [("19121212-1212", {"excluded_on": today})]
    again = per("patient", "include", tolvan)
    assert (again.exit_code, again.stdout, again.stderr) == (
        1,
        "",
        "Error: personnummer: this patient is not excluded: nothing to undo\n",
    )
