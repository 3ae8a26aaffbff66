"""A session keeps the expiry it was issued with, whatever the settings of the machine that reads it later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.world import World


def test_a_session_issued_under_a_short_idle_window_stays_short_under_the_default(world: World) -> None:
    world.configure({"sessions": {"idle_minutes": 1, "absolute_hours": 1}})
    token = world.token()
    idle, created, expires = world.sql("SELECT idle_minutes, created_at, expires_at FROM login_session")[0]
    assert idle == 1 and str(expires) > str(created)
    world.configure()  # the defaults: 30 minutes idle, 12 hours absolute
    world.sql("UPDATE login_session SET last_seen_at = :t", t=datetime.now(UTC) - timedelta(minutes=2))
    shown = world.per("session", "show", token, "--format", "json")
    assert shown.exit_code == 0 and '"status": "expired"' in shown.stdout
    used = world.per("password", "change", "19121212-1212", "--session", token, "--password-stdin",
                     input="x\nett-nytt-lösen-1\nett-nytt-lösen-1\n")  # fmt: skip
    assert used.exit_code == 4 and "session denied" in used.stderr
