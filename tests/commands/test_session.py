"""``per session show | list | revoke``."""

from __future__ import annotations

import json
from datetime import datetime

from tests.helpers.per import TOLVAN
from tests.helpers.world import World


def test_show_list_and_revoke(world: World) -> None:
    world.configure({"sessions": {"idle_minutes": 5}})
    own = world.token()
    world.add_caregiver()
    proxied = world.proxy_token()

    shown = world.per("session", "show", proxied, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert {k: record[k] for k in ("patient", "name", "unit", "method", "proxy_by", "status")} == {
        "patient": "19121212-1212",
        "name": "Tolvan Tolvansson",
        "unit": "NEURO-SU",
        "method": "proxy",
        "proxy_by": "anna.lind",
        "status": "active",
    }
    since, expires = (datetime.fromisoformat(record[k]) for k in ("since", "expires_at"))
    assert (expires - since).total_seconds() == 5 * 60  # the idle end, from [sessions] idle_minutes
    assert "token" not in record and proxied not in shown.stdout

    listed = world.per("session", "list", "--patient", "1212121212", "--format", "json")
    assert [r["method"] for r in json.loads(listed.stdout)] == ["proxy", "otp"]
    table = world.per("session", "list")
    assert "anna.lind" in table.stdout and own not in table.stdout

    revoked = world.per("session", "revoke", "-", input=own + "\n", extra_env={})
    assert revoked.exit_code == 0 and "Ended 1 session(s)." in revoked.stderr
    assert world.per("session", "revoke", own).stderr.strip() == "Nothing to end: no active session."
    assert [r["method"] for r in json.loads(world.per("session", "list", "--format", "json").stdout)] == ["proxy"]
    every = json.loads(world.per("session", "list", "--all", "--format", "json").stdout)
    assert [(r["method"], r["status"]) for r in every] == [("proxy", "active"), ("otp", "revoked")]

    by_id = world.per("session", "revoke", "--id", str(every[0]["id"]), "--format", "json")
    assert json.loads(by_id.stdout)[0]["status"] == "revoked"
    assert world.per("session", "list", "--format", "json").stdout.strip() == "[]"
    actions = [e["details"]["session_id"] for e in world.audit("session.revoke")]
    assert actions == [every[1]["id"], every[0]["id"]]
    assert world.audit("session.show")[0]["patient_id"] is not None


def test_revoke_every_session_of_a_patient(world: World) -> None:
    tokens = [world.token() for _ in range(2)]
    result = world.per("session", "revoke", "--patient", TOLVAN, "--format", "json")
    assert result.exit_code == 0
    assert [r["status"] for r in json.loads(result.stdout)] == ["revoked", "revoked"]
    for token in tokens:
        assert json.loads(world.per("session", "show", token, "--format", "json").stdout)["status"] == "revoked"


def test_errors(world: World) -> None:
    assert world.per("session", "show", "no-such-token").exit_code == 1
    assert world.per("session", "revoke").exit_code == 2
    assert world.per("session", "revoke", "tok", "--patient", TOLVAN).exit_code == 2
    assert world.per("session", "revoke", "--id", "999").exit_code == 1
    assert world.per("session", "show", "-", input="").exit_code == 2
