"""``per password change PNR --session TOKEN``: the patient's own change ("Min profil")."""

from __future__ import annotations

import json

from tests.helpers.per import TOLVAN
from tests.helpers.world import PASSWORD, World

NEW = "Tolvans-egna-nya-lösen"


def change(
    world: World, token: str, old: str = PASSWORD, new: str = NEW, again: str | None = None, pnr: str = TOLVAN
) -> tuple[int, str, str]:
    result = world.per(
        "password",
        "change",
        pnr,
        "--session",
        token,
        "--password-stdin",
        "--format",
        "json",
        input=f"{old}\n{new}\n{again or new}\n",
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_patient_changes_the_sent_password(world: World) -> None:
    other = world.token()
    token = world.token()
    code, out, err = change(world, token, pnr="1212121212")
    assert code == 0, err
    assert json.loads(out) | {"changed_at": None} == {
        "patient": "19121212-1212",
        "changed_at": None,
        "must_change_password": False,
        "sessions_ended": 1,
    }
    assert "1 other session(s) ended" in err
    assert json.loads(world.per("session", "show", other, "--format", "json").stdout)["status"] == "revoked"
    assert json.loads(world.per("session", "show", token, "--format", "json").stdout)["status"] == "active"
    assert world.per("login", "otp", TOLVAN, "--password-stdin", "--send-only", input=PASSWORD + "\n").exit_code == 4
    login = world.login(TOLVAN, NEW)
    assert login.exit_code == 0 and json.loads(login.stdout)["must_change_password"] is False
    (event,) = world.audit("password.change")
    assert event["outcome"] == "ok" and event["details"]["sessions_ended"] == 1
    assert PASSWORD not in json.dumps(event) and NEW not in json.dumps(event)


def test_new_password_rules_refuse_before_anything_changes(world: World) -> None:
    token = world.token()
    for new, message in (
        ("kort1", "at least 8"),
        ("sommar2024", "common passwords"),
        (PASSWORD, "differ from the old"),
        ("19121212-1212", "personnummer"),
    ):
        code, _, err = change(world, token, new=new)
        assert (code, message in err) == (1, True), (new, err)
    assert change(world, token, again="something-else")[0] == 2
    world.configure({"passwords": {"min_length_patient": 30}})
    assert change(world, token)[0] == 1
    assert world.audit("password.change") == []
    assert world.login().exit_code == 0  # the old password still works


def test_refusals(world: World) -> None:
    token = world.token()
    code, _, err = change(world, token, old="not-the-old-one")
    assert code == 4 and "old password is wrong" in err
    assert world.sql("SELECT failed_logins FROM patient_credential")[0][0] == 1
    code, _, err = change(world, "not-a-session")
    assert code == 4 and "session denied" in err
    world.add_caregiver()
    proxied = world.proxy_token()
    code, _, err = change(world, proxied)
    assert code == 4 and "proxy session cannot" in err
    assert (
        world.per(
            "patient", "enrol", "198001011231", "--first-name", "Anna", "--last-name", "Andersson", "--unit", "NEURO-SU"
        ).exit_code
        == 0
    )
    assert change(world, token, pnr="198001011231")[0] == 4
    assert world.per("session", "revoke", token).exit_code == 0
    assert change(world, token)[0] == 4
    assert world.reasons("password.change") == [
        "wrong_password",
        "unknown_session",
        "proxy_session",
        "session_other_patient",
        "session_revoked",
    ]


def test_the_session_from_the_environment_and_the_prompts(world: World) -> None:
    token = world.token()
    result = world.per(
        "password", "change", TOLVAN, input=f"{PASSWORD}\n{NEW}\n{NEW}\n", extra_env={"PER_SESSION": token}
    )
    assert result.exit_code == 0, result.stderr
    assert world.login(TOLVAN, NEW).exit_code == 0
