"""``[otp] max_sends`` codes per patient per ``[otp] send_window_minutes``: beyond, exit 4 and nothing is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.per import TOLVAN
from tests.helpers.world import PASSWORD, World


def _send(world: World) -> tuple[int, str]:
    result = world.per("login", "otp", TOLVAN, "--password-stdin", "--send-only", input=PASSWORD + "\n")
    return result.exit_code, result.stderr


def test_the_sixth_code_in_the_window_is_refused_and_nothing_is_sent(world: World) -> None:
    for _ in range(5):
        assert _send(world)[0] == 0
    sent = len(world.messages())
    exit_code, err = _send(world)
    assert exit_code == 4
    assert err == "Error: login denied: too many one-time codes were sent; a new code can be sent in 15 min\n"
    assert len(world.messages()) == sent and world.sql("SELECT count(*) FROM otp_challenge")[0][0] == 5
    event = world.audit("login.otp")[-1]
    assert event["outcome"] == "denied" and event["details"]["reason"] == "too_many_codes"
    assert event["details"]["max_sends"] == 5 and event["details"]["window_minutes"] == 15
    assert world.credential().failed_logins == 0  # a capped send is no failed login
    # the window slides: once the oldest send is older than the window, one more may go
    world.sql("UPDATE otp_send SET sent_at = :t WHERE id = (SELECT min(id) FROM otp_send)",
              t=datetime.now(UTC) - timedelta(minutes=16))  # fmt: skip
    assert _send(world)[0] == 0
    assert _send(world)[0] == 4


def test_the_cap_is_configurable(world: World) -> None:
    world.configure({"otp": {"max_sends": 1, "send_window_minutes": 60}})
    assert _send(world)[0] == 0
    exit_code, err = _send(world)
    assert exit_code == 4 and "a new code can be sent in 60 min" in err
    world.configure({"otp": {"max_sends": 0}})
    exit_code, err = _send(world)
    assert exit_code == 1 and "[otp] max_sends: must be between 1 and 100" in err
