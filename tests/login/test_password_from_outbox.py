"""``per login otp --password-from-outbox``: the sent password read back from the file:// outbox (CI), refused
with any other transport, the newest message winning, never shown."""

from __future__ import annotations

import json

from tests.helpers.per import TOLVAN
from tests.helpers.world import World


def _login(world: World, *args: str) -> tuple[int, str, str]:
    result = world.per(
        "login", "otp", TOLVAN, "--password-from-outbox", *args, "--code-from-outbox", "--format", "json"
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_password_sent_by_sms_logs_in_without_being_shown(world: World) -> None:
    assert world.send(TOLVAN, "--sms").exit_code == 0
    sent = [m for m in world.messages() if "PER:" in m["body"]]
    password = world.password_in(sent[-1])
    code, out, err = _login(world, "--channel", "sms")
    assert code == 0, err
    assert json.loads(out)["method"] == "otp"
    assert password not in out + err
    dump = json.dumps(world.sql("SELECT details FROM audit_event"), default=str)
    assert password not in dump


def test_the_newest_password_wins_on_any_channel(world: World) -> None:
    assert world.send(TOLVAN, "--sms").exit_code == 0
    assert world.send(TOLVAN, "--email").exit_code == 0  # replaces the SMS one
    code, _, err = _login(world)  # both channels looked at; the e-mail is newer
    assert code == 0, err
    code, _, err = _login(world, "--channel", "email")
    assert code == 0, err
    code, _, err = _login(world, "--channel", "sms")  # the old SMS password no longer works
    assert code == 4, err


def test_a_registrys_own_text_and_english(world: World) -> None:
    world.configure({"messages": {"language": "en", "password_sms": "Lösenord {{PER}}: {password} /Neuroreg"}})
    assert world.send(TOLVAN, "--sms").exit_code == 0
    code, _, err = _login(world, "--channel", "sms")
    assert code == 0, err


def test_refused_with_any_other_transport_and_nothing_sent(world: World) -> None:
    assert world.send(TOLVAN, "--sms").exit_code == 0
    before = len(world.messages())
    world.configure(sms="console://")
    code, out, err = _login(world, "--channel", "sms")
    assert code == 1 and out == ""
    assert "--password-from-outbox" in err or "--code-from-outbox" in err
    assert "needs the file:// transport" in err
    assert len(world.messages()) == before
    assert world.sql("SELECT id FROM otp_challenge") == []


def test_no_password_message_says_what_to_do(world: World) -> None:
    code, out, err = _login(world, "--channel", "sms")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "Error: --password-from-outbox: no password message to this patient in the outbox (sms); "
        "send one first with `per password send PNR --sms`"
    ]


def test_usage_errors(world: World) -> None:
    both = world.per("login", "otp", TOLVAN, "--password-stdin", "--password-from-outbox", input="x\n")
    assert both.exit_code == 2 and "exclude each other" in both.stderr
    step2 = world.per("login", "otp", "--challenge", "b" * 32, "--password-from-outbox")
    assert step2.exit_code == 2 and "--password-from-outbox belongs to step 1" in step2.stderr
