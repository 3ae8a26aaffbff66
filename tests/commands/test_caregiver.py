"""``per caregiver add | set-password | disable | enable | list``."""

from __future__ import annotations

import json

from tests.helpers.per import RunPer
from tests.helpers.world import CAREGIVER, CG_PASSWORD, World


def proxy(world: World, password: str = CG_PASSWORD, user: str = CAREGIVER) -> int:
    return world.proxy(user=user, password=password).exit_code


def test_add_stores_an_argon2id_hash_and_lists(world: World) -> None:
    added = world.per(
        "caregiver",
        "add",
        "Anna.Lind",
        "--unit",
        "neuro-su",
        "--name",
        "Anna Lind",
        "--password-stdin",
        "--format",
        "json",
        input=CG_PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout) | {"created_at": None} == {
        "username": "anna.lind",
        "name": "Anna Lind",
        "unit": "NEURO-SU",
        "active": True,
        "locked_until": None,
        "created_at": None,
    }
    (digest,) = world.sql("SELECT password_hash FROM caregiver")[0]
    assert digest.startswith("$argon2id$") and CG_PASSWORD not in digest
    assert world.audit("caregiver.add")[0]["details"] == {"caregiver": "anna.lind"}
    assert world.per("unit", "add", "NEURO-KS", "--name", "Karolinska").exit_code == 0
    assert (
        world.per(
            "caregiver", "add", "bo.ek", "--unit", "NEURO-KS", "--password-stdin", input=CG_PASSWORD + "\n"
        ).exit_code
        == 0
    )
    listed = json.loads(world.per("caregiver", "list", "--format", "json").stdout)
    assert [(r["username"], r["unit"]) for r in listed] == [("anna.lind", "NEURO-SU"), ("bo.ek", "NEURO-KS")]
    only = json.loads(world.per("caregiver", "list", "--unit", "NEURO-KS", "--format", "json").stdout)
    assert [r["username"] for r in only] == ["bo.ek"]
    assert proxy(world) == 0


def test_password_rules_and_other_refusals(world: World) -> None:
    def add(user: str, password: str, unit: str = "NEURO-SU") -> tuple[int, str]:
        result = world.per("caregiver", "add", user, "--unit", unit, "--password-stdin", input=password + "\n")
        return result.exit_code, result.stderr

    assert add("anna.lind", "kort-lösen") == (1, "Error: password: must have at least 12 characters\n")
    code, err = add("anna.lind", "Qwertyuiop123")
    assert code == 1 and "common passwords" in err
    code, err = add("anna.lind.sahlgrenska", "Anna.Lind.Sahlgrenska")
    assert code == 1 and "user name" in err
    assert add("anna lind", CG_PASSWORD)[0] == 1
    assert add("anna.lind", CG_PASSWORD, unit="NOPE")[0] == 1
    assert add("anna.lind", CG_PASSWORD) == (0, "Added care giver anna.lind at NEURO-SU.\n")
    code, err = add("ANNA.LIND", CG_PASSWORD)
    assert code == 1 and "already exists" in err
    assert (
        world.per(
            "caregiver",
            "add",
            "x.y",
            "--unit",
            "NEURO-SU",
            "--password-stdin",
            "--generate-password",
            input=CG_PASSWORD + "\n",
        ).exit_code
        == 2
    )
    assert world.per("caregiver", "disable", "nobody").exit_code == 1
    world.configure({"passwords": {"min_length_caregiver": 30}})
    assert add("bo.ek", CG_PASSWORD)[0] == 1


def test_a_generated_password_is_shown_once_and_works(world: World) -> None:
    result = world.per("caregiver", "add", "anna.lind", "--unit", "NEURO-SU", "--generate-password", "--format", "json")
    assert result.exit_code == 0, result.stderr
    password = json.loads(result.stdout)["password"]
    assert len(password) >= 16 and "shown only this once" in result.stderr
    assert "password" not in json.loads(world.per("caregiver", "list", "--format", "json").stdout)[0]
    assert proxy(world, password) == 0


def test_set_password_disable_enable(world: World) -> None:
    world.add_caregiver()
    token = world.proxy_token()
    disabled = world.per("caregiver", "disable", "anna.lind", "--format", "json")
    assert json.loads(disabled.stdout)["active"] is False and "1 proxy session(s) ended" in disabled.stderr
    assert json.loads(world.per("session", "show", token, "--format", "json").stdout)["status"] == "revoked"
    assert proxy(world) == 4
    assert world.per("caregiver", "enable", "anna.lind").exit_code == 0
    assert proxy(world) == 0
    new = "ett-helt-nytt-lösenord"
    assert world.per("caregiver", "set-password", "anna.lind", "--password-stdin", input=new + "\n").exit_code == 0
    assert proxy(world) == 4 and proxy(world, new) == 0
    assert [e["details"] for e in world.audit("caregiver.disable")] == [{"caregiver": "anna.lind", "sessions_ended": 1}]
    assert len(world.audit("caregiver.enable")) == 1 and len(world.audit("caregiver.set_password")) == 1


def test_the_prompt_asks_twice(world: World, per: RunPer) -> None:
    mismatch = per("caregiver", "add", "anna.lind", "--unit", "NEURO-SU", input=f"{CG_PASSWORD}\nsomething-else\n")
    assert mismatch.exit_code != 0
    ok = per("caregiver", "add", "anna.lind", "--unit", "NEURO-SU", input=f"{CG_PASSWORD}\n{CG_PASSWORD}\n")
    assert ok.exit_code == 0, ok.stderr
    assert proxy(world) == 0
